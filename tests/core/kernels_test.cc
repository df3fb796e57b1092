// The int8 kernel sets against each other (core/kernels.h): the AVX2 kernels
// must compute the portable kernels' integers bit for bit, on every shape and
// on the extremes of the quantization parameters, and a whole detector must
// decide the same on real windows whichever set it runs.
#include "core/kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "core/detector.h"
#include "ml/dataset.h"
#include "tests/core/fixtures.h"

namespace edgefleet {
namespace {

using core::kernels::KernelSet;

const KernelSet* Avx2() {
#if defined(__x86_64__)
  if (core::kernels::CpuHasAvx2()) return &core::kernels::kAvx2;
#endif
  return nullptr;
}

#define SKIP_WITHOUT_AVX2()                                          \
  do {                                                               \
    if (Avx2() == nullptr) GTEST_SKIP() << "this CPU has no AVX2";   \
  } while (0)

// A layer's arrays, owned, and the view the kernels read. Every array is
// allocated at exactly its size, so a kernel reading past one trips ASan.
struct RandomLayer {
  std::vector<float> weight_scale;
  std::vector<std::int32_t> multiplier;
  std::vector<std::int32_t> bias;
  std::vector<std::int8_t> shift;
  std::vector<std::int8_t> weights;
  core::LayerView view;
};

enum class Extremes { kNone, kWeights, kQuantization };

RandomLayer MakeLayer(std::uint32_t in, std::uint32_t out, core::Activation activation, Extremes extremes,
                      std::mt19937_64& rng) {
  RandomLayer l;
  std::uniform_int_distribution<int> byte(-128, 127);
  std::uniform_int_distribution<std::int32_t> bias(-(1 << 20), 1 << 20);
  std::uniform_int_distribution<std::int32_t> multiplier(1 << 30, 0x7FFFFFFF);
  std::uniform_int_distribution<int> shift(-12, 2);
  std::uniform_real_distribution<float> scale(1e-3f, 1e-1f);
  l.weights.resize(static_cast<std::size_t>(in) * out);
  for (auto& w : l.weights) {
    // -128 is legal in the format, and it is the corner where int16 pair
    // sums come closest to overflowing.
    w = static_cast<std::int8_t>(extremes == Extremes::kWeights ? (byte(rng) < 0 ? -128 : 127) : byte(rng));
  }
  for (std::uint32_t c = 0; c < out; ++c) {
    l.weight_scale.push_back(scale(rng));
    if (extremes == Extremes::kQuantization) {
      // The validated bounds: multiplier 0 or up to 2^31 - 1, shift -31 .. 30,
      // bias +-2^30; rounding ties and saturation both get exercised.
      const std::int32_t m[] = {0, 1, 0x40000000, 0x7FFFFFFF, multiplier(rng)};
      const int s[] = {-31, -30, -8, 0, 1, 29, 30, shift(rng)};
      const std::int32_t b[] = {-(1 << 30), 1 << 30, 0, bias(rng)};
      l.multiplier.push_back(m[rng() % 5]);
      l.shift.push_back(static_cast<std::int8_t>(s[rng() % 8]));
      l.bias.push_back(b[rng() % 4]);
    } else {
      l.multiplier.push_back(multiplier(rng));
      l.shift.push_back(static_cast<std::int8_t>(shift(rng)));
      l.bias.push_back(bias(rng));
    }
  }
  core::LayerView& v = l.view;
  v.in = static_cast<std::uint16_t>(in);
  v.out = static_cast<std::uint16_t>(out);
  v.activation = activation;
  v.input_scale = scale(rng);
  const std::int32_t zero_points[] = {-128, 127, 0, byte(rng)};
  v.input_zero_point = zero_points[rng() % 4];
  v.output_scale = scale(rng);
  v.output_zero_point = zero_points[rng() % 4];
  v.weight_scale = l.weight_scale.data();
  v.multiplier = l.multiplier.data();
  v.bias = l.bias.data();
  v.shift = l.shift.data();
  v.weights = l.weights.data();
  return l;
}

std::vector<std::int8_t> RandomInput(std::uint32_t n, Extremes extremes, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> byte(-128, 127);
  std::vector<std::int8_t> x(n);
  for (auto& v : x) {
    v = static_cast<std::int8_t>(extremes == Extremes::kWeights ? (byte(rng) < 0 ? -128 : 127) : byte(rng));
  }
  return x;
}

// Runs both sets on one layer and input; checks accumulators and outputs
// bit for bit, and the output-layer error up to float summation order.
void ExpectSameResults(const KernelSet& simd, const RandomLayer& layer, const std::vector<std::int8_t>& x,
                       std::mt19937_64& rng) {
  const core::LayerView& v = layer.view;
  const KernelSet& portable = core::kernels::kPortable;
  std::vector<std::int32_t> acc_portable(v.out);
  std::vector<std::int32_t> acc_simd(v.out);
  portable.accumulate(v, x.data(), acc_portable.data());
  simd.accumulate(v, x.data(), acc_simd.data());
  ASSERT_EQ(acc_portable, acc_simd) << v.in << "x" << v.out;

  std::vector<std::int8_t> out_portable(v.out);
  std::vector<std::int8_t> out_simd(v.out);
  portable.hidden_layer(v, x.data(), out_portable.data());
  simd.hidden_layer(v, x.data(), out_simd.data());
  ASSERT_EQ(out_portable, out_simd) << v.in << "x" << v.out;

  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> z(v.out);
  for (auto& value : z) value = normal(rng);
  const float e_portable = portable.output_layer_error(v, x.data(), z.data());
  const float e_simd = simd.output_layer_error(v, x.data(), z.data());
  // Sums of v.out non-negative terms in two orders.
  EXPECT_NEAR(e_simd, e_portable, 1e-5f * e_portable + 1e-30f) << v.in << "x" << v.out;
}

TEST(Kernels, PortableRequantizeRoundsHalfUpAndSaturates) {
  using core::kernels::Requantize;
  // multiplier 2^30 with shift 0 halves: 3 * 0.5 = 1.5 -> 2, -3 * 0.5 = -1.5 -> -1.
  EXPECT_EQ(Requantize(3, 1 << 30, 0), 2);
  EXPECT_EQ(Requantize(-3, 1 << 30, 0), -1);
  EXPECT_EQ(Requantize(-5, 1 << 30, 0), -2);
  EXPECT_EQ(Requantize(1 << 30, 0x7FFFFFFF, 30), 0x7FFFFFFF);
  EXPECT_EQ(Requantize(-(1 << 30), 0x7FFFFFFF, 30), -0x7FFFFFFF - 1);
  EXPECT_EQ(Requantize(123456, 0, 5), 0);
  EXPECT_EQ(Requantize(1 << 30, 1 << 30, -31), 0);  // 2^60 / 2^62 = 0.25 -> 0
}

TEST(Kernels, Avx2MatchesPortableOnEveryNarrowShape) {
  SKIP_WITHOUT_AVX2();
  std::mt19937_64 rng(20240601);
  for (std::uint32_t in = 1; in <= 40; ++in) {
    for (std::uint32_t out = 1; out <= 40; ++out) {
      for (auto activation : {core::Activation::kLinear, core::Activation::kRelu}) {
        const RandomLayer layer = MakeLayer(in, out, activation, Extremes::kNone, rng);
        ExpectSameResults(*Avx2(), layer, RandomInput(in, Extremes::kNone, rng), rng);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(Kernels, Avx2MatchesPortableOnTheExtremes) {
  SKIP_WITHOUT_AVX2();
  std::mt19937_64 rng(7);
  for (Extremes extremes : {Extremes::kWeights, Extremes::kQuantization}) {
    for (std::uint32_t in : {1u, 2u, 3u, 15u, 16u, 17u, 33u, 63u, 64u, 65u, 127u}) {
      for (std::uint32_t out : {1u, 7u, 8u, 9u, 16u, 23u, 31u, 32u, 40u, 64u, 65u, 100u}) {
        for (auto activation : {core::Activation::kLinear, core::Activation::kRelu}) {
          const RandomLayer layer = MakeLayer(in, out, activation, extremes, rng);
          ExpectSameResults(*Avx2(), layer, RandomInput(in, extremes, rng), rng);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(Kernels, Avx2MatchesPortableOnModelShapes) {
  SKIP_WITHOUT_AVX2();
  std::mt19937_64 rng(11);
  // Past 256 and 512 inputs the AVX2 blocks shift their scaled sums back in
  // several runs; 1024 is the format's widest layer.
  const std::uint32_t shapes[][2] = {{300, 16}, {16, 8}, {8, 16}, {16, 300}, {75, 32}, {32, 75},
                                     {1024, 24}, {24, 1024}, {1023, 1}, {1, 1023}, {301, 17}, {17, 301},
                                     {257, 64}, {513, 48}, {1024, 96}, {1023, 16}, {1024, 1024}};
  for (const auto& shape : shapes) {
    for (Extremes extremes : {Extremes::kNone, Extremes::kWeights, Extremes::kQuantization}) {
      const RandomLayer layer = MakeLayer(shape[0], shape[1], core::Activation::kRelu, extremes, rng);
      ExpectSameResults(*Avx2(), layer, RandomInput(shape[0], extremes, rng), rng);
      if (HasFatalFailure()) return;
    }
  }
}

TEST(Kernels, Avx2MatchesPortableAtTheLargestAccumulators) {
  SKIP_WITHOUT_AVX2();
  // Every product at its maximum, 2^14, over the widest input: 2^24 per
  // accumulator, the bound docs/model-format.md derives.
  std::mt19937_64 rng(5);
  for (std::uint32_t out : {8u, 16u, 32u, 64u, 72u}) {
    RandomLayer layer = MakeLayer(1024, out, core::Activation::kLinear, Extremes::kNone, rng);
    for (auto& w : layer.weights) w = -128;
    for (auto& b : layer.bias) b = 1 << 30;
    const std::vector<std::int8_t> x(1024, -128);
    ExpectSameResults(*Avx2(), layer, x, rng);
    std::vector<std::int32_t> acc(out);
    Avx2()->accumulate(layer.view, x.data(), acc.data());
    EXPECT_EQ(acc[0], (1 << 30) + (1 << 24));
  }
}

TEST(Kernels, Avx2QuantizesInputsLikePortable) {
  SKIP_WITHOUT_AVX2();
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (std::uint32_t n = 1; n <= 70; ++n) {
    std::vector<float> z(n);
    for (auto& v : z) v = normal(rng);
    // Ties of the rounding, both signed zeros, the clamps, NaN and infinities.
    const float specials[] = {0.5f,  -0.5f, 1.5f,  -2.5f, 0.0f, -0.0f, 1e9f, -1e9f,
                              511.5f, -511.5f, std::numeric_limits<float>::quiet_NaN(),
                              std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
    for (std::uint32_t i = 0; i < n; i += 3) z[i] = specials[(i / 3 + n) % std::size(specials)];
    for (float inv_scale : {1.0f, 0.37f, 25.0f}) {
      for (std::int32_t zero_point : {-128, -3, 0, 127}) {
        std::vector<std::int8_t> a(n);
        std::vector<std::int8_t> b(n);
        core::kernels::kPortable.quantize_input(z.data(), n, inv_scale, zero_point, a.data());
        Avx2()->quantize_input(z.data(), n, inv_scale, zero_point, b.data());
        ASSERT_EQ(a, b) << "n=" << n << " inv_scale=" << inv_scale << " zero_point=" << zero_point;
      }
    }
  }
}

TEST(Kernels, Avx2PreprocessesWindowsLikePortable) {
  SKIP_WITHOUT_AVX2();
  const KernelSet& portable = core::kernels::kPortable;
  std::mt19937_64 rng(9);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  constexpr std::uint32_t kLanes = core::kernels::kLanes;
  for (std::size_t count = 0; count <= 4 * 256 + 30; count += count < 80 ? 1 : 37) {
    std::vector<float> values(count);
    for (auto& v : values) v = normal(rng);
    float shift[kLanes];
    float scale[kLanes];
    for (std::uint32_t k = 0; k < kLanes; ++k) {
      shift[k] = normal(rng);
      scale[k] = normal(rng);
    }
    float a[kLanes] = {1.0f, 2.0f};  // sums add to what is there
    float b[kLanes] = {1.0f, 2.0f};
    const bool a_ok = portable.lane_sums(values.data(), count, 1e30f, a);
    const bool b_ok = Avx2()->lane_sums(values.data(), count, 1e30f, b);
    ASSERT_TRUE(a_ok);
    ASSERT_TRUE(b_ok);
    for (std::uint32_t k = 0; k < kLanes; ++k) ASSERT_EQ(a[k], b[k]) << "count=" << count << " lane " << k;
    std::vector<float> out_a(count);
    std::vector<float> out_b(count);
    portable.normalise_lanes(values.data(), count, shift, scale, out_a.data());
    Avx2()->normalise_lanes(values.data(), count, shift, scale, out_b.data());
    ASSERT_EQ(out_a, out_b) << "count=" << count;

    const float limit = 3.0f;
    ASSERT_EQ(portable.within_limit(values.data(), count, limit), Avx2()->within_limit(values.data(), count, limit));
    if (count == 0) continue;
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity(),
                      std::numeric_limits<float>::infinity(), 3.0000002f, -1e30f}) {
      std::vector<float> clipped(count);
      for (std::size_t i = 0; i < count; ++i) clipped[i] = std::fmin(std::fmax(values[i], -limit), limit);
      ASSERT_TRUE(Avx2()->within_limit(clipped.data(), count, limit));
      clipped[rng() % count] = bad;
      EXPECT_FALSE(portable.within_limit(clipped.data(), count, limit)) << bad;
      EXPECT_FALSE(Avx2()->within_limit(clipped.data(), count, limit)) << bad << " count=" << count;
      float sums[kLanes] = {};
      EXPECT_FALSE(portable.lane_sums(clipped.data(), count, limit, sums)) << bad;
      EXPECT_FALSE(Avx2()->lane_sums(clipped.data(), count, limit, sums)) << bad << " count=" << count;
    }
  }
}

// network_error chains the per-layer kernels; the AVX2 one keeps the
// activations as int16 between layers. Against its own per-layer kernels it
// must agree to the bit (the same integers, the same float error code), and
// against the portable chain up to the error's summation order.
TEST(Kernels, Avx2NetworkMatchesItsLayersAndPortable) {
  SKIP_WITHOUT_AVX2();
  std::mt19937_64 rng(13);
  std::uniform_int_distribution<std::uint32_t> width(1, 40);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<std::uint32_t>> shapes = {{300, 16, 8, 16, 300}, {75, 32, 8, 32, 75}, {7, 7}, {1, 1},
                                                    {301, 37, 5, 301}};
  for (int i = 0; i < 200; ++i) {
    std::vector<std::uint32_t> shape(2 + rng() % 4);
    for (auto& w : shape) w = width(rng);
    shape.back() = shape.front();
    shapes.push_back(shape);
  }
  for (const auto& shape : shapes) {
    std::vector<RandomLayer> owned;
    for (std::size_t l = 0; l + 1 < shape.size(); ++l) {
      const auto activation = l + 2 < shape.size() ? core::Activation::kRelu : core::Activation::kLinear;
      owned.push_back(MakeLayer(shape[l], shape[l + 1], activation, Extremes::kNone, rng));
    }
    std::vector<core::LayerView> layers;
    for (auto& l : owned) layers.push_back(l.view);
    for (std::size_t l = 1; l < layers.size(); ++l) {  // chained quantization, as the format requires
      layers[l].input_scale = layers[l - 1].output_scale;
      layers[l].input_zero_point = layers[l - 1].output_zero_point;
    }
    std::vector<float> z(shape.front());
    for (auto& v : z) v = normal(rng) * layers[0].input_scale * 40.0f;  // inputs of about +-40
    const std::uint32_t widest = *std::max_element(shape.begin(), shape.end());
    std::vector<std::int8_t> a(widest);
    std::vector<std::int8_t> b(widest);
    const auto count = static_cast<std::uint32_t>(layers.size());
    const float portable = core::kernels::kPortable.network_error(layers.data(), count, z.data(), a.data(), b.data());
    const float fused = Avx2()->network_error(layers.data(), count, z.data(), a.data(), b.data());
    // The same network through the AVX2 per-layer kernels.
    Avx2()->quantize_input(z.data(), shape.front(), 1.0f / layers[0].input_scale, layers[0].input_zero_point,
                           a.data());
    std::int8_t* in = a.data();
    std::int8_t* out = b.data();
    for (std::uint32_t l = 0; l + 1 < count; ++l) {
      Avx2()->hidden_layer(layers[l], in, out);
      std::swap(in, out);
    }
    const float layered = Avx2()->output_layer_error(layers[count - 1], in, z.data());
    ASSERT_EQ(std::bit_cast<std::uint32_t>(fused), std::bit_cast<std::uint32_t>(layered)) << shape.size();
    ASSERT_NEAR(fused, portable, 1e-5f * portable + 1e-30f);
  }
}

// The whole detector, portable against AVX2, on real windows from the
// shipped recordings: the same modes and decisions, MSEs equal up to the
// output layer's float summation order.
void ExpectSameDecisions(const testing::BuiltModel& model, const std::vector<std::vector<float>>& windows) {
  auto parsed = core::ParseArtifact(model.bytes.data(), model.bytes.size());
  ASSERT_TRUE(parsed.ok());
  std::vector<std::uint64_t> arena_a(core::RequiredArenaBytes(parsed.value) / 8 + 1);
  std::vector<std::uint64_t> arena_b(arena_a.size());
  auto portable = core::Detector::Create(parsed.value, arena_a.data(), arena_a.size() * 8, core::KernelIsa::kPortable);
  auto simd = core::Detector::Create(parsed.value, arena_b.data(), arena_b.size() * 8, core::KernelIsa::kAvx2);
  ASSERT_TRUE(portable.ok());
  ASSERT_TRUE(simd.ok());
  EXPECT_EQ(portable.value.isa(), core::KernelIsa::kPortable);
  EXPECT_EQ(simd.value.isa(), core::KernelIsa::kAvx2);
  for (const auto& w : windows) {
    auto a = portable.value.Run(w.data(), w.size());
    auto b = simd.value.Run(w.data(), w.size());
    ASSERT_TRUE(a.ok());
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(a.value.mode, b.value.mode);
    EXPECT_NEAR(a.value.mse, b.value.mse, 1e-5f * a.value.mse);
    EXPECT_EQ(a.value.decision.zone, b.value.decision.zone);
    EXPECT_EQ(a.value.decision.label, b.value.decision.label);
    EXPECT_NEAR(a.value.decision.confidence, b.value.decision.confidence, 1e-5f);
  }
}

std::vector<std::vector<float>> RealWindows(std::size_t count) {
  auto path = ml::DefaultDataPath();
  EXPECT_TRUE(path.ok()) << path.error;
  if (!path.ok()) return {};
  auto data = ml::LoadRecordings(path.value);
  EXPECT_TRUE(data.ok()) << data.error;
  if (!data.ok()) return {};
  const auto refs = ml::Windows(data.value);
  std::vector<std::vector<float>> windows;
  for (std::size_t i = 0; i < refs.size() && windows.size() < count; i += refs.size() / count + 1) {
    std::vector<float> w(ml::kWindowRows * ml::kAxes);
    if (ml::WindowValues(data.value, refs[i], w)) windows.push_back(std::move(w));
  }
  return windows;
}

TEST(Kernels, DetectorDecidesTheSameOnEitherKernelSet) {
  SKIP_WITHOUT_AVX2();
  const auto windows = RealWindows(300);
  ASSERT_GE(windows.size(), 200u);
  const std::vector<std::vector<float>> calibration(windows.begin(), windows.begin() + 100);
  ExpectSameDecisions(testing::BuildTimeModel(calibration, {300, 16, 8, 16, 300}, 1), windows);
  ExpectSameDecisions(testing::BuildTimeModel(calibration, {300, 37, 5, 300}, 2), windows);
  ExpectSameDecisions(testing::BuildSpectralModel(calibration, {0.0f, 5.0f, 10.0f, 20.0f}, 1), windows);
}

TEST(Kernels, ForcingAnUnsupportedSetIsABadArgument) {
  const auto model = testing::BuildTimeModel({testing::FanWindow(20.0f, 0.1f, 1)}, {300, 8, 300}, 1);
  auto parsed = core::ParseArtifact(model.bytes.data(), model.bytes.size());
  ASSERT_TRUE(parsed.ok());
  std::vector<std::uint64_t> arena(core::RequiredArenaBytes(parsed.value) / 8 + 1);
  EXPECT_TRUE(core::KernelIsaSupported(core::KernelIsa::kPortable));
  auto forced = core::Detector::Create(parsed.value, arena.data(), arena.size() * 8, core::KernelIsa::kAvx2);
  EXPECT_EQ(forced.ok(), core::KernelIsaSupported(core::KernelIsa::kAvx2));
  if (!forced.ok()) {
    EXPECT_EQ(forced.status, core::Status::kBadArgument);
  }
  auto best = core::Detector::Create(parsed.value, arena.data(), arena.size() * 8);
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best.value.isa(), Avx2() != nullptr ? core::KernelIsa::kAvx2 : core::KernelIsa::kPortable);
}

}  // namespace
}  // namespace edgefleet
