#include "core/detector.h"

#include <bit>
#include <cmath>

#include "core/kernels.h"

namespace edgefleet::core {
namespace {

constexpr std::size_t Align8(std::size_t n) { return (n + 7u) & ~std::size_t{7}; }

using kernels::kLanes;

bool NeedsSpectrum(const ModelView& m) {
  return m.preprocessing.kind == FeatureKind::kSpectrum || m.modes.mode_count > 1;
}

std::uint32_t LayerTotal(const ModelView& m) {
  std::uint32_t total = 0;
  for (std::uint32_t n = 0; n < m.network_count; ++n) total += m.networks[n].layer_count;
  return total;
}

std::uint32_t MaxWidth(const ModelView& m) {
  std::uint32_t width = 0;
  for (std::uint32_t n = 0; n < m.network_count; ++n) {
    for (std::uint32_t l = 0; l < m.networks[n].layer_count; ++l) {
      const LayerView layer = GetLayer(m.networks[n], l);
      if (layer.in > width) width = layer.in;
      if (layer.out > width) width = layer.out;
    }
  }
  return width;
}

bool SameSpec(const SpectrumSpec& a, const SpectrumSpec& b) {
  if (a.bin_count != b.bin_count ||
      std::bit_cast<std::uint32_t>(a.log_floor) != std::bit_cast<std::uint32_t>(b.log_floor)) {
    return false;
  }
  for (std::uint32_t j = 0; j <= a.bin_count; ++j) {
    if (a.edges[j] != b.edges[j]) return false;
  }
  return true;
}

// Per-axis means from per-lane sums (lane k holds axis k % axes).
void MeansFromLanes(const float* partial, std::uint32_t window_len, std::uint32_t axes, float* means) {
  for (std::uint32_t a = 0; a < axes; ++a) {
    float sum = 0.0f;
    for (std::uint32_t k = a; k < kLanes; k += axes) sum += partial[k];
    means[a] = sum / static_cast<float>(window_len);
  }
}

}  // namespace

void AxisMeans(const float* window, std::uint32_t window_len, std::uint32_t axes, float* means) {
  // One partial sum per lane: independent chains, and a fixed summation
  // order that every platform, either kernel set (the AVX2 one adds the same
  // lanes in the same order) and the training pipeline reproduce.
  float partial[kLanes] = {};
  (void)kernels::kPortable.lane_sums(window, std::size_t{window_len} * axes, kMaxInputMagnitude, partial);
  MeansFromLanes(partial, window_len, axes, means);
}

std::size_t RequiredArenaBytes(const ModelView& model) {
  std::size_t bytes = Align8(sizeof(LayerView) * LayerTotal(model));
  bytes += Align8(sizeof(float) * model.preprocessing.feature_count);
  if (NeedsSpectrum(model)) {
    bytes += Align8(SpectrumExtractor::RequiredBytes(model.window_len));
    bytes += Align8(sizeof(float) * (model.window_len / 2 + 1));
  }
  if (model.modes.mode_count > 1) {
    bytes += Align8(sizeof(float) * model.axes * model.modes.spectrum.bin_count);
  }
  bytes += 2 * Align8(MaxWidth(model));
  return bytes;
}

bool KernelIsaSupported(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::kAuto:
    case KernelIsa::kPortable:
      return true;
    case KernelIsa::kAvx2:
#if defined(__x86_64__)
      return kernels::CpuHasAvx2();
#else
      return false;
#endif
  }
  return false;
}

Result<Detector> Detector::Create(const ModelView& model, void* arena, std::size_t arena_bytes,
                                  KernelIsa isa) {
  Result<Detector> result;
  if (model.data == nullptr || model.network_count == 0 || !KernelIsaSupported(isa)) {
    result.status = Status::kBadArgument;
    return result;
  }
  if (arena == nullptr || (reinterpret_cast<std::uintptr_t>(arena) & 7u) != 0) {
    result.status = Status::kMisaligned;
    return result;
  }
  if (arena_bytes < RequiredArenaBytes(model)) {
    result.status = Status::kArenaTooSmall;
    return result;
  }
  Detector& d = result.value;
  d.model_ = model;
  if (isa == KernelIsa::kAuto) {
    isa = KernelIsaSupported(KernelIsa::kAvx2) ? KernelIsa::kAvx2 : KernelIsa::kPortable;
  }
  d.isa_ = isa;
  d.kernels_ = &kernels::kPortable;
#if defined(__x86_64__)
  if (isa == KernelIsa::kAvx2) d.kernels_ = &kernels::kAvx2;
#endif
  auto* cursor = static_cast<std::uint8_t*>(arena);
  auto take = [&cursor](std::size_t bytes) {
    std::uint8_t* p = cursor;
    cursor += Align8(bytes);
    return p;
  };
  d.layers_ = reinterpret_cast<LayerView*>(take(sizeof(LayerView) * LayerTotal(model)));
  std::uint32_t index = 0;
  for (std::uint32_t n = 0; n < model.network_count; ++n) {
    d.first_layer_[n] = index;
    for (std::uint32_t l = 0; l < model.networks[n].layer_count; ++l) {
      d.layers_[index++] = GetLayer(model.networks[n], l);
    }
  }
  d.features_ = reinterpret_cast<float*>(take(sizeof(float) * model.preprocessing.feature_count));
  if (NeedsSpectrum(model)) {
    const std::size_t bytes = SpectrumExtractor::RequiredBytes(model.window_len);
    auto spectrum = SpectrumExtractor::Create(model.window_len, model.axes,
                                              model.preprocessing.window, take(bytes), bytes);
    if (!spectrum.ok()) {
      result.status = spectrum.status;
      return result;
    }
    d.spectrum_ = spectrum.value;
    d.magnitudes_ = reinterpret_cast<float*>(take(sizeof(float) * (model.window_len / 2 + 1)));
  }
  if (model.modes.mode_count > 1) {
    // A selector binning the spectrum as the features do (the usual case)
    // shares their bins and logarithms.
    d.same_bins_ = model.preprocessing.kind == FeatureKind::kSpectrum &&
                   SameSpec(model.modes.spectrum, model.preprocessing.spectrum);
    d.mode_features_ =
        reinterpret_cast<float*>(take(sizeof(float) * model.axes * model.modes.spectrum.bin_count));
  }
  const std::uint32_t width = MaxWidth(model);
  d.act_a_ = reinterpret_cast<std::int8_t*>(take(width));
  d.act_b_ = reinterpret_cast<std::int8_t*>(take(width));
  return result;
}

std::uint32_t Detector::SelectMode(const float* window) {
  const ModeSelectorView& modes = model_.modes;
  if (modes.mode_count <= 1) return 0;
  const std::uint32_t dims = model_.axes * modes.spectrum.bin_count;
  if (model_.preprocessing.kind == FeatureKind::kSpectrum) {
    // One FFT per axis serves both the selector's bins and the features'.
    for (std::uint32_t a = 0; a < model_.axes; ++a) {
      spectrum_.Magnitudes(window, a, magnitudes_);
      float* selector_bins = mode_features_ + a * modes.spectrum.bin_count;
      SpectrumExtractor::Bin(magnitudes_, modes.spectrum, selector_bins);
      const SpectrumSpec& spec = model_.preprocessing.spectrum;
      // With the same bins, Preprocess normalises straight from the
      // selector's features.
      if (!same_bins_) SpectrumExtractor::Bin(magnitudes_, spec, features_ + a * spec.bin_count);
    }
  } else {
    spectrum_.Features(window, modes.spectrum, magnitudes_, mode_features_);
  }
  std::uint32_t best = 0;
  float best_distance = 0.0f;
  for (std::uint32_t m = 0; m < modes.mode_count; ++m) {
    const float* centroid = modes.centroids + m * dims;
    // Four partial sums (i mod 4), added pairwise at the end: a fixed order,
    // and no single chain of dependent additions.
    float partial[4] = {};
    std::uint32_t i = 0;
    for (; i + 4 <= dims; i += 4) {
      for (std::uint32_t k = 0; k < 4; ++k) {
        const float d = (mode_features_[i + k] - centroid[i + k]) * modes.inv_scale[i + k];
        partial[k] += d * d;
      }
    }
    for (std::uint32_t k = 0; i + k < dims; ++k) {
      const float d = (mode_features_[i + k] - centroid[i + k]) * modes.inv_scale[i + k];
      partial[k] += d * d;
    }
    const float distance = (partial[0] + partial[1]) + (partial[2] + partial[3]);
    if (m == 0 || distance < best_distance) {
      best = m;
      best_distance = distance;
    }
  }
  return best;
}

Result<std::uint32_t> Detector::Preprocess(const float* window, std::size_t count,
                                           const float** features) {
  Result<std::uint32_t> result;
  const std::uint32_t n = model_.window_len;
  const std::uint32_t axes = model_.axes;
  if (window == nullptr || count != model_.window_values()) {
    result.status = Status::kBadInput;
    return result;
  }
  const PreprocessingView& prep = model_.preprocessing;
  // Time features need the window's per-lane sums (AxisMeans, with this
  // detector's kernels), which come with the value check in one pass.
  float partial[kLanes] = {};
  const bool valid = prep.kind == FeatureKind::kTime
                         ? kernels_->lane_sums(window, count, kMaxInputMagnitude, partial)
                         : kernels_->within_limit(window, count, kMaxInputMagnitude);
  if (!valid) {
    result.status = Status::kBadInput;
    return result;
  }
  const std::uint32_t mode = SelectMode(window);
  if (prep.kind == FeatureKind::kSpectrum) {
    if (model_.modes.mode_count <= 1) spectrum_.Features(window, prep.spectrum, magnitudes_, features_);
  } else {
    // The static mean (the sensor's tilt) identifies the recording session,
    // not the fault: it never reaches the detector.
    float mean[kMaxAxes] = {};
    MeansFromLanes(partial, n, axes, mean);
    const PartView& part = model_.parts[mode];
    if (part.norm_count == axes) {
      // Mean removal and per-axis normalisation in one pass.
      float shift[kLanes];
      float scale[kLanes];
      for (std::uint32_t k = 0, a = 0; k < kLanes; ++k, a = a + 1 == axes ? 0 : a + 1) {  // a = k % axes
        shift[k] = mean[a] + part.offset[a];
        scale[k] = part.inv_scale[a];
      }
      kernels_->normalise_lanes(window, count, shift, scale, features_);
      *features = features_;
      result.value = mode;
      return result;
    }
    for (std::uint32_t i = 0; i < n; ++i) {
      for (std::uint32_t a = 0; a < axes; ++a) features_[i * axes + a] = window[i * axes + a] - mean[a];
    }
  }
  const PartView& part = model_.parts[mode];
  if (part.norm_count == prep.feature_count) {
    const float* raw = same_bins_ ? mode_features_ : features_;
    for (std::uint32_t i = 0; i < prep.feature_count; ++i) {
      features_[i] = (raw[i] - part.offset[i]) * part.inv_scale[i];
    }
  } else {  // per axis, time features
    for (std::uint32_t i = 0; i < n; ++i) {
      for (std::uint32_t a = 0; a < axes; ++a) {
        float& f = features_[i * axes + a];
        f = (f - part.offset[a]) * part.inv_scale[a];
      }
    }
  }
  *features = features_;
  result.value = mode;
  return result;
}

float Detector::RunNetwork(std::uint32_t network, const float* z) {
  const LayerView* layers = layers_ + first_layer_[network];
  const std::uint32_t count = model_.networks[network].layer_count;
  return kernels_->network_error(layers, count, z, act_a_, act_b_) / static_cast<float>(layers[0].in);
}

Result<Inference> Detector::Run(const float* window, std::size_t count) {
  Result<Inference> result;
  const float* z = nullptr;
  auto mode = Preprocess(window, count, &z);
  if (!mode.ok()) {
    result.status = mode.status;
    return result;
  }
  const PartView& part = model_.parts[mode.value];
  Inference& inference = result.value;
  inference.mode = mode.value;
  inference.mse = RunNetwork(part.network, z);
  inference.score = inference.mse * part.score_scale;
  inference.decision = Decide(inference.score, model_.thresholds);
  return result;
}

}  // namespace edgefleet::core
