// Golden test: the core runs a committed, trained edge artifact
// (tests/data/golden/edge-seed1.efm, made by `edgefleet train --seed 1`) on
// real windows of the shipped recordings and must reproduce the scores and
// zones recorded when it was made. It guards the whole device path (FFT,
// mode selector, normalisation, int8 kernels, decision) against silent
// changes, on every platform and build the tests run in.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/detector.h"
#include "dataset_test_util.h"

namespace edgefleet::ml {
namespace {

const std::filesystem::path kGolden = testing::SourceDir() / "tests" / "data" / "golden";

TEST(Golden, TrainedArtifactReproducesRecordedScoresOnRealWindows) {
  std::ifstream file(kGolden / "edge-seed1.efm", std::ios::binary);
  ASSERT_TRUE(file);
  const std::vector<char> raw((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<std::uint32_t> aligned((raw.size() + 3) / 4);
  std::memcpy(aligned.data(), raw.data(), raw.size());
  const auto model = core::ParseArtifact(reinterpret_cast<const std::uint8_t*>(aligned.data()), raw.size());
  ASSERT_TRUE(model.ok()) << core::ToString(model.status);
  std::vector<std::uint64_t> arena((core::RequiredArenaBytes(model.value) + 7) / 8);
  auto detector = core::Detector::Create(model.value, arena.data(), arena.size() * 8);
  ASSERT_TRUE(detector.ok());

  const auto& data = testing::ShippedDataset();
  ASSERT_TRUE(data.ok()) << data.error;
  std::ifstream csv(kGolden / "edge-seed1-scores.csv");
  std::string line;
  std::getline(csv, line);
  int checked = 0;
  std::vector<float> values(kWindowRows * kAxes);
  const core::Thresholds& t = model.value.thresholds;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::string name, capture, window, score, zone;
    std::getline(ss, name, ',');
    std::getline(ss, capture, ',');
    std::getline(ss, window, ',');
    std::getline(ss, score, ',');
    std::getline(ss, zone, ',');
    const Recording* r = data.value.Find(name);
    ASSERT_NE(r, nullptr) << name;
    WindowRef ref;
    ref.recording = static_cast<std::uint32_t>(r - data.value.recordings.data());
    ref.capture = static_cast<std::uint32_t>(std::stoul(capture));
    ref.window_in_capture = static_cast<std::uint32_t>(std::stoul(window));
    ref.first_row = r->capture_starts[ref.capture] + ref.window_in_capture * kWindowRows;
    ASSERT_TRUE(WindowValues(data.value, ref, values));
    const auto inference = detector.value.Run(values.data(), values.size());
    ASSERT_TRUE(inference.ok());
    const float expected = std::stof(score);
    // Float sums may run in another order on another kernel set or target.
    EXPECT_NEAR(inference.value.score, expected, 1e-4f * std::max(1.0f, expected)) << line;
    const bool near_threshold = std::fabs(expected - t.low) < 1e-3f || std::fabs(expected - t.high) < 1e-3f;
    if (!near_threshold) {
      EXPECT_STREQ(core::ToString(inference.value.decision.zone), zone.c_str()) << line;
    }
    ++checked;
  }
  EXPECT_GE(checked, 50);
}

}  // namespace
}  // namespace edgefleet::ml
