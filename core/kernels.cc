// The portable int8 kernels: what the Cortex-M4F runs, and the reference the
// AVX2 kernels must match bit for bit (core/kernels.h).
#include "core/kernels.h"

namespace edgefleet::core::kernels {
namespace {

// Accumulators for a block of up to kBlock outputs: weights are stored
// input-major ([in][out]), so each input adds one contiguous row of weights
// to the block, a loop the compiler can turn into vector multiply-adds where
// the target has them.
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

inline void AccumulateColumns(const LayerView& layer, std::uint32_t c0, std::uint32_t width,
                              const std::int8_t* __restrict in, std::int32_t* __restrict acc) {
  // Constant widths let the compiler keep the block in registers.
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

bool WithinLimitAll(const float* values, std::size_t count, float limit) {
  std::int32_t over = 0;  // branch-free, so it vectorizes
  for (std::size_t i = 0; i < count; ++i) over |= WithinLimit(values[i], limit) ? 0 : 1;
  return over == 0;
}

bool LaneSums(const float* values, std::size_t count, float limit, float* partial) {
  // Counted down, not compared as a pointer difference: with 32-bit
  // indices GCC must allow for wrap-around and gathers the loads one by one.
  float lanes[kLanes];
  for (std::uint32_t k = 0; k < kLanes; ++k) lanes[k] = partial[k];
  std::int32_t over = 0;
  const float* p = values;
  std::size_t left = count;
  for (; left >= kLanes; left -= kLanes, p += kLanes) {
    for (std::uint32_t k = 0; k < kLanes; ++k) {
      lanes[k] += p[k];
      over |= WithinLimit(p[k], limit) ? 0 : 1;
    }
  }
  for (std::size_t k = 0; k < left; ++k) {
    lanes[k] += p[k];
    over |= WithinLimit(p[k], limit) ? 0 : 1;
  }
  for (std::uint32_t k = 0; k < kLanes; ++k) partial[k] = lanes[k];
  return over == 0;
}

void NormaliseLanes(const float* __restrict values, std::size_t count, const float* __restrict shift,
                    const float* __restrict scale, float* __restrict out) {
  std::size_t j = 0;
  for (; j + kLanes <= count; j += kLanes) {
    for (std::size_t k = 0; k < kLanes; ++k) out[j + k] = (values[j + k] - shift[k]) * scale[k];
  }
  for (std::size_t k = 0; j + k < count; ++k) out[j + k] = (values[j + k] - shift[k]) * scale[k];
}

void QuantizeInput(const float* __restrict z, std::uint32_t n, float inv_scale, std::int32_t zero_point,
                   std::int8_t* __restrict out) {
  // Branch-free (the clamps are selects), so it vectorizes where it can.
  for (std::uint32_t i = 0; i < n; ++i) out[i] = QuantizeOne(z[i], inv_scale, zero_point);
}

void Accumulate(const LayerView& layer, const std::int8_t* in, std::int32_t* acc) {
  for (std::uint32_t c0 = 0; c0 < layer.out; c0 += kBlock) {
    const std::uint32_t width = layer.out - c0 < kBlock ? layer.out - c0 : kBlock;
    AccumulateColumns(layer, c0, width, in, acc + c0);
  }
}

void HiddenLayer(const LayerView& layer, const std::int8_t* __restrict in, std::int8_t* __restrict out) {
  const std::int32_t lowest = LowestOutput(layer);
  std::int32_t acc[kBlock];
  for (std::uint32_t c0 = 0; c0 < layer.out; c0 += kBlock) {
    const std::uint32_t width = layer.out - c0 < kBlock ? layer.out - c0 : kBlock;
    AccumulateColumns(layer, c0, width, in, acc);
    for (std::uint32_t c = 0; c < width; ++c) {
      out[c0 + c] = RequantizeToInt8(acc[c], layer.multiplier[c0 + c], layer.shift[c0 + c],
                                     layer.output_zero_point, lowest);
    }
  }
}

// Dequantized straight from the accumulator: one float multiply per output
// instead of requantizing to int8 and back.
float OutputLayerError(const LayerView& last, const std::int8_t* __restrict in, const float* __restrict z) {
  const bool relu = last.activation == Activation::kRelu;
  float sum = 0.0f;
  std::int32_t acc[kBlock];
  for (std::uint32_t c0 = 0; c0 < last.out; c0 += kBlock) {
    const std::uint32_t width = last.out - c0 < kBlock ? last.out - c0 : kBlock;
    AccumulateColumns(last, c0, width, in, acc);
    for (std::uint32_t c = 0; c < width; ++c) {
      sum += SquaredError(acc[c], last.input_scale, last.weight_scale[c0 + c], relu, z[c0 + c]);
    }
  }
  return sum;
}

float NetworkError(const LayerView* layers, std::uint32_t count, const float* z, std::int8_t* a,
                   std::int8_t* b) {
  QuantizeInput(z, layers[0].in, 1.0f / layers[0].input_scale, layers[0].input_zero_point, a);
  std::int8_t* in = a;
  std::int8_t* out = b;
  for (std::uint32_t l = 0; l + 1 < count; ++l) {
    HiddenLayer(layers[l], in, out);
    std::int8_t* swap = in;
    in = out;
    out = swap;
  }
  return OutputLayerError(layers[count - 1], in, z);
}

}  // namespace

const KernelSet kPortable = {WithinLimitAll, LaneSums,         NormaliseLanes, QuantizeInput, Accumulate,
                             HiddenLayer,    OutputLayerError, NetworkError,   "portable"};

}  // namespace edgefleet::core::kernels
