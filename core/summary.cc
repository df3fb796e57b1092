#include "core/summary.h"

#include <cmath>

namespace edgefleet::core {
namespace {

constexpr std::size_t Align8(std::size_t n) { return (n + 7u) & ~std::size_t{7}; }

std::uint32_t OneSided(std::uint32_t window_len) { return window_len / 2 + 1; }

}  // namespace

std::size_t FeatureSummary::RequiredBytes(std::uint32_t window_len) {
  return Align8(SpectrumExtractor::RequiredBytes(window_len)) +
         Align8(sizeof(float) * OneSided(window_len)) +
         Align8(sizeof(float) * kSummaryAxes * OneSided(window_len));
}

Result<FeatureSummary> FeatureSummary::Create(const SummaryConfig& config, void* arena,
                                              std::size_t bytes) {
  Result<FeatureSummary> result;
  if (!(config.score_max > config.score_min) || !std::isfinite(config.score_min) ||
      !std::isfinite(config.score_max) || config.sample_rate_hz == 0 || config.window_len < 4) {
    result.status = Status::kBadArgument;
    return result;
  }
  if (arena == nullptr || (reinterpret_cast<std::uintptr_t>(arena) & 7u) != 0) {
    result.status = Status::kMisaligned;
    return result;
  }
  if (bytes < RequiredBytes(config.window_len)) {
    result.status = Status::kArenaTooSmall;
    return result;
  }
  FeatureSummary& s = result.value;
  s.config_ = config;
  auto* cursor = static_cast<std::uint8_t*>(arena);
  const std::size_t spectrum_bytes = SpectrumExtractor::RequiredBytes(config.window_len);
  auto spectrum = SpectrumExtractor::Create(config.window_len, kSummaryAxes, WindowFunction::kNone,
                                            cursor, spectrum_bytes);
  if (!spectrum.ok()) {
    result.status = spectrum.status;
    return result;
  }
  s.spectrum_ = spectrum.value;
  cursor += Align8(spectrum_bytes);
  s.magnitudes_ = reinterpret_cast<float*>(cursor);
  cursor += Align8(sizeof(float) * OneSided(config.window_len));
  s.spectrum_sum_ = reinterpret_cast<float*>(cursor);
  s.Reset();
  return result;
}

void FeatureSummary::Reset() {
  windows_ = 0;
  samples_ = 0;
  for (std::uint32_t a = 0; a < kSummaryAxes; ++a) {
    mean_[a] = 0.0;
    m2_[a] = 0.0;
  }
  for (auto& bin : histogram_) bin = 0;
  const std::uint32_t bins = OneSided(config_.window_len);
  for (std::uint32_t i = 0; i < kSummaryAxes * bins; ++i) spectrum_sum_[i] = 0.0f;
}

Status FeatureSummary::Add(const float* window, std::size_t count, float score) {
  const std::uint32_t n = config_.window_len;
  if (window == nullptr || count != std::size_t{n} * kSummaryAxes || !std::isfinite(score)) {
    return Status::kBadInput;
  }
  for (std::size_t i = 0; i < count; ++i) {
    if (!std::isfinite(window[i])) return Status::kBadInput;
  }
  // Per axis: the window's own mean and squared deviations, merged into the
  // running totals with Chan et al.'s parallel update (stable for long runs).
  for (std::uint32_t a = 0; a < kSummaryAxes; ++a) {
    double sum = 0.0;
    for (std::uint32_t i = 0; i < n; ++i) sum += static_cast<double>(window[i * kSummaryAxes + a]);
    const double window_mean = sum / n;
    double window_m2 = 0.0;
    for (std::uint32_t i = 0; i < n; ++i) {
      const double d = static_cast<double>(window[i * kSummaryAxes + a]) - window_mean;
      window_m2 += d * d;
    }
    const double before = static_cast<double>(samples_);
    const double total = before + n;
    const double delta = window_mean - mean_[a];
    mean_[a] += delta * n / total;
    m2_[a] += window_m2 + delta * delta * before * n / total;
  }
  samples_ += n;

  const std::uint32_t bins = OneSided(n);
  for (std::uint32_t a = 0; a < kSummaryAxes; ++a) {
    spectrum_.Magnitudes(window, a, magnitudes_);
    for (std::uint32_t k = 0; k < bins; ++k) spectrum_sum_[a * bins + k] += magnitudes_[k];
  }

  const float position = (score - config_.score_min) / (config_.score_max - config_.score_min) *
                         static_cast<float>(kSummaryHistogramBins);
  std::size_t bin = 0;
  if (position >= static_cast<float>(kSummaryHistogramBins)) {
    bin = kSummaryHistogramBins - 1;
  } else if (position > 0.0f) {
    bin = static_cast<std::size_t>(position);
  }
  ++histogram_[bin];
  ++windows_;
  return Status::kOk;
}

void FeatureSummary::Values(float out[kSummaryValues]) const {
  for (std::uint32_t a = 0; a < kSummaryAxes; ++a) {
    out[a] = static_cast<float>(mean_[a]);
    out[3 + a] = samples_ == 0 ? 0.0f : static_cast<float>(m2_[a] / static_cast<double>(samples_));
  }
  for (std::size_t b = 0; b < kSummaryHistogramBins; ++b) out[6 + b] = static_cast<float>(histogram_[b]);
  const std::uint32_t bins = OneSided(config_.window_len);
  for (std::uint32_t a = 0; a < kSummaryAxes; ++a) {
    std::uint32_t peak = 1;
    for (std::uint32_t k = 2; k < bins; ++k) {
      if (spectrum_sum_[a * bins + k] > spectrum_sum_[a * bins + peak]) peak = k;
    }
    out[16 + a] = windows_ == 0 ? 0.0f
                                : static_cast<float>(peak) * static_cast<float>(config_.sample_rate_hz) /
                                      static_cast<float>(config_.window_len);
  }
  out[19] = static_cast<float>(windows_);
}

}  // namespace edgefleet::core
