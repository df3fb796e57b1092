// Evaluation metrics for anomaly detectors: ROC AUC, confusion counts and
// the scores derived from them, quantiles (thresholds from a score
// distribution) and mean / standard deviation.
//
// Conventions: label 1 (any non-zero byte) is an anomaly, the positive class;
// a higher score means more anomalous. Everything is computed in double and
// is a pure function of its arguments (reentrant, no state).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace edgefleet::ml {

// ROC AUC by the rank-sum (Mann-Whitney U) formula, tied scores counted half:
// the probability that a random anomaly scores above a random normal example.
// NaN when one class is empty, when the spans differ in length, or when a
// score is NaN (infinite scores rank normally).
double RocAuc(std::span<const float> scores, std::span<const std::uint8_t> labels);

struct BinaryCounts {
  std::uint64_t tp = 0, fp = 0, tn = 0, fn = 0;

  double precision() const;  // tp / (tp + fp); 0 when tp + fp == 0
  double recall() const;     // tp / (tp + fn); 0 when tp + fn == 0
  double f1() const;         // 2PR / (P + R); 0 when P + R == 0
  double accuracy() const;   // (tp + tn) / total; 0 when total == 0
};

// Confusion counts of `predicted` (non-zero = flagged as anomaly) against
// `labels`. Spans of different lengths are a caller's mistake: nothing is
// counted (all zero).
BinaryCounts CountBinary(std::span<const std::uint8_t> predicted,
                         std::span<const std::uint8_t> labels);

// The q-quantile by linear interpolation between order statistics
// (Hyndman-Fan type 7, numpy's default "linear"): with the values sorted,
// h = (n - 1) q and the result lies between x[floor h] and x[floor h + 1].
// NaN for no values, for q outside [0, 1] or NaN, or when a value is NaN.
double Quantile(std::vector<float> values, double q);

struct MeanStd {
  double mean = 0, stddev = 0;
};
// Mean and population standard deviation (ddof 0), two passes in double.
// Both NaN for no values.
MeanStd ComputeMeanStd(std::span<const float> values);

}  // namespace edgefleet::ml
