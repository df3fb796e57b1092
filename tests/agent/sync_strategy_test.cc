// The sync strategies as pure decisions on simulated time, and a simulated
// day per strategy counting sync sessions.
#include "agent/sync_strategy.h"

#include <gtest/gtest.h>

namespace edgefleet::agent {
namespace {

constexpr std::int64_t kMin = 60'000;
constexpr std::int64_t kHour = 60 * kMin;
constexpr std::int64_t kDay = 24 * kHour;
constexpr std::int64_t kMidnight = 1'796'601'600'000;  // 2026-12-07 00:00 UTC

PowerState Wifi(std::optional<int> battery = std::nullopt, bool charging = false) {
  return {NetworkType::kWifi, battery, charging};
}
PowerState Cell(std::optional<int> battery = std::nullopt) { return {NetworkType::kCellular, battery, false}; }

SyncInputs In(std::int64_t now, std::int64_t pending, std::int64_t critical, std::optional<std::int64_t> last,
              PowerState power) {
  SyncInputs in;
  in.now_ms = now;
  in.pending = pending;
  in.critical_pending = critical;
  in.last_sync_ms = last;
  in.power = power;
  return in;
}

bool Sync(StrategyKind k, const SyncInputs& in, const StrategyConfig& c = {}) { return ShouldSync(k, c, in).sync; }

TEST(SyncStrategyTest, Names) {
  for (const auto k : {StrategyKind::kPeriodic, StrategyKind::kEvent, StrategyKind::kOpportunistic,
                       StrategyKind::kBatched, StrategyKind::kAdaptive}) {
    EXPECT_EQ(ParseStrategy(ToString(k)).value(), k);
  }
  EXPECT_EQ(ParseStrategy("event_driven").value(), StrategyKind::kEvent);
  EXPECT_EQ(ParseStrategy("hourly").error().code(), common::ErrorCode::kInvalidArgument);
}

struct Case {
  const char* name;
  StrategyKind kind;
  SyncInputs in;
  bool expected;
};

TEST(SyncStrategyTest, DecisionTable) {
  const std::int64_t t = kMidnight + 10 * kHour;
  const Case cases[] = {
      // every strategy: offline, nothing pending, backoff
      {"adaptive offline, critical", StrategyKind::kAdaptive, In(t, 5, 5, t - kDay, {NetworkType::kNone, 90, false}), false},
      {"periodic nothing pending", StrategyKind::kPeriodic, In(t, 0, 0, t - kDay, Wifi()), false},
      {"event backing off", StrategyKind::kEvent, [&] { auto i = In(t, 5, 5, t - kDay, Wifi()); i.retry_not_before_ms = t + 1; return i; }(), false},
      {"event backoff over", StrategyKind::kEvent, [&] { auto i = In(t, 5, 5, t - kDay, Wifi()); i.retry_not_before_ms = t; return i; }(), true},
      // periodic
      {"periodic before 5 min", StrategyKind::kPeriodic, In(t, 5, 0, t - 5 * kMin + 1, Cell()), false},
      {"periodic at 5 min", StrategyKind::kPeriodic, In(t, 5, 0, t - 5 * kMin, Cell()), true},
      {"periodic never synced", StrategyKind::kPeriodic, In(t, 5, 0, std::nullopt, Cell()), true},
      // event
      {"event critical", StrategyKind::kEvent, In(t, 1, 1, t - 1, Cell()), true},
      {"event no critical", StrategyKind::kEvent, In(t, 9999, 0, t - kDay, Wifi()), false},
      {"event full batch", StrategyKind::kEvent, In(t, 10000, 0, t - 1, Cell()), true},
      // opportunistic
      {"opportunistic wifi 21%", StrategyKind::kOpportunistic, In(t, 1, 0, t - 15 * kMin, Wifi(21)), true},
      {"opportunistic wifi 20%", StrategyKind::kOpportunistic, In(t, 1, 0, t - 15 * kMin, Wifi(20)), false},
      {"opportunistic wifi 5% charging", StrategyKind::kOpportunistic, In(t, 1, 0, t - 15 * kMin, Wifi(5, true)), true},
      {"opportunistic wifi mains", StrategyKind::kOpportunistic, In(t, 1, 0, t - 15 * kMin, Wifi()), true},
      {"opportunistic too soon", StrategyKind::kOpportunistic, In(t, 1, 0, t - 15 * kMin + 1, Wifi()), false},
      {"opportunistic ethernet", StrategyKind::kOpportunistic, In(t, 1, 0, t - 15 * kMin, {NetworkType::kEthernet, 50, false}), true},
      {"opportunistic cellular full battery", StrategyKind::kOpportunistic, In(t, 1000, 1000, t - kDay, Cell(100)), false},
      // batched: nightly at 02:00
      {"batched after 02:00, last yesterday", StrategyKind::kBatched, In(kMidnight + 2 * kHour, 5, 5, kMidnight - kHour, Cell()), true},
      {"batched before 02:00", StrategyKind::kBatched, In(kMidnight + 2 * kHour - 1, 5, 5, kMidnight - 20 * kHour, Cell()), false},
      {"batched done tonight", StrategyKind::kBatched, In(kMidnight + 10 * kHour, 5, 5, kMidnight + 2 * kHour, Cell()), false},
      {"batched critical waits", StrategyKind::kBatched, In(kMidnight + 10 * kHour, 5, 5, kMidnight + 3 * kHour, Wifi()), false},
      // adaptive
      {"adaptive critical on cellular", StrategyKind::kAdaptive, In(t, 1, 1, t - 1, Cell(10)), true},
      {"adaptive wifi 101 pending", StrategyKind::kAdaptive, In(t, 101, 0, t - 1, Wifi()), true},
      {"adaptive wifi 100 pending", StrategyKind::kAdaptive, In(t, 100, 0, t - 1, Wifi()), false},
      {"adaptive cellular 5000 pending", StrategyKind::kAdaptive, In(t, 5000, 0, t - 1, Cell()), false},
      {"adaptive hourly on cellular", StrategyKind::kAdaptive, In(t, 3, 0, t - kHour, Cell()), true},
      {"adaptive before the hour", StrategyKind::kAdaptive, In(t, 3, 0, t - kHour + 1, Cell()), false},
  };
  for (const Case& c : cases) {
    const SyncDecision d = ShouldSync(c.kind, {}, c.in);
    EXPECT_EQ(d.sync, c.expected) << c.name << " (" << d.reason << ")";
    EXPECT_NE(std::string(d.reason), "") << c.name;
  }
}

TEST(SyncStrategyTest, CriticalBurstsCanBeCoalesced) {
  StrategyConfig c;
  c.critical_min_interval_ms = 60'000;
  const std::int64_t t = kMidnight + kHour;
  for (const auto k : {StrategyKind::kEvent, StrategyKind::kAdaptive}) {
    EXPECT_FALSE(Sync(k, In(t, 5, 5, t - 59'999, Cell()), c));
    EXPECT_TRUE(Sync(k, In(t, 5, 5, t - 60'000, Cell()), c));
    EXPECT_TRUE(Sync(k, In(t, 5, 5, t - 1, Cell())));  // the default: at once
  }
}

TEST(SyncStrategyTest, BatchedFollowsTheLocalHour) {
  StrategyConfig c;
  c.batched_hour = 2;
  c.utc_offset_minutes = 60;  // 02:00 local is 01:00 UTC
  EXPECT_TRUE(Sync(StrategyKind::kBatched, In(kMidnight + kHour, 1, 0, kMidnight - kHour, Cell()), c));
  EXPECT_FALSE(Sync(StrategyKind::kBatched, In(kMidnight + kHour - 1, 1, 0, kMidnight - 22 * kHour, Cell()), c));
}

// A day at 2 windows a second on Wi-Fi until 08:00, cellular after, one
// anomaly an hour: how many sessions each strategy starts.
int SessionsInADay(StrategyKind kind, std::int64_t wifi_until = 8 * kHour) {
  std::int64_t last = kMidnight;
  std::int64_t pending = 0;
  std::int64_t critical = 0;
  int sessions = 0;
  for (std::int64_t t = kMidnight; t < kMidnight + kDay; t += 1000) {
    pending += 2;
    if ((t - kMidnight) % kHour == 30 * kMin) ++critical, ++pending;
    const PowerState p = t < kMidnight + wifi_until ? Wifi(80) : Cell(60);
    if (ShouldSync(kind, {}, In(t, pending, critical, last, p)).sync) {
      ++sessions;
      pending = 0;
      critical = 0;
      last = t;
    }
  }
  return sessions;
}

TEST(SyncStrategyTest, ADayOfSessionsPerStrategy) {
  EXPECT_EQ(SessionsInADay(StrategyKind::kPeriodic), 24 * 12 - 1);  // the day starts synced
  EXPECT_EQ(SessionsInADay(StrategyKind::kEvent), 24);
  EXPECT_EQ(SessionsInADay(StrategyKind::kBatched), 1);
  // Wifi until 08:00: every 15 minutes.
  EXPECT_EQ(SessionsInADay(StrategyKind::kOpportunistic), 8 * 4 - 1);  // 00:15 .. 07:45
  // On cellular only the hourly anomaly (which is also the hour) starts one.
  EXPECT_EQ(SessionsInADay(StrategyKind::kAdaptive, 0), 24);
  // On Wi-Fi, every 51 s (more than 100 pending), and the anomalies.
  const int adaptive = SessionsInADay(StrategyKind::kAdaptive);
  EXPECT_GE(adaptive, 8 * 3600 / 51 + 16);
  EXPECT_LE(adaptive, 8 * 3600 / 51 + 8 + 16 + 8);
}

TEST(SyncLedgerTest, CountsPerStrategy) {
  SyncLedger l;
  l.Add(StrategyKind::kAdaptive, 100, 10);
  l.Add(StrategyKind::kAdaptive, 50, 5);
  l.Add(StrategyKind::kPeriodic, 1, 1);
  EXPECT_EQ(l.at(StrategyKind::kAdaptive).up, 150);
  EXPECT_EQ(l.at(StrategyKind::kAdaptive).down, 15);
  EXPECT_EQ(l.at(StrategyKind::kAdaptive).sessions, 2);
  EXPECT_EQ(l.at(StrategyKind::kBatched).sessions, 0);
}

}  // namespace
}  // namespace edgefleet::agent
