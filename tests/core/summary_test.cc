#include "core/summary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tests/core/fixtures.h"

namespace edgefleet {
namespace {

struct Summary {
  std::vector<std::uint64_t> arena;
  core::FeatureSummary summary;

  explicit Summary(core::SummaryConfig config = {100, 200, 0.0f, 1.0f})
      : arena((core::FeatureSummary::RequiredBytes(config.window_len) + 7) / 8) {
    auto created = core::FeatureSummary::Create(config, arena.data(), arena.size() * 8);
    EXPECT_TRUE(created.ok());
    summary = created.value;
  }
};

TEST(FeatureSummary, TwentyValuesMatchADirectComputation) {
  Summary s;
  std::vector<float> all[3];
  const float scores[] = {0.05f, 0.15f, 0.15f, 0.95f, 5.0f, -1.0f};
  for (int w = 0; w < 6; ++w) {
    const auto window = testing::FanWindow(30.0f, 0.2f, static_cast<std::uint64_t>(w));
    ASSERT_EQ(s.summary.Add(window.data(), window.size(), scores[w]), core::Status::kOk);
    for (std::size_t i = 0; i < 300; ++i) all[i % 3].push_back(window[i]);
  }
  float v[core::kSummaryValues];
  s.summary.Values(v);
  for (int a = 0; a < 3; ++a) {
    double mean = 0.0;
    for (float x : all[a]) mean += static_cast<double>(x);
    mean /= static_cast<double>(all[a].size());
    double var = 0.0;
    for (float x : all[a]) var += (static_cast<double>(x) - mean) * (static_cast<double>(x) - mean);
    var /= static_cast<double>(all[a].size());
    EXPECT_NEAR(v[a], mean, 1e-6) << a;
    EXPECT_NEAR(v[3 + a], var, 1e-6) << a;
    EXPECT_FLOAT_EQ(v[16 + a], 30.0f) << a;  // the tone, in Hz
  }
  // Histogram over [0, 1): bins 0, 1, 1, 9, and out-of-range scores clamp.
  EXPECT_FLOAT_EQ(v[6 + 0], 2.0f);   // 0.05 and -1
  EXPECT_FLOAT_EQ(v[6 + 1], 2.0f);   // 0.15 twice
  EXPECT_FLOAT_EQ(v[6 + 9], 2.0f);   // 0.95 and 5
  EXPECT_FLOAT_EQ(v[19], 6.0f);
}

TEST(FeatureSummary, RejectsBadWindowsAndKeepsItsState) {
  Summary s;
  std::vector<float> window = testing::FanWindow(30.0f, 0.2f, 1);
  ASSERT_EQ(s.summary.Add(window.data(), window.size(), 0.1f), core::Status::kOk);
  EXPECT_EQ(s.summary.Add(window.data(), 299, 0.1f), core::Status::kBadInput);
  EXPECT_EQ(s.summary.Add(window.data(), 300, std::numeric_limits<float>::quiet_NaN()), core::Status::kBadInput);
  window[17] = std::numeric_limits<float>::infinity();
  EXPECT_EQ(s.summary.Add(window.data(), 300, 0.1f), core::Status::kBadInput);
  EXPECT_EQ(s.summary.windows(), 1u);
}

TEST(FeatureSummary, ResetAndEmpty) {
  Summary s;
  float v[core::kSummaryValues];
  s.summary.Values(v);
  for (float x : v) EXPECT_EQ(x, 0.0f);
  const auto window = testing::FanWindow(30.0f, 0.2f, 1);
  ASSERT_EQ(s.summary.Add(window.data(), window.size(), 0.1f), core::Status::kOk);
  s.summary.Reset();
  s.summary.Values(v);
  EXPECT_EQ(v[19], 0.0f);
}

TEST(FeatureSummary, RejectsBadConfigAndSmallArena) {
  std::vector<std::uint64_t> arena(1024);
  EXPECT_EQ(core::FeatureSummary::Create({100, 200, 1.0f, 1.0f}, arena.data(), 8192).status, core::Status::kBadArgument);
  EXPECT_EQ(core::FeatureSummary::Create({100, 0, 0.0f, 1.0f}, arena.data(), 8192).status, core::Status::kBadArgument);
  EXPECT_EQ(core::FeatureSummary::Create({100, 200, 0.0f, 1.0f}, arena.data(), 64).status, core::Status::kArenaTooSmall);
  EXPECT_EQ(core::FeatureSummary::Create({97, 200, 0.0f, 1.0f}, arena.data(), 8192).status, core::Status::kBadArgument);
}

}  // namespace
}  // namespace edgefleet
