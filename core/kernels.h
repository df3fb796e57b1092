// The detector's kernels: the int8 network and the time-feature
// preprocessing. Internal to the core (core/detector.cc picks a set once, in
// Detector::Create; tests/core/kernels_test.cc compares them).
//
// Two implementations of one arithmetic (docs/model-format.md, "Arithmetic"):
//
//   portable   plain C++ loops (core/kernels.cc); what every target runs,
//              the Cortex-M4F included.
//   avx2       x86-64 intrinsics (core/kernels_avx2.cc), compiled with a
//              function-level target attribute so the core needs no -mavx2
//              and one binary still runs on any x86-64.
//
// Integer results are bit-identical across the sets: the same int8 inputs,
// the same int32 accumulators (integer addition is exact, so its order does
// not matter), the same requantized int8 outputs; the preprocessing kernels
// give the same floats (the same operations per element, the same order per
// lane). Only the sum of squared errors (output_layer_error, network_error)
// is added in a different order and may differ in its last bits.
//
// The AVX2 kernels keep a layer's int16 inputs and int32 accumulators on the
// stack (about 8 KB for the widest layers the format allows); the portable
// ones use a few hundred bytes.
//
// Every kernel reads only the arrays its LayerView declares ([out] per-channel
// arrays, [in][out] weights) and the in/out buffers at the stated lengths: the
// weights are used in place from the artifact, so reading past them could run
// off the caller's buffer.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "core/artifact.h"

namespace edgefleet::core::kernels {

// acc * multiplier * 2^(shift - 31), rounded half up, saturated to int32.
// |acc| < 2^31 and 0 <= multiplier < 2^31, so the product fits in 62 bits;
// -31 <= shift <= 30 (the validated range), so the total shift is 1 .. 62.
inline std::int32_t Requantize(std::int32_t acc, std::int32_t multiplier, std::int32_t shift) {
  const std::int64_t product = static_cast<std::int64_t>(acc) * multiplier;
  const int total_shift = 31 - shift;
  const std::int64_t rounded = (product + (std::int64_t{1} << (total_shift - 1))) >> total_shift;
  if (rounded > 0x7FFFFFFF) return 0x7FFFFFFF;
  if (rounded < -0x7FFFFFFF - 1) return -0x7FFFFFFF - 1;
  return static_cast<std::int32_t>(rounded);
}

// One channel's requantized int8 output: clamp(Requantize(acc) clamped to
// +-256, plus the zero point, to [lowest, 127]). The +-256 bound keeps the
// addition inside int32 and loses nothing: the int8 range is narrower.
inline std::int8_t RequantizeToInt8(std::int32_t acc, std::int32_t multiplier, std::int32_t shift,
                                    std::int32_t zero_point, std::int32_t lowest) {
  std::int32_t y = Requantize(acc, multiplier, shift);
  y = (y < -256 ? -256 : (y > 256 ? 256 : y)) + zero_point;
  y = y < lowest ? lowest : (y > 127 ? 127 : y);
  return static_cast<std::int8_t>(y);
}

// One input value: clamp(round_half_away(t) + zero_point, -128, 127) with
// t = z * inv_scale clamped to [-512, 512] first, so the conversion to int32 is
// always defined. The clamps are written as x86's maxps/minps define them
// (the first operand when the comparison holds, else the second), so that the
// AVX2 kernel agrees even for NaN (which becomes -512).
inline std::int8_t QuantizeOne(float z, float inv_scale, std::int32_t zero_point) {
  float t = z * inv_scale;
  t = t > -512.0f ? t : -512.0f;
  t = t < 512.0f ? t : 512.0f;
  std::int32_t q = static_cast<std::int32_t>(t + std::copysign(0.5f, t)) + zero_point;
  q = q < -128 ? -128 : q;
  q = q > 127 ? 127 : q;
  return static_cast<std::int8_t>(q);
}

// One output of the last layer, dequantized from its accumulator, against the
// normalised input z: (r - z)^2 with r = acc * (s_in * s_w[c]), ReLU applied
// if declared.
inline float SquaredError(std::int32_t acc, float input_scale, float weight_scale, bool relu, float z) {
  float r = static_cast<float>(acc) * (input_scale * weight_scale);
  if (relu && r < 0.0f) r = 0.0f;
  const float d = r - z;
  return d * d;
}

// |v| <= limit for a finite limit > 0, false for NaN and infinities, as
// integers: for non-negative IEEE floats the bit patterns order like the
// values, and infinities and NaNs (all exponent bits set) lie above every
// finite limit. Integer comparisons vectorize on every target (a float
// comparison that must also catch NaN did not).
inline bool WithinLimit(float v, float limit) {
  return (std::bit_cast<std::int32_t>(v) & 0x7FFFFFFF) <= std::bit_cast<std::int32_t>(limit);
}

// The lowest int8 output of a hidden layer: its zero point under ReLU.
inline std::int32_t LowestOutput(const LayerView& layer) {
  return layer.activation == Activation::kRelu ? layer.output_zero_point : -128;
}

// Interleaved windows are walked kLanes values at a time: 12 is a multiple
// of every supported axis count (1 to 4), so lane k always holds axis
// k % axes, and per-lane sums have a fixed order on every target.
inline constexpr std::uint32_t kLanes = 12;
static_assert(kLanes % 2 == 0 && kLanes % 3 == 0 && kLanes % 4 == 0 && kMaxAxes <= 4);

struct KernelSet {
  // True when every value is finite and |v| <= limit (limit finite, > 0).
  bool (*within_limit)(const float* values, std::size_t count, float limit);
  // partial[k] += values[j + k] for j = 0, kLanes, 2 kLanes, ... < count, in
  // that order, for k < kLanes (values past count are not read); and, in the
  // same pass, within_limit(values, count, limit).
  bool (*lane_sums)(const float* values, std::size_t count, float limit, float* partial);
  // out[j] = (values[j] - shift[j % kLanes]) * scale[j % kLanes], j < count.
  void (*normalise_lanes)(const float* values, std::size_t count, const float* shift, const float* scale,
                          float* out);
  // out[i] = QuantizeOne(z[i], inv_scale, zero_point) for i < n.
  void (*quantize_input)(const float* z, std::uint32_t n, float inv_scale, std::int32_t zero_point,
                         std::int8_t* out);
  // acc[c] = bias[c] + sum_i w[i][c] * in[i] for c < layer.out.
  void (*accumulate)(const LayerView& layer, const std::int8_t* in, std::int32_t* acc);
  // A hidden layer: in[layer.in] -> requantized out[layer.out].
  void (*hidden_layer)(const LayerView& layer, const std::int8_t* in, std::int8_t* out);
  // The last layer dequantized from its accumulators (r[c] = acc[c] * s_in *
  // s_w[c], ReLU if declared) and sum_c (r[c] - z[c])^2.
  float (*output_layer_error)(const LayerView& layer, const std::int8_t* in, const float* z);
  // The whole network (count layers, the last one's sum of squared errors):
  // quantize_input, hidden_layer for all but the last layer, then
  // output_layer_error, with the same integers. `a` and `b` are int8 scratch
  // of the widest layer (a kernel set may work elsewhere).
  float (*network_error)(const LayerView* layers, std::uint32_t count, const float* z, std::int8_t* a,
                         std::int8_t* b);
  const char* name;
};

extern const KernelSet kPortable;

#if defined(__x86_64__)
extern const KernelSet kAvx2;

// True when the CPU and the OS support AVX2 (the OS must save the YMM state).
bool CpuHasAvx2();
#endif

}  // namespace edgefleet::core::kernels
