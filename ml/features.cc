#include "ml/features.h"

#include <cstdlib>

namespace edgefleet::ml {

std::vector<std::uint16_t> SplitEdges(std::uint32_t window_len, std::uint32_t fine_from,
                                      std::uint32_t coarse) {
  const std::uint32_t last = window_len / 2;  // the highest one-sided index
  std::vector<std::uint16_t> edges;
  std::uint32_t e = 1;
  for (; e < fine_from && e <= last; e += coarse) edges.push_back(static_cast<std::uint16_t>(e));
  for (e = fine_from > 1 ? fine_from : 1; e <= last + 1; ++e) edges.push_back(static_cast<std::uint16_t>(e));
  return edges;
}

SpectralFeatures::SpectralFeatures(std::uint32_t window_len, std::uint32_t axes)
    : window_len_(window_len), axes_(axes) {
  const std::size_t bytes = core::SpectrumExtractor::RequiredBytes(window_len);
  memory_.resize((bytes + 7) / 8);
  magnitudes_.resize(window_len / 2 + 1);
  auto created = core::SpectrumExtractor::Create(window_len, axes, core::WindowFunction::kNone,
                                                 memory_.data(), memory_.size() * 8);
  if (!created.ok()) std::abort();  // only reachable with a window length the core refuses
  extractor_ = created.value;
}

void SpectralFeatures::Compute(std::span<const float> window, const SpectrumSpecData& spec, float* out) {
  extractor_.Features(window.data(), spec.View(), magnitudes_.data(), out);
}

void SpectralFeatures::ComputeTwo(std::span<const float> window, const SpectrumSpecData& a, float* out_a,
                                  const SpectrumSpecData& b, float* out_b) {
  const core::SpectrumSpec va = a.View();
  const core::SpectrumSpec vb = b.View();
  for (std::uint32_t axis = 0; axis < axes_; ++axis) {
    extractor_.Magnitudes(window.data(), axis, magnitudes_.data());
    core::SpectrumExtractor::Bin(magnitudes_.data(), va, out_a + axis * va.bin_count);
    core::SpectrumExtractor::Bin(magnitudes_.data(), vb, out_b + axis * vb.bin_count);
  }
}

Eigen::MatrixXf SpectralFeatures::Matrix(const Dataset& dataset, std::span<const WindowRef> windows,
                                         const SpectrumSpecData& spec) {
  Eigen::MatrixXf out(static_cast<Eigen::Index>(axes_ * spec.bin_count()),
                      static_cast<Eigen::Index>(windows.size()));
  std::vector<float> values(window_values());
  for (std::size_t i = 0; i < windows.size(); ++i) {
    if (!WindowValues(dataset, windows[i], values)) std::abort();  // refs come from Windows(dataset)
    Compute(values, spec, out.col(static_cast<Eigen::Index>(i)).data());
  }
  return out;
}

}  // namespace edgefleet::ml
