#include "core/detector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "ml/quantize.h"
#include "tests/core/fixtures.h"

namespace edgefleet {
namespace {

std::vector<std::vector<float>> Windows(int n, float hz, float amplitude = 0.1f, std::uint64_t seed = 0) {
  std::vector<std::vector<float>> windows;
  for (int i = 0; i < n; ++i) windows.push_back(testing::FanWindow(hz, amplitude, seed + static_cast<std::uint64_t>(i)));
  return windows;
}

struct Loaded : testing::LoadedModel {
  explicit Loaded(const std::vector<std::uint8_t>& bytes) : LoadedModel(bytes) {
    EXPECT_EQ(status, core::Status::kOk) << core::ToString(status);
  }
};

const testing::BuiltModel& TimeModel() {
  static const testing::BuiltModel m = testing::BuildTimeModel(Windows(128, 20.0f), {300, 16, 8, 16, 300}, 3);
  return m;
}

TEST(Detector, DefaultEdgeModelFitsItsArenaBudget) {
  // The memory budget of the default edge model (docs/model-format.md): a
  // regression that grows the arena past 4 KiB fails here.
  Loaded m(TimeModel().bytes);
  EXPECT_LE(core::RequiredArenaBytes(m.view), 4096u);
  RecordProperty("arena_bytes", static_cast<int>(core::RequiredArenaBytes(m.view)));
}

// Checks the int8 kernel two ways on the same windows: against the float
// simulation of int8 arithmetic (must agree up to rounding: a kernel bug
// shows here) and against the float network (quantization error: small in
// the median, bounded in the tail where activations clip).
void ExpectInt8Fidelity(const testing::BuiltModel& model, const std::vector<std::vector<float>>& windows) {
  Loaded m(model.bytes);
  const auto f = static_cast<Eigen::Index>(model.spec.feature_count());
  std::vector<float> relative;
  for (const auto& window : windows) {
    const float* z = nullptr;
    ASSERT_TRUE(m.detector.Preprocess(window.data(), window.size(), &z).ok());
    const Eigen::VectorXf features = Eigen::Map<const Eigen::VectorXf>(z, f);
    const float simulated = ml::SimulateInt8Mse(model.spec.networks[0], features);
    const float reference = model.network.ReconstructionMse(features)(0);
    auto result = m.detector.Run(window.data(), window.size());
    ASSERT_TRUE(result.ok());
    EXPECT_NEAR(result.value.mse, simulated, 2e-3f * simulated);
    relative.push_back(std::fabs(result.value.mse - reference) / reference);
  }
  std::sort(relative.begin(), relative.end());
  EXPECT_LT(relative[relative.size() / 2], 0.02f);
  EXPECT_LT(relative.back(), 0.25f);
}

TEST(Detector, Int8MatchesTheFloatReference) {
  ExpectInt8Fidelity(TimeModel(), Windows(50, 20.0f, 0.1f, 5000));
}

TEST(Detector, DecisionFollowsTheThresholds) {
  Loaded m(TimeModel().bytes);
  int zones[3] = {};
  for (const auto& window : Windows(40, 20.0f, 0.1f, 9000)) {
    auto r = m.detector.Run(window.data(), window.size());
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(std::isfinite(r.value.score));
    EXPECT_EQ(r.value.score, r.value.mse * m.view.parts[0].score_scale);
    const auto expected = core::Decide(r.value.score, m.view.thresholds);
    EXPECT_EQ(r.value.decision.zone, expected.zone);
    EXPECT_EQ(r.value.decision.confidence, expected.confidence);
    ++zones[static_cast<int>(r.value.decision.zone)];
  }
  EXPECT_GT(zones[0], 20);  // windows like the calibration set look normal
  // A different machine (a 70 Hz tone, five times stronger) scores far higher.
  const auto odd = testing::FanWindow(70.0f, 0.5f, 1);
  auto r = m.detector.Run(odd.data(), odd.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value.decision.zone, core::Zone::kAnomaly);
}

TEST(Detector, IgnoresTheStaticMean) {
  Loaded m(TimeModel().bytes);
  auto window = testing::FanWindow(20.0f, 0.1f, 77);
  const float before = m.detector.Run(window.data(), window.size()).value.score;
  for (std::size_t i = 0; i < window.size(); i += 3) window[i] += 0.25f;  // re-taped sensor
  const float after = m.detector.Run(window.data(), window.size()).value.score;
  EXPECT_NEAR(after, before, 0.02f * before);
}

TEST(Detector, IsDeterministic) {
  Loaded m(TimeModel().bytes);
  const auto window = testing::FanWindow(20.0f, 0.1f, 8);
  const float a = m.detector.Run(window.data(), window.size()).value.score;
  const float b = m.detector.Run(window.data(), window.size()).value.score;
  EXPECT_EQ(a, b);
}

TEST(Detector, RejectsBadWindows) {
  Loaded m(TimeModel().bytes);
  auto window = testing::FanWindow(20.0f, 0.1f, 8);
  EXPECT_EQ(m.detector.Run(window.data(), 299).status, core::Status::kBadInput);
  EXPECT_EQ(m.detector.Run(window.data(), 301).status, core::Status::kBadInput);
  EXPECT_EQ(m.detector.Run(nullptr, 300).status, core::Status::kBadInput);
  window[42] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(m.detector.Run(window.data(), 300).status, core::Status::kBadInput);
  window[42] = -std::numeric_limits<float>::infinity();
  EXPECT_EQ(m.detector.Run(window.data(), 300).status, core::Status::kBadInput);
  window[42] = 1e30f;  // finite but no sensor's reading
  EXPECT_EQ(m.detector.Run(window.data(), 300).status, core::Status::kBadInput);
  window[42] = 50.0f;  // a 50 g spike: valid, saturates the int8 input, never overflows
  auto r = m.detector.Run(window.data(), 300);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value.decision.zone, core::Zone::kAnomaly);
}

TEST(Detector, ChecksItsArena) {
  Loaded m(TimeModel().bytes);
  const std::size_t need = core::RequiredArenaBytes(m.view);
  std::vector<std::uint64_t> arena(need / 8 + 2);
  EXPECT_EQ(core::Detector::Create(m.view, arena.data(), need - 1).status, core::Status::kArenaTooSmall);
  EXPECT_EQ(core::Detector::Create(m.view, reinterpret_cast<std::uint8_t*>(arena.data()) + 4, need).status,
            core::Status::kMisaligned);
  EXPECT_EQ(core::Detector::Create(core::ModelView{}, arena.data(), need).status, core::Status::kBadArgument);
  EXPECT_TRUE(core::Detector::Create(m.view, arena.data(), need).ok());
}

TEST(Detector, RecognisesTheOperatingModeFromTheSpectrum) {
  std::vector<std::vector<float>> windows;
  for (float hz : {10.0f, 20.0f, 40.0f}) {
    for (const auto& w : Windows(20, hz)) windows.push_back(w);
  }
  const auto model = testing::BuildSpectralModel(windows, {10.0f, 20.0f, 40.0f}, 11);
  Loaded m(model.bytes);
  const float tones[] = {10.0f, 20.0f, 40.0f};
  for (std::uint32_t mode = 0; mode < 3; ++mode) {
    for (const auto& w : Windows(10, tones[mode], 0.1f, 600 + mode * 50)) {
      auto r = m.detector.Run(w.data(), w.size());
      ASSERT_TRUE(r.ok());
      EXPECT_EQ(r.value.mode, mode) << tones[mode] << " Hz";
    }
  }
}

TEST(Detector, SpectralInt8MatchesTheFloatReference) {
  const auto model = testing::BuildSpectralModel(Windows(64, 20.0f), {20.0f}, 5);
  ExpectInt8Fidelity(model, Windows(30, 20.0f, 0.1f, 7000));
}

}  // namespace
}  // namespace edgefleet
