// FeatureSummary: the 20-value summary of SPEC section 8 that a device sends
// instead of raw windows, accumulated window by window in fixed memory.
//
//   [0..2]   per-axis mean of the samples (x, y, z)
//   [3..5]   per-axis variance of the samples
//   [6..15]  histogram of window scores over [score_min, score_max) in 10
//            equal bins; scores outside fall into the first or last bin
//   [16..18] per-axis peak frequency in Hz: the largest non-DC bin of the
//            magnitude spectrum summed over all windows
//   [19]     number of windows
//
// Memory: the caller passes an arena of RequiredBytes(window_len) bytes.
// Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/spectrum.h"
#include "core/status.h"

namespace edgefleet::core {

inline constexpr std::size_t kSummaryValues = 20;
inline constexpr std::size_t kSummaryHistogramBins = 10;
inline constexpr std::uint32_t kSummaryAxes = 3;

struct SummaryConfig {
  std::uint32_t window_len = 100;
  std::uint32_t sample_rate_hz = 200;
  float score_min = 0.0f;
  float score_max = 1.0f;
};

class FeatureSummary {
 public:
  static std::size_t RequiredBytes(std::uint32_t window_len);

  static Result<FeatureSummary> Create(const SummaryConfig& config, void* arena, std::size_t bytes);

  // Adds one interleaved window of window_len * 3 values and its score.
  Status Add(const float* window, std::size_t count, float score);

  // Writes the 20 values (zeros before the first window).
  void Values(float out[kSummaryValues]) const;

  std::uint32_t windows() const { return windows_; }
  void Reset();

 private:
  SummaryConfig config_;
  SpectrumExtractor spectrum_;
  float* magnitudes_ = nullptr;   // scratch, bins
  float* spectrum_sum_ = nullptr; // 3 * bins
  std::uint32_t windows_ = 0;
  std::uint64_t samples_ = 0;
  // Welford's running mean and sum of squared deviations, per axis.
  double mean_[kSummaryAxes] = {};
  double m2_[kSummaryAxes] = {};
  std::uint32_t histogram_[kSummaryHistogramBins] = {};
};

}  // namespace edgefleet::core
