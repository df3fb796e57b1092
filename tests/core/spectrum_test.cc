#include "core/spectrum.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <random>
#include <vector>

namespace edgefleet {
namespace {

std::vector<std::complex<double>> NaiveDft(const std::vector<std::complex<double>>& x) {
  const std::size_t n = x.size();
  std::vector<std::complex<double>> out(n);
  for (std::size_t k = 0; k < n; ++k) {
    for (std::size_t j = 0; j < n; ++j) {
      out[k] += x[j] * std::polar(1.0, -2.0 * M_PI * static_cast<double>(j * k) / static_cast<double>(n));
    }
  }
  return out;
}

class FftSizes : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(FftSizes, MatchesTheNaiveDft) {
  const std::uint32_t n = GetParam();
  std::vector<std::uint8_t> memory(core::FftPlan::RequiredBytes(n) + 8);
  auto plan = core::FftPlan::Create(n, memory.data(), memory.size());
  ASSERT_TRUE(plan.ok()) << core::ToString(plan.status);
  std::mt19937 rng(n);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<std::complex<double>> x(n);
  std::vector<core::Complex> data(n);
  for (std::uint32_t j = 0; j < n; ++j) {
    const float re = u(rng);
    const float im = u(rng);
    x[j] = {static_cast<double>(re), static_cast<double>(im)};
    data[plan.value.slot(j)] = {re, im};
  }
  plan.value.Forward(data.data());
  const auto expected = NaiveDft(x);
  for (std::uint32_t k = 0; k < n; ++k) {
    EXPECT_NEAR(data[k].re, expected[k].real(), 1e-4 * n) << "n=" << n << " k=" << k;
    EXPECT_NEAR(data[k].im, expected[k].imag(), 1e-4 * n) << "n=" << n << " k=" << k;
  }
}

INSTANTIATE_TEST_SUITE_P(MixedRadix, FftSizes,
                         ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u, 8u, 10u, 12u, 15u, 16u, 20u, 25u, 30u,
                                           45u, 50u, 64u, 75u, 100u, 125u, 128u, 200u, 225u, 250u, 256u));

TEST(FftPlan, RejectsLengthsItCannotFactorOrHold) {
  std::vector<std::uint8_t> memory(core::FftPlan::RequiredBytes(256));
  EXPECT_EQ(core::FftPlan::Create(7, memory.data(), memory.size()).status, core::Status::kBadArgument);
  EXPECT_EQ(core::FftPlan::Create(0, memory.data(), memory.size()).status, core::Status::kBadArgument);
  EXPECT_EQ(core::FftPlan::Create(512, memory.data(), memory.size()).status, core::Status::kBadArgument);
  EXPECT_EQ(core::FftPlan::Create(100, memory.data(), 16).status, core::Status::kArenaTooSmall);
}

TEST(SpectrumExtractor, FindsATonesBinAndIgnoresTheStaticMean) {
  std::vector<std::uint8_t> memory(core::SpectrumExtractor::RequiredBytes(100));
  auto ex = core::SpectrumExtractor::Create(100, 3, core::WindowFunction::kNone, memory.data(), memory.size());
  ASSERT_TRUE(ex.ok());
  // 30 Hz at 200 Hz over 100 samples: exactly bin 15; amplitude 0.5 gives
  // |X|/n = 0.25 in each of the two mirrored bins.
  std::vector<float> window(300);
  for (int i = 0; i < 100; ++i) {
    window[static_cast<std::size_t>(i * 3 + 1)] =
        5.0f + 0.5f * std::sin(2.0f * static_cast<float>(M_PI) * 30.0f * static_cast<float>(i) / 200.0f);
  }
  std::vector<float> mags(ex.value.bins());
  ex.value.Magnitudes(window.data(), 1, mags.data());
  EXPECT_NEAR(mags[0], 0.0f, 1e-4f);  // the static mean never shows
  EXPECT_NEAR(mags[15], 0.25f, 1e-4f);
  for (std::uint32_t k = 1; k < ex.value.bins(); ++k) {
    if (k != 15) {
      EXPECT_NEAR(mags[k], 0.0f, 1e-4f) << k;
    }
  }
}

TEST(SpectrumExtractor, HannWindowSpreadsATonesEnergyToItsNeighbours) {
  std::vector<std::uint8_t> memory(core::SpectrumExtractor::RequiredBytes(100));
  auto ex = core::SpectrumExtractor::Create(100, 1, core::WindowFunction::kHann, memory.data(), memory.size());
  ASSERT_TRUE(ex.ok());
  std::vector<float> window(100);
  for (int i = 0; i < 100; ++i) {
    window[static_cast<std::size_t>(i)] = std::cos(2.0f * static_cast<float>(M_PI) * 20.0f * static_cast<float>(i) / 200.0f);
  }
  std::vector<float> mags(ex.value.bins());
  ex.value.Magnitudes(window.data(), 0, mags.data());
  // Hann: the peak keeps half the amplitude, each neighbour a quarter.
  EXPECT_NEAR(mags[10], 0.25f, 2e-3f);
  EXPECT_NEAR(mags[9], 0.125f, 2e-3f);
  EXPECT_NEAR(mags[11], 0.125f, 2e-3f);
  EXPECT_NEAR(mags[20], 0.0f, 2e-3f);
}

// Every supported length, even ones (half-length complex transform, then
// unzipped) and odd ones (full complex transform), with and without the Hann
// window, against the magnitudes of a naive DFT of the windowed, mean-removed
// axis.
class ExtractorLengths : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(ExtractorLengths, MagnitudesMatchTheNaiveDft) {
  const std::uint32_t n = GetParam();
  const std::uint32_t axes = 3;
  std::mt19937 rng(n + 17);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  std::vector<float> window(n * axes);
  for (auto& v : window) v = u(rng);
  for (auto function : {core::WindowFunction::kNone, core::WindowFunction::kHann}) {
    std::vector<std::uint8_t> memory(core::SpectrumExtractor::RequiredBytes(n));
    auto ex = core::SpectrumExtractor::Create(n, axes, function, memory.data(), memory.size());
    ASSERT_TRUE(ex.ok()) << core::ToString(ex.status);
    ASSERT_EQ(ex.value.bins(), n / 2 + 1);
    for (std::uint32_t axis = 0; axis < axes; ++axis) {
      double mean = 0.0;
      for (std::uint32_t i = 0; i < n; ++i) mean += static_cast<double>(window[i * axes + axis]);
      mean /= n;
      std::vector<std::complex<double>> x(n);
      for (std::uint32_t i = 0; i < n; ++i) {
        const double w = function == core::WindowFunction::kHann ? 0.5 - 0.5 * std::cos(2.0 * M_PI * i / n) : 1.0;
        x[i] = (static_cast<double>(window[i * axes + axis]) - mean) * w;
      }
      const auto expected = NaiveDft(x);
      std::vector<float> mags(ex.value.bins());
      ex.value.Magnitudes(window.data(), axis, mags.data());
      for (std::uint32_t k = 0; k < ex.value.bins(); ++k) {
        EXPECT_NEAR(mags[k], std::abs(expected[k]) / n, 2e-6) << "n=" << n << " axis=" << axis << " k=" << k;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(EvenAndOdd, ExtractorLengths,
                         ::testing::Values(1u, 2u, 3u, 4u, 5u, 6u, 8u, 9u, 10u, 15u, 16u, 20u, 45u, 50u, 64u, 75u,
                                           96u, 100u, 120u, 125u, 128u, 200u, 225u, 250u, 256u));

TEST(SpectrumExtractor, ChecksItsMemory) {
  // 97 (odd, and prime) needs more than 100; the buffer holds either.
  std::vector<std::uint64_t> memory(core::SpectrumExtractor::RequiredBytes(97) / 8 + 1);
  auto* bytes = reinterpret_cast<std::uint8_t*>(memory.data());
  const std::size_t need = core::SpectrumExtractor::RequiredBytes(100);
  EXPECT_EQ(core::SpectrumExtractor::Create(100, 3, core::WindowFunction::kHann, bytes, need - 1).status,
            core::Status::kArenaTooSmall);
  EXPECT_EQ(core::SpectrumExtractor::Create(100, 3, core::WindowFunction::kHann, bytes + 2, need).status,
            core::Status::kMisaligned);
  EXPECT_EQ(core::SpectrumExtractor::Create(100, 0, core::WindowFunction::kHann, bytes, need).status,
            core::Status::kBadArgument);
  EXPECT_EQ(core::SpectrumExtractor::Create(97, 3, core::WindowFunction::kHann, bytes, memory.size() * 8).status,
            core::Status::kBadArgument);
  EXPECT_TRUE(core::SpectrumExtractor::Create(100, 3, core::WindowFunction::kHann, bytes, need).ok());
}

TEST(SpectrumExtractor, BinsAverageAndTakeTheLog) {
  const float mags[6] = {9.0f, 1.0f, 3.0f, 5.0f, 7.0f, 100.0f};
  const std::uint16_t edges[] = {1, 3, 5};
  core::SpectrumSpec spec{2, 0.0f, edges};
  float out[2];
  core::SpectrumExtractor::Bin(mags, spec, out);
  EXPECT_FLOAT_EQ(out[0], 2.0f);
  EXPECT_FLOAT_EQ(out[1], 6.0f);
  spec.log_floor = 1.0f;
  core::SpectrumExtractor::Bin(mags, spec, out);
  EXPECT_FLOAT_EQ(out[0], std::log(3.0f));
  EXPECT_FLOAT_EQ(out[1], std::log(7.0f));
}

}  // namespace
}  // namespace edgefleet
