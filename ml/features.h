// Host-side feature extraction for training and evaluation, through the
// core's own spectrum code, so a trained model sees exactly the features a
// device computes.
//
// SpectralFeatures owns the scratch memory the core's SpectrumExtractor needs
// and turns windows of a Dataset into columns of an Eigen matrix. One object
// serves one thread at a time.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/spectrum.h"
#include "ml/artifact_writer.h"
#include "ml/dataset.h"

namespace edgefleet::ml {

// Bin edges over the one-sided spectrum of a 100-sample window (indices 0 ..
// 50, 2 Hz apart): `coarse`-wide bins from index 1 (DC is dropped: after mean
// removal it carries only rounding noise, which tracks the static mean)
// up to `fine_from`, then one bin per index up to the last.
std::vector<std::uint16_t> SplitEdges(std::uint32_t window_len, std::uint32_t fine_from,
                                      std::uint32_t coarse);

class SpectralFeatures {
 public:
  // window_len samples of `axes` values; no window function (Hann measured
  // worse on the fan, docs/RESULTS.md).
  SpectralFeatures(std::uint32_t window_len, std::uint32_t axes);

  std::uint32_t window_values() const { return window_len_ * axes_; }

  // axes * spec.bin_count() features of one interleaved window, in g.
  void Compute(std::span<const float> window, const SpectrumSpecData& spec, float* out);

  // Features of two specs from one FFT per axis (the mode selector's and the
  // detector's), as the core does.
  void ComputeTwo(std::span<const float> window, const SpectrumSpecData& a, float* out_a,
                  const SpectrumSpecData& b, float* out_b);

  // One column per window.
  Eigen::MatrixXf Matrix(const Dataset& dataset, std::span<const WindowRef> windows,
                         const SpectrumSpecData& spec);

 private:
  std::uint32_t window_len_;
  std::uint32_t axes_;
  std::vector<std::uint64_t> memory_;  // 8-byte aligned scratch for the extractor
  std::vector<float> magnitudes_;
  core::SpectrumExtractor extractor_;
};

}  // namespace edgefleet::ml
