// The int8 kernels with AVX2 intrinsics (core/kernels.h): x86-64 only, chosen
// at run time by Detector::Create when the CPU has AVX2. Every function that
// touches a 256-bit intrinsic carries the target attribute, so the rest of the
// core is still compiled for baseline x86-64 and the binary runs anywhere.
//
// The multiply-accumulate is vpmaddwd: it multiplies int16 pairs and adds each
// pair into one int32 lane, so two inputs are consumed per instruction. Rows i
// and i+1 of the input-major weights are interleaved byte-wise (column c gets
// (w[i][c], w[i+1][c])), widened to int16 words and multiplied by the
// broadcast input pair (x[i], x[i+1]). Products of int8 values and their pair
// sums are exact in int32, and integer addition does not depend on its order,
// so the accumulators are the portable kernel's, bit for bit; requantization
// repeats the portable 64-bit rounding exactly.
//
// The input is widened to int16 once per layer (WideInput); accumulators go
// through a stack buffer of the layer's width, which the requantization or
// the output error then reads.
#if defined(__x86_64__)

#include <immintrin.h>

#include <bit>
#include <cstring>

#include "core/kernels.h"

#define EDGEFLEET_AVX2 __attribute__((target("avx2")))

namespace edgefleet::core::kernels {
namespace {

// A layer's input widened to int16, with zeros past the end so that the last
// pair or quad of an input count that is not a multiple of 4 is whole.
struct alignas(32) WideInput {
  std::int16_t x[kMaxLayerWidth + 4];
};

EDGEFLEET_AVX2 inline void Widen(const std::int8_t* in, std::uint32_t n, WideInput& wide) {
  std::uint32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_store_si256(reinterpret_cast<__m256i*>(wide.x + i), _mm256_cvtepi8_epi16(bytes));
  }
  for (; i < n; ++i) wide.x[i] = in[i];
  for (std::uint32_t k = 0; k < 4; ++k) wide.x[n + k] = 0;
}

// (x[0], x[1]) in every 32-bit lane.
EDGEFLEET_AVX2 inline __m256i InputPair(const std::int16_t* x) {
  std::int32_t pair = 0;
  std::memcpy(&pair, x, sizeof(pair));
  return _mm256_set1_epi32(pair);
}

// (x[0], x[2]) in the low 128-bit lane, (x[1], x[3]) in the high one.
EDGEFLEET_AVX2 inline __m256i InputQuad(const std::int16_t* x) {
  std::int64_t quad = 0;
  std::memcpy(&quad, x, sizeof(quad));
  const __m256i pick = _mm256_setr_epi8(0, 1, 4, 5, 0, 1, 4, 5, 0, 1, 4, 5, 0, 1, 4, 5,  //
                                        2, 3, 6, 7, 2, 3, 6, 7, 2, 3, 6, 7, 2, 3, 6, 7);
  return _mm256_shuffle_epi8(_mm256_set1_epi64x(quad), pick);
}

EDGEFLEET_AVX2 inline __m128i Load16(const std::int8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

EDGEFLEET_AVX2 inline __m128i Load8(const std::int8_t* p) {
  return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
}

EDGEFLEET_AVX2 inline __m256i Load32(const std::int8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// 16 bytes at `low` in the low lane, 16 at `high` in the high lane.
EDGEFLEET_AVX2 inline __m256i Load2x16(const std::int8_t* low, const std::int8_t* high) {
  return _mm256_inserti128_si256(_mm256_castsi128_si256(Load16(low)), Load16(high), 1);
}

// The multiply-accumulate step shared by the blocks. Per 128-bit lane, `a`
// and `b` hold 16 columns of two weight rows and `pair` the two inputs they
// multiply. The rows are interleaved byte-wise, then each byte is moved into
// the high half of a 16-bit word (unpacked with zero): the word is the weight
// times 256, exactly, with no sign extension to compute (cheaper than the
// lane-crossing vpmovsxbw or a vpcmpgtb for the sign). The sums are therefore
// 256 times the true ones; kScaledSteps bounds how many may be added before
// they are shifted back. Per lane, s0 gets columns 0-3, s1 4-7, s2 8-11 and
// s3 12-15 of the lane's 16.
//
// The sums are four named references, not an array: with an array GCC copied
// every accumulator to another register once per iteration.
EDGEFLEET_AVX2 inline void MultiplyAccumulate(__m256i a, __m256i b, __m256i pair, __m256i& s0, __m256i& s1,
                                              __m256i& s2, __m256i& s3) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i lo = _mm256_unpacklo_epi8(a, b);  // (a[c], b[c]) for columns 0-7
  const __m256i hi = _mm256_unpackhi_epi8(a, b);  // columns 8-15
  s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(_mm256_unpacklo_epi8(zero, lo), pair));
  s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(_mm256_unpackhi_epi8(zero, lo), pair));
  s2 = _mm256_add_epi32(s2, _mm256_madd_epi16(_mm256_unpacklo_epi8(zero, hi), pair));
  s3 = _mm256_add_epi32(s3, _mm256_madd_epi16(_mm256_unpackhi_epi8(zero, hi), pair));
}

// One step adds at most 256 * 2 * 128 * 128 = 2^23 to a lane, so 128 steps
// stay below 2^30: inside int32 even after two lanes are added.
constexpr std::uint32_t kScaledSteps = 128;

EDGEFLEET_AVX2 inline void StoreSum(__m256i sum, const std::int32_t* addend, std::int32_t* acc) {
  const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(addend));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc), _mm256_add_epi32(sum, b));
}

// (sum / 256) + addend, stored. The sum is an exact multiple of 256, so the
// arithmetic shift divides exactly.
EDGEFLEET_AVX2 inline void StoreUnscaled(__m256i sum, const std::int32_t* addend, std::int32_t* acc) {
  StoreSum(_mm256_srai_epi32(sum, 8), addend, acc);
}

// The blocks below are out of line and keep their sums in named variables:
// inlined into their caller, or with a separate tail after the loop, GCC
// merged the sums' live ranges and copied every accumulator to another
// register once per iteration. A ragged end (rows missing from the last step)
// is therefore handled inside the loop, by pointing the missing rows at one
// that exists; their inputs are the zero pad, so they add nothing.

// An empty asm statement that claims to change the sums: the code after a
// loop then reads new values, and GCC stops tying the loop's registers to
// the ones that code wants (without it, every accumulator was copied to
// another register once per iteration). It emits no instruction.
EDGEFLEET_AVX2 inline void Settle(__m256i& s0, __m256i& s1, __m256i& s2, __m256i& s3) {
  __asm__("" : "+x"(s0), "+x"(s1), "+x"(s2), "+x"(s3));
}

// acc[0 .. 32 * kGroups * blocks) for rows [start, end): `blocks` blocks of
// 32 * kGroups columns, two rows per step. Each 32-byte row load covers
// columns 0-15 in its low lane and 16-31 in its high lane, so the sums come
// out lane-split and are put back in column order at the end; then unscaled
// and added to `addend` (the bias for the first run of rows, acc itself for
// the next). kRagged: (end - start) is odd (only the layer's last run).
template <std::uint32_t kGroups, bool kRagged>
EDGEFLEET_AVX2 __attribute__((noinline)) void Blocks32(const std::int8_t* w, std::uint32_t stride, std::uint32_t start,
                                                       std::uint32_t end, const WideInput& wide,
                                                       const std::int32_t* addend, std::int32_t* acc,
                                                       std::uint32_t blocks) {
  static_assert(kGroups == 1 || kGroups == 2);
  constexpr std::uint32_t kColumns = 32 * kGroups;
  const std::size_t step = 2 * std::size_t{stride};
  for (std::uint32_t block = 0; block < blocks; ++block, w += kColumns, addend += kColumns, acc += kColumns) {
    __m256i s0 = _mm256_setzero_si256();
    __m256i s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
    const std::int8_t* r = w + std::size_t{start} * stride;
    const std::int16_t* x = wide.x + start;
    for (std::uint32_t steps = (end - start + 1) / 2; steps > 0; --steps, r += step, x += 2) {
      const std::int8_t* r1 = kRagged && steps == 1 ? r : r + stride;
      const __m256i pair = InputPair(x);
      MultiplyAccumulate(Load32(r), Load32(r1), pair, s0, s1, s2, s3);
      if (kGroups == 2) MultiplyAccumulate(Load32(r + 32), Load32(r1 + 32), pair, s4, s5, s6, s7);
    }
    Settle(s0, s1, s2, s3);
    Settle(s4, s5, s6, s7);
    StoreUnscaled(_mm256_permute2x128_si256(s0, s1, 0x20), addend, acc);            // columns 0-7
    StoreUnscaled(_mm256_permute2x128_si256(s2, s3, 0x20), addend + 8, acc + 8);    // 8-15
    StoreUnscaled(_mm256_permute2x128_si256(s0, s1, 0x31), addend + 16, acc + 16);  // 16-23
    StoreUnscaled(_mm256_permute2x128_si256(s2, s3, 0x31), addend + 24, acc + 24);  // 24-31
    if (kGroups == 2) {
      StoreUnscaled(_mm256_permute2x128_si256(s4, s5, 0x20), addend + 32, acc + 32);
      StoreUnscaled(_mm256_permute2x128_si256(s6, s7, 0x20), addend + 40, acc + 40);
      StoreUnscaled(_mm256_permute2x128_si256(s4, s5, 0x31), addend + 48, acc + 48);
      StoreUnscaled(_mm256_permute2x128_si256(s6, s7, 0x31), addend + 56, acc + 56);
    }
  }
}

// All runs of kScaledSteps steps of `blocks` 32 * kGroups column blocks.
template <std::uint32_t kGroups>
EDGEFLEET_AVX2 inline void Block32(const std::int8_t* w, std::uint32_t stride, std::uint32_t inputs,
                                   const WideInput& wide, const std::int32_t* bias, std::int32_t* acc,
                                   std::uint32_t blocks) {
  for (std::uint32_t start = 0; start < inputs; start += 2 * kScaledSteps) {
    const std::uint32_t end = inputs - start > 2 * kScaledSteps ? start + 2 * kScaledSteps : inputs;
    const std::int32_t* addend = start == 0 ? bias : acc;
    if ((end - start) % 2 != 0) {
      Blocks32<kGroups, true>(w, stride, start, end, wide, addend, acc, blocks);
    } else {
      Blocks32<kGroups, false>(w, stride, start, end, wide, addend, acc, blocks);
    }
  }
}

// acc[0 .. 16) for rows [start, end), four rows per step: the low lane takes
// rows i and i+2, the high lane rows i+1 and i+3 (when the layer is 16 wide,
// rows i and i+1 are one contiguous 32-byte load); the lanes are unscaled and
// added at the end, then added to `addend`. kRagged: (end - start) is not a
// multiple of 4 (only the layer's last run).
template <bool kContiguous, bool kRagged>
EDGEFLEET_AVX2 __attribute__((noinline)) void Quads16(const std::int8_t* w, std::uint32_t stride, std::uint32_t start,
                                                      std::uint32_t end, const WideInput& wide,
                                                      const std::int32_t* addend, std::int32_t* acc) {
  __m256i s0 = _mm256_setzero_si256();
  __m256i s1 = s0, s2 = s0, s3 = s0;
  const std::int8_t* r = w + std::size_t{start} * stride;
  const std::int16_t* x = wide.x + start;
  const std::size_t step = 4 * std::size_t{stride};
  for (std::uint32_t i = start; i < end; i += 4, r += step, x += 4) {
    __m256i a;
    __m256i b;
    if (kContiguous && !kRagged) {
      a = Load32(r);
      b = Load32(r + 32);
    } else if (!kRagged) {
      a = Load2x16(r, r + stride);
      b = Load2x16(r + 2 * stride, r + 3 * stride);
    } else {
      const std::int8_t* r1 = i + 1 < end ? r + stride : r;
      const std::int8_t* r2 = i + 2 < end ? r + 2 * stride : r;
      const std::int8_t* r3 = i + 3 < end ? r + 3 * stride : r;
      a = Load2x16(r, r1);
      b = Load2x16(r2, r3);
    }
    MultiplyAccumulate(a, b, InputQuad(x), s0, s1, s2, s3);
  }
  Settle(s0, s1, s2, s3);
  // Each lane is unscaled before the two are added: both may be near 2^30.
  s0 = _mm256_srai_epi32(s0, 8);
  s1 = _mm256_srai_epi32(s1, 8);
  s2 = _mm256_srai_epi32(s2, 8);
  s3 = _mm256_srai_epi32(s3, 8);
  const __m256i low = _mm256_add_epi32(_mm256_permute2x128_si256(s0, s1, 0x20),
                                       _mm256_permute2x128_si256(s0, s1, 0x31));
  const __m256i high = _mm256_add_epi32(_mm256_permute2x128_si256(s2, s3, 0x20),
                                        _mm256_permute2x128_si256(s2, s3, 0x31));
  StoreSum(low, addend, acc);
  StoreSum(high, addend + 8, acc + 8);
}

// Accumulators of 16 columns over every input, in runs of kScaledSteps steps.
EDGEFLEET_AVX2 inline void Block16(const std::int8_t* w, std::uint32_t stride, std::uint32_t inputs,
                                   const WideInput& wide, const std::int32_t* bias, std::int32_t* acc) {
  for (std::uint32_t start = 0; start < inputs; start += 4 * kScaledSteps) {
    const std::uint32_t end = inputs - start > 4 * kScaledSteps ? start + 4 * kScaledSteps : inputs;
    const std::int32_t* addend = start == 0 ? bias : acc;
    if ((end - start) % 4 != 0) {
      Quads16<false, true>(w, stride, start, end, wide, addend, acc);
    } else if (stride == 16) {
      Quads16<true, false>(w, stride, start, end, wide, addend, acc);
    } else {
      Quads16<false, false>(w, stride, start, end, wide, addend, acc);
    }
  }
}

// Accumulators of 8 columns, two rows per step: (w[i][c], w[i+1][c]) pairs
// sign-extended with vpmovsxbw. Only narrow layers and the last columns of a
// wide one come here.
EDGEFLEET_AVX2 __attribute__((noinline)) void Block8(const std::int8_t* w, std::uint32_t stride, std::uint32_t inputs,
                                  const WideInput& wide, const std::int32_t* bias, std::int32_t* acc) {
  __m256i sum = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bias));
  for (std::uint32_t i = 0; i < inputs; i += 2) {
    const std::int8_t* r0 = w + i * stride;
    const std::int8_t* r1 = i + 1 < inputs ? r0 + stride : r0;
    const __m128i ab = _mm_unpacklo_epi8(Load8(r0), Load8(r1));
    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_cvtepi8_epi16(ab), InputPair(wide.x + i)));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc), sum);
}

// acc[c] for every column: blocks of 64 and 32 columns (two rows per step,
// up to eight accumulator registers live across the input loop), 16 (four
// rows per step) and 8. A layer's last block is aligned to its last column,
// which may recompute columns already done (to the same values) but never
// reads a weight outside the layer; layers narrower than 8 are done one
// column at a time.
EDGEFLEET_AVX2 void AccumulateWide(const LayerView& layer, const WideInput& wide, std::int32_t* acc) {
  const std::uint32_t out = layer.out;
  const std::uint32_t inputs = layer.in;
  const std::int8_t* w = layer.weights;
  const std::int32_t* bias = layer.bias;
  std::uint32_t c = 0;
  if (out >= 64) {
    Block32<2>(w, out, inputs, wide, bias, acc, out / 64);
    c = out / 64 * 64;
  }
  if (c + 32 <= out) {
    Block32<1>(w + c, out, inputs, wide, bias + c, acc + c, 1);
    c += 32;
  }
  if (c + 16 <= out) {
    Block16(w + c, out, inputs, wide, bias + c, acc + c);
    c += 16;
  }
  if (c == out) return;
  // Fewer than 16 columns left: one 16-column block aligned to the last
  // column when the layer is that wide (four rows per step beat two 8-column
  // blocks), else 8-column blocks.
  if (out >= 16) {
    Block16(w + (out - 16), out, inputs, wide, bias + (out - 16), acc + (out - 16));
    return;
  }
  if (c + 8 <= out) {
    Block8(w + c, out, inputs, wide, bias + c, acc + c);
    c += 8;
  }
  if (c == out) return;
  if (out >= 8) {
    Block8(w + (out - 8), out, inputs, wide, bias + (out - 8), acc + (out - 8));
    return;
  }
  for (; c < out; ++c) {
    std::int32_t sum = bias[c];
    for (std::uint32_t i = 0; i < inputs; ++i) sum += wide.x[i] * w[i * out + c];
    acc[c] = sum;
  }
}

EDGEFLEET_AVX2 void Accumulate(const LayerView& layer, const std::int8_t* in, std::int32_t* acc) {
  WideInput wide;
  Widen(in, layer.in, wide);
  AccumulateWide(layer, wide, acc);
}

// (p + 2^(s-1)) >> s with an arithmetic shift, clamped to [-256, 256], per
// 64-bit lane, for |p| < 2^62 and 1 <= s <= 62: the portable Requantize's
// rounding. AVX2 has no 64-bit arithmetic shift, so p is biased by 2^62 to
// make it non-negative for the logical one; 2^62 is a multiple of 2^s, so the
// bias leaves the shifted value exactly 2^(62-s) high, and that is taken off.
// The sum stays below 2^64.
EDGEFLEET_AVX2 inline __m256i RoundingShiftClamp(__m256i p, __m256i s) {
  const __m256i bias = _mm256_set1_epi64x(std::int64_t{1} << 62);
  const __m256i half = _mm256_sllv_epi64(_mm256_set1_epi64x(1), _mm256_sub_epi64(s, _mm256_set1_epi64x(1)));
  const __m256i biased = _mm256_add_epi64(_mm256_add_epi64(p, bias), half);
  __m256i r = _mm256_sub_epi64(_mm256_srlv_epi64(biased, s), _mm256_srlv_epi64(bias, s));
  const __m256i hi = _mm256_set1_epi64x(256);
  const __m256i lo = _mm256_set1_epi64x(-256);
  r = _mm256_blendv_epi8(r, hi, _mm256_cmpgt_epi64(r, hi));
  return _mm256_blendv_epi8(r, lo, _mm256_cmpgt_epi64(lo, r));
}

// RequantizeToInt8 of 8 channels, as int32 lanes.
EDGEFLEET_AVX2 inline __m256i Requantize8(__m256i acc, const std::int32_t* multiplier, const std::int8_t* shift,
                                          __m256i zero_point, __m256i lowest) {
  const __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(multiplier));
  const __m256i total_shift = _mm256_sub_epi32(_mm256_set1_epi32(31), _mm256_cvtepi8_epi32(Load8(shift)));
  // vpmuldq multiplies the even 32-bit lanes; the odd ones are shifted down.
  const __m256i even = RoundingShiftClamp(
      _mm256_mul_epi32(acc, m), _mm256_and_si256(total_shift, _mm256_set1_epi64x(0xFFFFFFFF)));
  const __m256i odd = RoundingShiftClamp(
      _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), _mm256_srli_epi64(m, 32)), _mm256_srli_epi64(total_shift, 32));
  // Clamped to +-256, each 64-bit result is its own low 32 bits.
  __m256i y = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  y = _mm256_add_epi32(y, zero_point);
  y = _mm256_max_epi32(y, lowest);
  return _mm256_min_epi32(y, _mm256_set1_epi32(127));
}

// Channels c .. c+7 of a layer's accumulators, requantized.
EDGEFLEET_AVX2 inline __m256i RequantizeAt(const LayerView& layer, const std::int32_t* acc, std::uint32_t c,
                                           __m256i zero_point, __m256i lowest) {
  const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc + c));
  return Requantize8(a, layer.multiplier + c, layer.shift + c, zero_point, lowest);
}

// Stores 8 int32 lanes already inside [-128, 127] as int8.
EDGEFLEET_AVX2 inline void StoreInt8(__m256i y, std::int8_t* out) {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packs_epi16(words, words));
}

EDGEFLEET_AVX2 void HiddenLayer(const LayerView& layer, const std::int8_t* in, std::int8_t* out) {
  alignas(32) std::int32_t acc[kMaxLayerWidth];
  Accumulate(layer, in, acc);
  const std::uint32_t n = layer.out;
  const __m256i zero_point = _mm256_set1_epi32(layer.output_zero_point);
  const __m256i lowest = _mm256_set1_epi32(LowestOutput(layer));
  std::uint32_t c = 0;
  // 16 outputs per store: the next layer reads them 16 bytes at a time, and
  // a load spanning two smaller stores is not forwarded from the store buffer.
  for (; c + 16 <= n; c += 16) {
    const __m256i lo = RequantizeAt(layer, acc, c, zero_point, lowest);
    const __m256i hi = RequantizeAt(layer, acc, c + 8, zero_point, lowest);
    const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
    const __m128i bytes = _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c), bytes);
  }
  if (c + 8 <= n) {
    StoreInt8(RequantizeAt(layer, acc, c, zero_point, lowest), out + c);
    c += 8;
  }
  if (c == n) return;
  if (n >= 8) {  // the last 8 channels again, as in AccumulateWide
    StoreInt8(RequantizeAt(layer, acc, n - 8, zero_point, lowest), out + (n - 8));
    return;
  }
  for (; c < n; ++c) {
    out[c] = RequantizeToInt8(acc[c], layer.multiplier[c], layer.shift[c], layer.output_zero_point,
                              LowestOutput(layer));
  }
}

// SquaredError of 8 channels (acc 32-byte aligned).
EDGEFLEET_AVX2 inline __m256 SquaredError8(const std::int32_t* acc, const float* weight_scale, const float* z,
                                           __m256 input_scale, bool relu) {
  const __m256 scale = _mm256_mul_ps(input_scale, _mm256_loadu_ps(weight_scale));
  __m256 r = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(acc))), scale);
  if (relu) r = _mm256_max_ps(r, _mm256_setzero_ps());
  const __m256 d = _mm256_sub_ps(r, _mm256_loadu_ps(z));
  return _mm256_mul_ps(d, d);
}

// The sum of squares runs in 16 lanes (two registers), then lanes are added
// pairwise: a different order from the portable kernel's running sum, so the
// two may differ in the last bits.
EDGEFLEET_AVX2 float ErrorFromAccumulators(const LayerView& last, const std::int32_t* acc, const float* z) {
  const std::uint32_t n = last.out;
  const bool relu = last.activation == Activation::kRelu;
  const __m256 input_scale = _mm256_set1_ps(last.input_scale);
  const __m256 zero = _mm256_setzero_ps();
  __m256 sum0 = zero;
  __m256 sum1 = zero;
  std::uint32_t c = 0;
  for (; c + 16 <= n; c += 16) {
    sum0 = _mm256_add_ps(sum0, SquaredError8(acc + c, last.weight_scale + c, z + c, input_scale, relu));
    sum1 = _mm256_add_ps(sum1, SquaredError8(acc + c + 8, last.weight_scale + c + 8, z + c + 8, input_scale, relu));
  }
  if (c + 8 <= n) {
    sum0 = _mm256_add_ps(sum0, SquaredError8(acc + c, last.weight_scale + c, z + c, input_scale, relu));
    c += 8;
  }
  const __m256 both = _mm256_add_ps(sum0, sum1);
  __m128 four = _mm_add_ps(_mm256_castps256_ps128(both), _mm256_extractf128_ps(both, 1));
  four = _mm_add_ps(four, _mm_movehl_ps(four, four));
  four = _mm_add_ss(four, _mm_movehdup_ps(four));
  float total = _mm_cvtss_f32(four);
  for (; c < n; ++c) total += SquaredError(acc[c], last.input_scale, last.weight_scale[c], relu, z[c]);
  return total;
}

EDGEFLEET_AVX2 float OutputLayerError(const LayerView& last, const std::int8_t* in, const float* z) {
  alignas(32) std::int32_t acc[kMaxLayerWidth];
  Accumulate(last, in, acc);
  return ErrorFromAccumulators(last, acc, z);
}

// A hidden layer's requantized outputs straight into the next layer's int16
// input (the same values HiddenLayer stores as int8), with its zero pad.
EDGEFLEET_AVX2 void RequantizeWide(const LayerView& layer, const std::int32_t* acc, WideInput& next) {
  const std::uint32_t n = layer.out;
  const __m256i zero_point = _mm256_set1_epi32(layer.output_zero_point);
  const __m256i lowest = _mm256_set1_epi32(LowestOutput(layer));
  std::int16_t* x = next.x;
  std::uint32_t c = 0;
  for (; c + 16 <= n; c += 16) {
    const __m256i lo = RequantizeAt(layer, acc, c, zero_point, lowest);
    const __m256i hi = RequantizeAt(layer, acc, c + 8, zero_point, lowest);
    const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(x + c), words);
  }
  for (; c < n;) {
    if (n >= 8) {  // 8 at a time, the last 8 aligned to the end as in AccumulateWide
      c = c + 8 <= n ? c : n - 8;
      const __m256i y = RequantizeAt(layer, acc, c, zero_point, lowest);
      const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(x + c), words);
      c += 8;
    } else {
      x[c] = RequantizeToInt8(acc[c], layer.multiplier[c], layer.shift[c], layer.output_zero_point,
                              LowestOutput(layer));
      ++c;
    }
  }
  for (std::uint32_t k = 0; k < 4; ++k) x[n + k] = 0;
}

// Eight values of QuantizeOne, as int32 lanes (before the int8 saturation,
// which the packs below do).
//
// z is read 16 bytes at a time: the caller has usually just written it, and a
// 32-byte load spanning two 16-byte stores (what the portable preprocessing
// compiles to) cannot be forwarded from the store buffer; it waits for both
// stores to retire.
EDGEFLEET_AVX2 inline __m256i Quantize8(const float* z, __m256 inv_scale, __m256i zero_point) {
  const __m256 v = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(z)), _mm_loadu_ps(z + 4), 1);
  __m256 t = _mm256_mul_ps(v, inv_scale);
  t = _mm256_max_ps(t, _mm256_set1_ps(-512.0f));  // t > -512 ? t : -512, as QuantizeOne
  t = _mm256_min_ps(t, _mm256_set1_ps(512.0f));
  const __m256 half = _mm256_or_ps(_mm256_and_ps(t, _mm256_set1_ps(-0.0f)), _mm256_set1_ps(0.5f));
  return _mm256_add_epi32(_mm256_cvttps_epi32(_mm256_add_ps(t, half)), zero_point);
}

EDGEFLEET_AVX2 void QuantizeInput(const float* z, std::uint32_t n, float inv_scale, std::int32_t zero_point,
                                  std::int8_t* out) {
  const __m256 scale = _mm256_set1_ps(inv_scale);
  const __m256i zp = _mm256_set1_epi32(zero_point);
  std::uint32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    // Saturating packs clamp to int16, then int8; packs work per 128-bit
    // lane, hence the permute.
    const __m256i words = _mm256_packs_epi32(Quantize8(z + i, scale, zp), Quantize8(z + i + 8, scale, zp));
    const __m256i ordered = _mm256_permute4x64_epi64(words, 0xD8);
    const __m128i bytes = _mm_packs_epi16(_mm256_castsi256_si128(ordered), _mm256_extracti128_si256(ordered, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), bytes);
  }
  if (i + 8 <= n) {
    const __m256i q = Quantize8(z + i, scale, zp);
    const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packs_epi16(words, words));
    i += 8;
  }
  for (; i < n; ++i) out[i] = QuantizeOne(z[i], inv_scale, zero_point);
}

// QuantizeInput straight into a layer's int16 input, with its zero pad.
EDGEFLEET_AVX2 void QuantizeWide(const float* z, std::uint32_t n, float inv_scale, std::int32_t zero_point,
                                 WideInput& wide) {
  const __m256 scale = _mm256_set1_ps(inv_scale);
  const __m256i zp = _mm256_set1_epi32(zero_point);
  const __m256i lo = _mm256_set1_epi16(-128);
  const __m256i hi = _mm256_set1_epi16(127);
  std::uint32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i words = _mm256_packs_epi32(Quantize8(z + i, scale, zp), Quantize8(z + i + 8, scale, zp));
    const __m256i clamped = _mm256_min_epi16(_mm256_max_epi16(words, lo), hi);
    _mm256_store_si256(reinterpret_cast<__m256i*>(wide.x + i), _mm256_permute4x64_epi64(clamped, 0xD8));
  }
  if (i < n && n >= 16) {  // the last 16 again, aligned to the end (the same values)
    i = n - 16;
    const __m256i words = _mm256_packs_epi32(Quantize8(z + i, scale, zp), Quantize8(z + i + 8, scale, zp));
    const __m256i clamped = _mm256_min_epi16(_mm256_max_epi16(words, lo), hi);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(wide.x + i), _mm256_permute4x64_epi64(clamped, 0xD8));
    i = n;
  }
  for (; i < n; ++i) wide.x[i] = QuantizeOne(z[i], inv_scale, zero_point);
  for (std::uint32_t k = 0; k < 4; ++k) wide.x[n + k] = 0;
}

// The whole network without int8 round trips: each layer's outputs are
// written as the next layer's int16 input (the same values).
EDGEFLEET_AVX2 float NetworkError(const LayerView* layers, std::uint32_t count, const float* z, std::int8_t*,
                                  std::int8_t*) {
  WideInput a;
  WideInput b;
  alignas(32) std::int32_t acc[kMaxLayerWidth];
  QuantizeWide(z, layers[0].in, 1.0f / layers[0].input_scale, layers[0].input_zero_point, a);
  WideInput* in = &a;
  WideInput* out = &b;
  for (std::uint32_t l = 0; l + 1 < count; ++l) {
    AccumulateWide(layers[l], *in, acc);
    RequantizeWide(layers[l], acc, *out);
    WideInput* swap = in;
    in = out;
    out = swap;
  }
  AccumulateWide(layers[count - 1], *in, acc);
  return ErrorFromAccumulators(layers[count - 1], acc, z);
}

EDGEFLEET_AVX2 bool WithinLimitAll(const float* values, std::size_t count, float limit) {
  const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256i bound = _mm256_set1_epi32(std::bit_cast<std::int32_t>(limit));
  __m256i over = _mm256_setzero_si256();
  std::size_t i = 0;
  for (; i + 8 <= count; i += 8) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values + i));
    over = _mm256_or_si256(over, _mm256_cmpgt_epi32(_mm256_and_si256(v, magnitude), bound));
  }
  bool ok = _mm256_testz_si256(over, over) != 0;
  for (; i < count; ++i) ok = ok && WithinLimit(values[i], limit);
  return ok;
}

// Lanes 0-7 of the kLanes partial sums in one register, 8-11 in another:
// each lane adds the same values in the same order as the portable loop.
EDGEFLEET_AVX2 bool LaneSums(const float* values, std::size_t count, float limit, float* partial) {
  const __m256i magnitude = _mm256_set1_epi32(0x7FFFFFFF);
  const __m256i bound = _mm256_set1_epi32(std::bit_cast<std::int32_t>(limit));
  __m256i over = _mm256_setzero_si256();
  __m256 low = _mm256_loadu_ps(partial);
  __m128 high = _mm_loadu_ps(partial + 8);
  const float* p = values;
  std::size_t left = count;
  for (; left >= kLanes; left -= kLanes, p += kLanes) {
    const __m256 a = _mm256_loadu_ps(p);
    const __m128 b = _mm_loadu_ps(p + 8);
    low = _mm256_add_ps(low, a);
    high = _mm_add_ps(high, b);
    // Values 4-11 again for the check: one 256-bit compare covers all 12.
    const __m256i both = _mm256_castps_si256(_mm256_loadu_ps(p + 4));
    over = _mm256_or_si256(over, _mm256_cmpgt_epi32(_mm256_and_si256(_mm256_castps_si256(a), magnitude), bound));
    over = _mm256_or_si256(over, _mm256_cmpgt_epi32(_mm256_and_si256(both, magnitude), bound));
  }
  _mm256_storeu_ps(partial, low);
  _mm_storeu_ps(partial + 8, high);
  bool ok = _mm256_testz_si256(over, over) != 0;
  for (std::size_t k = 0; k < left; ++k) {
    partial[k] += p[k];
    ok = ok && WithinLimit(p[k], limit);
  }
  return ok;
}

// 24 values per step (the shift and scale patterns repeat every kLanes, so
// twice over they fill three registers); elementwise, so any width gives the
// portable results.
EDGEFLEET_AVX2 void NormaliseLanes(const float* values, std::size_t count, const float* shift, const float* scale,
                                   float* out) {
  // Lanes 0-7, 8-11 then 0-3, and 4-11 of the pattern.
  const __m256 s[3] = {_mm256_loadu_ps(shift),
                       _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(shift + 8)), _mm_loadu_ps(shift), 1),
                       _mm256_loadu_ps(shift + 4)};
  const __m256 m[3] = {_mm256_loadu_ps(scale),
                       _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(scale + 8)), _mm_loadu_ps(scale), 1),
                       _mm256_loadu_ps(scale + 4)};
  std::size_t j = 0;
  for (; j + 2 * kLanes <= count; j += 2 * kLanes) {
    for (std::uint32_t r = 0; r < 3; ++r) {
      const __m256 v = _mm256_loadu_ps(values + j + 8 * r);
      _mm256_storeu_ps(out + j + 8 * r, _mm256_mul_ps(_mm256_sub_ps(v, s[r]), m[r]));
    }
  }
  if (j + kLanes <= count) {  // one more run of kLanes: lanes 0-7 and 8-11
    const __m256 v = _mm256_loadu_ps(values + j);
    _mm256_storeu_ps(out + j, _mm256_mul_ps(_mm256_sub_ps(v, s[0]), m[0]));
    const __m128 w = _mm_loadu_ps(values + j + 8);
    _mm_storeu_ps(out + j + 8, _mm_mul_ps(_mm_sub_ps(w, _mm256_castps256_ps128(s[1])), _mm256_castps256_ps128(m[1])));
    j += kLanes;
  }
  // j is a multiple of kLanes here, so value j + k is in lane k.
  for (std::size_t k = 0; j + k < count; ++k) out[j + k] = (values[j + k] - shift[k]) * scale[k];
}

}  // namespace

const KernelSet kAvx2 = {WithinLimitAll, LaneSums,         NormaliseLanes, QuantizeInput, Accumulate,
                         HiddenLayer,    OutputLayerError, NetworkError,   "avx2"};

bool CpuHasAvx2() {
  // libgcc's (and compiler-rt's) check includes the OS's XSAVE support of the
  // YMM registers. __builtin_cpu_init makes it safe before constructors run.
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") != 0;
}

}  // namespace edgefleet::core::kernels

#endif  // defined(__x86_64__)
