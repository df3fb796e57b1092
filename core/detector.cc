#include "core/detector.h"

#include <cmath>

namespace edgefleet::core {
namespace {

constexpr std::size_t Align8(std::size_t n) { return (n + 7u) & ~std::size_t{7}; }

// Interleaved windows are walked kLanes values at a time: 12 is a multiple
// of every supported axis count (1 to 4), so lane k always holds axis
// k % axes and the loops have constant trip counts the compiler vectorizes.
constexpr std::uint32_t kLanes = 12;
static_assert(kLanes % 2 == 0 && kLanes % 3 == 0 && kLanes % 4 == 0 && kMaxAxes <= 4);

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

// acc * multiplier * 2^(shift - 31), rounded half up. |acc| < 2^31 and
// 0 <= multiplier < 2^31, so the product fits in 62 bits.
std::int32_t Requantize(std::int32_t acc, std::int32_t multiplier, std::int32_t shift) {
  const std::int64_t product = static_cast<std::int64_t>(acc) * multiplier;
  const int total_shift = 31 - shift;  // 1 .. 62
  const std::int64_t rounded = (product + (std::int64_t{1} << (total_shift - 1))) >> total_shift;
  if (rounded > 0x7FFFFFFF) return 0x7FFFFFFF;
  if (rounded < -0x7FFFFFFF - 1) return -0x7FFFFFFF - 1;
  return static_cast<std::int32_t>(rounded);
}

// The kernels: int8 x int8 with int32 accumulation, written plainly so the
// compiler vectorizes them. On x86-64 Linux the layer loops are also compiled for AVX2 and picked at load
// time (ifunc), so one binary runs everywhere and fast where it can.
#if defined(__x86_64__) && defined(__linux__) && !defined(EDGEFLEET_NO_CLONES)
#define EDGEFLEET_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define EDGEFLEET_KERNEL
#endif

// Accumulators for a block of up to kBlock outputs: weights are stored
// input-major ([in][out]), so each input adds one contiguous row of weights
// to the block, a loop the compiler turns into wide vector multiply-adds.
constexpr std::uint32_t kBlock = 32;

template <std::uint32_t kWidth>
inline void AccumulateBlock(const LayerView& layer, std::uint32_t c0, std::uint32_t width,
                            const std::int8_t* __restrict in, std::int32_t* __restrict acc) {
  const std::uint32_t n = kWidth != 0 ? kWidth : width;
  const std::uint32_t inputs = layer.in;
  const std::uint32_t stride = layer.out;
  const std::int32_t* __restrict bias = layer.bias + c0;
  std::int32_t local[kBlock];
  for (std::uint32_t c = 0; c < n; ++c) local[c] = bias[c];
  const std::int8_t* __restrict w = layer.weights + c0;
  for (std::uint32_t i = 0; i < inputs; ++i, w += stride) {
    // int8 x int8 fits int16; widening once keeps the multiply 16-bit wide.
    const std::int16_t x = in[i];
    for (std::uint32_t c = 0; c < n; ++c) local[c] += static_cast<std::int16_t>(w[c] * x);
  }
  for (std::uint32_t c = 0; c < n; ++c) acc[c] = local[c];
}

inline void Accumulate(const LayerView& layer, std::uint32_t c0, std::uint32_t width,
                       const std::int8_t* __restrict in, std::int32_t* __restrict acc) {
  // Constant widths let the compiler keep the block in vector registers.
  if (width == kBlock) {
    AccumulateBlock<kBlock>(layer, c0, width, in, acc);
  } else if (width == 16) {
    AccumulateBlock<16>(layer, c0, width, in, acc);
  } else if (width == 8) {
    AccumulateBlock<8>(layer, c0, width, in, acc);
  } else {
    AccumulateBlock<0>(layer, c0, width, in, acc);
  }
}

// Round half away from zero, saturating to int8 around a zero point; written
// branch-free so the loop over a whole input vectorizes.
EDGEFLEET_KERNEL void QuantizeInput(const float* __restrict z, std::uint32_t n, float inv_scale,
                                    std::int32_t zero_point, std::int8_t* __restrict out) {
  for (std::uint32_t i = 0; i < n; ++i) {
    float t = z[i] * inv_scale;
    t = t < -512.0f ? -512.0f : t;  // keeps the cast defined
    t = t > 512.0f ? 512.0f : t;
    std::int32_t q = static_cast<std::int32_t>(t + std::copysign(0.5f, t)) + zero_point;
    q = q < -128 ? -128 : q;
    q = q > 127 ? 127 : q;
    out[i] = static_cast<std::int8_t>(q);
  }
}

// A hidden layer: int8 in, requantized int8 out.
EDGEFLEET_KERNEL void HiddenLayer(const LayerView& layer, const std::int8_t* __restrict in,
                                  std::int8_t* __restrict out) {
  const std::int32_t lowest = layer.activation == Activation::kRelu ? layer.output_zero_point : -128;
  std::int32_t acc[kBlock];
  for (std::uint32_t c0 = 0; c0 < layer.out; c0 += kBlock) {
    const std::uint32_t width = layer.out - c0 < kBlock ? layer.out - c0 : kBlock;
    Accumulate(layer, c0, width, in, acc);
    for (std::uint32_t c = 0; c < width; ++c) {
      std::int32_t y = Requantize(acc[c], layer.multiplier[c0 + c], layer.shift[c0 + c]);
      y = (y < -256 ? -256 : (y > 256 ? 256 : y)) + layer.output_zero_point;
      y = y < lowest ? lowest : (y > 127 ? 127 : y);
      out[c0 + c] = static_cast<std::int8_t>(y);
    }
  }
}

// The output layer, dequantized straight from its accumulator (one float
// multiply per output instead of requantizing to int8 and back), and the
// squared error against the normalised input.
EDGEFLEET_KERNEL float OutputLayerError(const LayerView& last, const std::int8_t* __restrict in,
                                        const float* __restrict z) {
  float sum = 0.0f;
  std::int32_t acc[kBlock];
  for (std::uint32_t c0 = 0; c0 < last.out; c0 += kBlock) {
    const std::uint32_t width = last.out - c0 < kBlock ? last.out - c0 : kBlock;
    Accumulate(last, c0, width, in, acc);
    for (std::uint32_t c = 0; c < width; ++c) {
      float r = static_cast<float>(acc[c]) * (last.input_scale * last.weight_scale[c0 + c]);
      if (last.activation == Activation::kRelu && r < 0.0f) r = 0.0f;
      const float d = r - z[c0 + c];
      sum += d * d;
    }
  }
  return sum;
}

}  // namespace

void AxisMeans(const float* window, std::uint32_t window_len, std::uint32_t axes, float* means) {
  // One partial sum per lane: independent chains, and a fixed summation
  // order that every platform (and the training pipeline) reproduces.
  const std::uint32_t count = window_len * axes;
  float partial[kLanes] = {};
  std::uint32_t j = 0;
  for (; j + kLanes <= count; j += kLanes) {
    for (std::uint32_t k = 0; k < kLanes; ++k) partial[k] += window[j + k];
  }
  for (std::uint32_t k = 0; j + k < count; ++k) partial[k] += window[j + k];
  for (std::uint32_t a = 0; a < axes; ++a) {
    float sum = 0.0f;
    for (std::uint32_t k = a; k < kLanes; k += axes) sum += partial[k];
    means[a] = sum / static_cast<float>(window_len);
  }
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

Result<Detector> Detector::Create(const ModelView& model, void* arena, std::size_t arena_bytes) {
  Result<Detector> result;
  if (model.data == nullptr || model.network_count == 0) {
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
      SpectrumExtractor::Bin(magnitudes_, modes.spectrum, mode_features_ + a * modes.spectrum.bin_count);
      const SpectrumSpec& spec = model_.preprocessing.spectrum;
      SpectrumExtractor::Bin(magnitudes_, spec, features_ + a * spec.bin_count);
    }
  } else {
    spectrum_.Features(window, modes.spectrum, magnitudes_, mode_features_);
  }
  std::uint32_t best = 0;
  float best_distance = 0.0f;
  for (std::uint32_t m = 0; m < modes.mode_count; ++m) {
    const float* centroid = modes.centroids + m * dims;
    float distance = 0.0f;
    for (std::uint32_t i = 0; i < dims; ++i) {
      const float d = (mode_features_[i] - centroid[i]) * modes.inv_scale[i];
      distance += d * d;
    }
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
  // Branch-free so it vectorizes; the comparison is false for NaN.
  bool bad = false;
  for (std::size_t i = 0; i < count; ++i) bad |= !(std::fabs(window[i]) <= kMaxInputMagnitude);
  if (bad) {
    result.status = Status::kBadInput;
    return result;
  }
  const std::uint32_t mode = SelectMode(window);
  const PreprocessingView& prep = model_.preprocessing;
  if (prep.kind == FeatureKind::kSpectrum) {
    if (model_.modes.mode_count <= 1) spectrum_.Features(window, prep.spectrum, magnitudes_, features_);
  } else {
    // The static mean (the sensor's tilt) identifies the recording session,
    // not the fault: it never reaches the detector.
    float mean[kMaxAxes];
    AxisMeans(window, n, axes, mean);
    const PartView& part = model_.parts[mode];
    if (part.norm_count == axes) {
      // Mean removal and per-axis normalisation in one vectorized pass.
      float shift[kLanes];
      float scale[kLanes];
      for (std::uint32_t k = 0; k < kLanes; ++k) {
        shift[k] = mean[k % axes] + part.offset[k % axes];
        scale[k] = part.inv_scale[k % axes];
      }
      std::uint32_t j = 0;
      for (; j + kLanes <= count; j += kLanes) {
        for (std::uint32_t k = 0; k < kLanes; ++k) features_[j + k] = (window[j + k] - shift[k]) * scale[k];
      }
      for (std::uint32_t k = 0; j + k < count; ++k) features_[j + k] = (window[j + k] - shift[k]) * scale[k];
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
    for (std::uint32_t i = 0; i < prep.feature_count; ++i) {
      features_[i] = (features_[i] - part.offset[i]) * part.inv_scale[i];
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
  const std::uint32_t layer_count = model_.networks[network].layer_count;
  const LayerView* layers = layers_ + first_layer_[network];
  const std::uint32_t features = layers[0].in;

  std::int8_t* in = act_a_;
  std::int8_t* out = act_b_;
  QuantizeInput(z, features, 1.0f / layers[0].input_scale, layers[0].input_zero_point, in);
  for (std::uint32_t l = 0; l + 1 < layer_count; ++l) {
    HiddenLayer(layers[l], in, out);
    std::int8_t* swap = in;
    in = out;
    out = swap;
  }
  return OutputLayerError(layers[layer_count - 1], in, z) / static_cast<float>(features);
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
