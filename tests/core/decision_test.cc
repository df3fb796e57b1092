#include "core/decision.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/backoff.h"

namespace edgefleet {
namespace {

using core::Label;
using core::Zone;

core::Thresholds Seeds() {
  // The seed's example: mu + 2 sigma = 0.015, mu + 4 sigma = 0.045.
  core::Thresholds t;
  t.mu = -0.015f;
  t.sigma = 0.015f;
  t.low = 0.015f;
  t.high = 0.045f;
  return t;
}

TEST(Decide, ThreeZonesWithInclusiveAmbiguousBounds) {
  const auto t = Seeds();
  EXPECT_EQ(core::Decide(0.0f, t).zone, Zone::kNormal);
  EXPECT_EQ(core::Decide(0.0149f, t).zone, Zone::kNormal);
  EXPECT_EQ(core::Decide(0.015f, t).zone, Zone::kAmbiguous);  // low <= mse
  EXPECT_EQ(core::Decide(0.03f, t).zone, Zone::kAmbiguous);
  EXPECT_EQ(core::Decide(0.045f, t).zone, Zone::kAmbiguous);  // mse <= high
  EXPECT_EQ(core::Decide(0.0451f, t).zone, Zone::kAnomaly);
  EXPECT_EQ(core::Decide(0.0f, t).label, Label::kNormal);
  EXPECT_EQ(core::Decide(1.0f, t).label, Label::kAnomaly);
  EXPECT_TRUE(core::Decide(0.03f, t).escalate());
  EXPECT_FALSE(core::Decide(0.0f, t).escalate());
}

TEST(Decide, FallbackTakesTheCloserThreshold) {
  const auto t = Seeds();
  EXPECT_EQ(core::FallbackLabel(0.016f, t), Label::kNormal);
  EXPECT_EQ(core::FallbackLabel(0.0299f, t), Label::kNormal);
  EXPECT_EQ(core::FallbackLabel(0.0301f, t), Label::kAnomaly);
  core::Thresholds exact;
  exact.low = 1.0f;
  exact.high = 3.0f;
  EXPECT_EQ(core::FallbackLabel(2.0f, exact), Label::kAnomaly);  // a tie goes to anomaly
  EXPECT_EQ(core::FallbackLabel(0.044f, t), Label::kAnomaly);
  EXPECT_EQ(core::Decide(0.02f, t).label, Label::kNormal);
  EXPECT_EQ(core::Decide(0.04f, t).label, Label::kAnomaly);
}

TEST(Confidence, EveryAmbiguousWindowIsBelowPointSeven) {
  const auto t = Seeds();
  for (float s = t.low; s <= t.high; s += (t.high - t.low) / 1000.0f) {
    const float c = core::Confidence(s, t);
    EXPECT_LT(c, core::kHardSampleConfidence) << s;
    EXPECT_GE(c, 0.5f) << s;
  }
  EXPECT_LT(core::Confidence(t.low, t), 0.7f);
  EXPECT_LT(core::Confidence(t.high, t), 0.7f);
}

TEST(Confidence, ClearZonesAreAbovePointSevenAndGrowWithDistance) {
  const auto t = Seeds();
  float previous = core::Confidence(t.high + 1e-6f, t);
  EXPECT_GT(previous, 0.7f);
  for (float s = t.high + 0.001f; s < 1.0f; s += 0.001f) {
    const float c = core::Confidence(s, t);
    EXPECT_GE(c, previous) << s;
    EXPECT_LE(c, 1.0f);
    previous = c;
  }
  previous = core::Confidence(t.low - 1e-6f, t);
  EXPECT_GT(previous, 0.7f);
  for (float s = t.low - 0.0005f; s >= 0.0f; s -= 0.0005f) {
    const float c = core::Confidence(s, t);
    EXPECT_GE(c, previous) << s;
    previous = c;
  }
}

TEST(Confidence, InsideTheZoneItGrowsTowardsEitherEdge) {
  const auto t = Seeds();
  const float mid = 0.5f * (t.low + t.high);
  EXPECT_FLOAT_EQ(core::Confidence(mid, t), 0.5f);
  EXPECT_GT(core::Confidence(mid + 0.005f, t), core::Confidence(mid + 0.001f, t));
  EXPECT_GT(core::Confidence(mid - 0.005f, t), core::Confidence(mid - 0.001f, t));
}

TEST(Decide, NanScoreGoesToTheCloudAndInfinityIsAnAnomaly) {
  const auto t = Seeds();
  const auto d = core::Decide(std::numeric_limits<float>::quiet_NaN(), t);
  EXPECT_EQ(d.zone, Zone::kAmbiguous);
  EXPECT_LT(d.confidence, 0.7f);
  const auto inf = core::Decide(std::numeric_limits<float>::infinity(), t);
  EXPECT_EQ(inf.zone, Zone::kAnomaly);
  EXPECT_FLOAT_EQ(inf.confidence, 1.0f);
}

TEST(Decide, DegenerateZoneOfZeroWidth) {
  core::Thresholds t;
  t.low = t.high = 1.0f;
  EXPECT_EQ(core::Decide(1.0f, t).zone, Zone::kAmbiguous);
  EXPECT_LT(core::Decide(1.0f, t).confidence, 0.7f);
  EXPECT_GT(core::Decide(0.5f, t).confidence, 0.7f);
}

TEST(Backoff, DoublesFromOneMinuteToThirtyAndResets) {
  core::Backoff b;
  std::int64_t now = 0;
  EXPECT_TRUE(b.MayAttempt(now));
  const std::int64_t expected_minutes[] = {1, 2, 4, 8, 16, 30, 30, 30};
  for (std::int64_t minutes : expected_minutes) {
    b.OnFailure(now);
    EXPECT_EQ(b.delay_ms(), minutes * 60'000);
    EXPECT_FALSE(b.MayAttempt(now + minutes * 60'000 - 1));
    now += minutes * 60'000;
    EXPECT_TRUE(b.MayAttempt(now));
  }
  EXPECT_EQ(b.failures(), 8u);
  b.OnSuccess();
  EXPECT_FALSE(b.backing_off());
  EXPECT_TRUE(b.MayAttempt(now));
  b.OnFailure(now);
  EXPECT_EQ(b.delay_ms(), 60'000);
}

TEST(Backoff, ThousandsOfFailuresNeverOverflow) {
  core::Backoff b;
  for (int i = 0; i < 100'000; ++i) b.OnFailure(i);
  EXPECT_EQ(b.delay_ms(), 30 * 60'000);
  EXPECT_EQ(b.next_attempt_ms(), 99'999 + 30 * 60'000);
}

TEST(Backoff, Configurable) {
  core::Backoff b(core::BackoffConfig{1000, 5000});
  b.OnFailure(0);
  EXPECT_EQ(b.delay_ms(), 1000);
  b.OnFailure(0);
  b.OnFailure(0);
  EXPECT_EQ(b.delay_ms(), 4000);
  b.OnFailure(0);
  EXPECT_EQ(b.delay_ms(), 5000);
}

}  // namespace
}  // namespace edgefleet
