#include "ml/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <numeric>

namespace edgefleet::ml {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double Ratio(std::uint64_t num, std::uint64_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace

double RocAuc(std::span<const float> scores, std::span<const std::uint8_t> labels) {
  if (scores.size() != labels.size()) return kNaN;
  if (std::any_of(scores.begin(), scores.end(), [](float s) { return std::isnan(s); })) return kNaN;
  const std::size_t n = scores.size();
  const auto positives = static_cast<std::size_t>(
      std::count_if(labels.begin(), labels.end(), [](std::uint8_t l) { return l != 0; }));
  const std::size_t negatives = n - positives;
  if (positives == 0 || negatives == 0) return kNaN;

  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });

  // Sum of the positives' 1-based ranks, a run of ties sharing its mean rank.
  double positive_rank_sum = 0.0;
  for (std::size_t begin = 0; begin < n;) {
    std::size_t end = begin + 1;
    while (end < n && scores[order[end]] == scores[order[begin]]) ++end;
    const double mean_rank = 0.5 * static_cast<double>(begin + 1 + end);
    for (std::size_t i = begin; i < end; ++i) {
      if (labels[order[i]] != 0) positive_rank_sum += mean_rank;
    }
    begin = end;
  }
  const double p = static_cast<double>(positives);
  const double u = positive_rank_sum - p * (p + 1.0) / 2.0;
  return u / (p * static_cast<double>(negatives));
}

double BinaryCounts::precision() const { return Ratio(tp, tp + fp); }
double BinaryCounts::recall() const { return Ratio(tp, tp + fn); }
double BinaryCounts::accuracy() const { return Ratio(tp + tn, tp + tn + fp + fn); }

double BinaryCounts::f1() const {
  const double p = precision();
  const double r = recall();
  return p + r == 0.0 ? 0.0 : 2.0 * p * r / (p + r);
}

BinaryCounts CountBinary(std::span<const std::uint8_t> predicted,
                         std::span<const std::uint8_t> labels) {
  BinaryCounts counts;
  if (predicted.size() != labels.size()) return counts;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const bool flagged = predicted[i] != 0;
    if (labels[i] != 0) {
      ++(flagged ? counts.tp : counts.fn);
    } else {
      ++(flagged ? counts.fp : counts.tn);
    }
  }
  return counts;
}

double Quantile(std::vector<float> values, double q) {
  if (values.empty() || !(q >= 0.0 && q <= 1.0)) return kNaN;
  if (std::any_of(values.begin(), values.end(), [](float v) { return std::isnan(v); })) return kNaN;
  std::sort(values.begin(), values.end());
  const double h = static_cast<double>(values.size() - 1) * q;
  const double below = std::floor(h);
  const auto lo = static_cast<std::size_t>(below);
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  const double a = static_cast<double>(values[lo]);
  const double b = static_cast<double>(values[hi]);
  if (a == b) return a;  // also keeps equal infinities from giving inf - inf
  // numpy's _lerp: from the nearer end, so q = 1 gives the maximum exactly.
  const double t = h - below;
  return t < 0.5 ? a + (b - a) * t : b - (b - a) * (1.0 - t);
}

MeanStd ComputeMeanStd(std::span<const float> values) {
  if (values.empty()) return {kNaN, kNaN};
  const double n = static_cast<double>(values.size());
  double sum = 0.0;
  for (const float v : values) sum += static_cast<double>(v);
  const double mean = sum / n;
  double squares = 0.0;
  for (const float v : values) {
    const double d = static_cast<double>(v) - mean;
    squares += d * d;
  }
  return {mean, std::sqrt(squares / n)};
}

}  // namespace edgefleet::ml
