// The agent's runtime under a simulated clock with fakes: tiered decisions,
// escalation, fallback and backoff while the cloud is down, store-and-forward
// sync while offline, telemetry, health.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "agent/agent.h"
#include "tests/agent/fakes.h"

namespace edgefleet::agent {
namespace {

using testing::CountingServer;
using testing::FakeCloud;
using testing::MemoryStore;
using testing::RecordingTelemetry;

constexpr std::int64_t kWindowMs = 500;  // 100 samples at 200 Hz
constexpr std::int64_t kMinute = 60'000;

class AgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& w = testing::WindowsByZone();
    ASSERT_FALSE(w.normal.empty());
    ASSERT_FALSE(w.ambiguous.empty());
    ASSERT_FALSE(w.anomaly.empty());
  }

  // Syncs on the strategy's schedule; the default here is batched (nightly),
  // so tests that are not about sync see none.
  void Make(StrategyKind strategy = StrategyKind::kBatched, PowerProvider* power = nullptr) {
    AgentConfig config;
    config.device_id = "dev-1";
    config.status_interval_ms = 10 * kMinute;
    config.health_interval_ms = 15 * kMinute;
    config.strategy = strategy;
    AgentDeps deps{&clock, &store, &cloud, &server, &telemetry, power};
    auto made = Agent::Create(config, deps, testing::GoldenModel());
    ASSERT_TRUE(made.ok()) << made.error().ToString();
    agent = std::move(made).value();
  }

  // One window every 500 ms of simulated time: normal, ambiguous, normal,
  // anomaly, ... so a quarter of the windows are ambiguous.
  WindowResult Step() {
    const auto& w = testing::WindowsByZone();
    const std::size_t k = step_++;
    const std::vector<float>* window = nullptr;
    switch (k % 4) {
      case 1: window = &w.ambiguous[k % w.ambiguous.size()]; break;
      case 3: window = &w.anomaly[k % w.anomaly.size()]; break;
      default: window = &w.normal[k % w.normal.size()]; break;
    }
    clock.AdvanceMs(kWindowMs);
    auto result = agent->OnWindow(*window);
    EXPECT_TRUE(result.ok());
    agent->Poll();
    return result.ok() ? result.value() : WindowResult{};
  }

  SimClock clock;
  MemoryStore store;
  FakeCloud cloud;
  CountingServer server;
  RecordingTelemetry telemetry;
  std::unique_ptr<Agent> agent;
  std::size_t step_ = 0;
};

TEST_F(AgentTest, ClearZonesAreDecidedLocallyWithoutTheCloud) {
  Make();
  for (const auto& window : testing::WindowsByZone().normal) {
    auto r = agent->OnWindow(window);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().decision, "normal");
    EXPECT_GT(r.value().confidence, 0.7);
  }
  for (const auto& window : testing::WindowsByZone().anomaly) {
    auto r = agent->OnWindow(window);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().decision, "anomaly");
  }
  EXPECT_TRUE(cloud.requests.empty());
  for (const auto& [seq, row] : store.rows) {
    EXPECT_FALSE(row.has_hard);
    EXPECT_FALSE(row.inference.fallback);
    EXPECT_EQ(row.inference.input_hash.size(), 16u);
  }
}

TEST_F(AgentTest, EscalationHappyPathRecordsTheCloudDecision) {
  Make();
  cloud.mode = FakeCloud::Mode::kHold;
  const auto& window = testing::WindowsByZone().ambiguous.front();
  auto r = agent->OnWindow(window);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.value().escalated);
  ASSERT_EQ(cloud.requests.size(), 1u);
  EXPECT_EQ(cloud.requests[0].device_id, "dev-1");
  EXPECT_EQ(cloud.requests[0].features, window);
  EXPECT_DOUBLE_EQ(cloud.requests[0].edge_mse, r.value().score);
  EXPECT_EQ(cloud.requests[0].model_version, agent->model_version());

  // Provisional until answered: stored (never lost) but not syncable.
  const auto seq = r.value().seq;
  EXPECT_TRUE(store.rows[seq].provisional);
  EXPECT_TRUE(store.rows[seq].has_hard);
  auto batch = store.BuildBatch(1 << 20);
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch.value().inferences.empty());

  // The loop goes on while the request is out.
  for (const auto& w : testing::WindowsByZone().normal) ASSERT_TRUE(agent->OnWindow(w).ok());

  ClassifyAnswer answer{"anomaly", 1, 0.91, 3.2, "cloud-7"};
  cloud.AnswerAll(answer);
  EXPECT_FALSE(store.rows[seq].provisional);
  EXPECT_EQ(store.rows[seq].inference.decision, "anomaly");
  EXPECT_DOUBLE_EQ(store.rows[seq].inference.confidence, 0.91);
  EXPECT_FALSE(store.rows[seq].inference.fallback);
  EXPECT_FALSE(agent->backoff().backing_off());
  EXPECT_EQ(agent->stats().cloud_answers, 1u);
  ASSERT_FALSE(telemetry.escalations.empty());
  EXPECT_EQ(telemetry.escalations.back().outcome, "cloud");
  EXPECT_EQ(telemetry.escalations.back().decision, "anomaly");
}

TEST_F(AgentTest, UnansweredEscalationFallsBackAtTheDeadline) {
  Make();
  cloud.mode = FakeCloud::Mode::kHold;
  auto r = agent->OnWindow(testing::WindowsByZone().ambiguous.front());
  ASSERT_TRUE(r.ok());
  clock.AdvanceMs(4999);
  agent->Poll();
  EXPECT_EQ(agent->pending_escalations(), 1u);
  clock.AdvanceMs(1);
  agent->Poll();
  EXPECT_EQ(agent->pending_escalations(), 0u);
  const auto& row = store.rows[r.value().seq];
  EXPECT_FALSE(row.provisional);
  EXPECT_TRUE(row.inference.fallback);
  EXPECT_EQ(row.inference.decision, r.value().decision);  // the closer threshold
  EXPECT_TRUE(row.has_hard);
  EXPECT_TRUE(agent->backoff().backing_off());
  EXPECT_EQ(agent->backoff().delay_ms(), kMinute);
  EXPECT_EQ(telemetry.escalations.back().outcome, "timeout");
  ASSERT_EQ(telemetry.inferences.size(), 1u);
  EXPECT_TRUE(telemetry.inferences[0].fallback);
  EXPECT_EQ(telemetry.inferences[0].zone, "ambiguous");
  // A late answer changes nothing.
  cloud.AnswerAll(ClassifyAnswer{"anomaly", 1, 0.9, 1.0, "c"});
  EXPECT_TRUE(store.rows[r.value().seq].inference.fallback);
  EXPECT_TRUE(agent->backoff().backing_off());
}

TEST_F(AgentTest, CloudDownBacksOffOneTwoFourUpToThirtyMinutesAndResets) {
  Make();
  cloud.mode = FakeCloud::Mode::kDown;
  std::vector<std::int64_t> delays;
  std::size_t requests_seen = 0;
  const std::int64_t start = clock.SteadyMs();
  std::uint64_t windows = 0;
  // 1+2+4+8+16+30+30 = 91 minutes, plus a margin to reach the 7th attempt.
  while (delays.size() < 7) {
    Step();
    ++windows;
    if (cloud.requests.size() != requests_seen) {
      requests_seen = cloud.requests.size();
      delays.push_back(agent->backoff().delay_ms());
    }
    ASSERT_LT(clock.SteadyMs() - start, 120 * kMinute);
  }
  EXPECT_EQ(delays, (std::vector<std::int64_t>{1 * kMinute, 2 * kMinute, 4 * kMinute, 8 * kMinute,
                                               16 * kMinute, 30 * kMinute, 30 * kMinute}));
  // Decisions went on at full rate: one per window, none waited.
  EXPECT_EQ(agent->stats().windows, windows);
  EXPECT_EQ(store.rows.size(), windows);
  const std::uint64_t ambiguous = agent->stats().ambiguous;
  EXPECT_EQ(agent->stats().fallbacks, ambiguous);
  EXPECT_EQ(agent->stats().escalations, 7u);
  std::uint64_t hard = 0, fallback_rows = 0;
  for (const auto& [seq, row] : store.rows) {
    hard += row.has_hard ? 1 : 0;
    fallback_rows += row.inference.fallback ? 1 : 0;
    EXPECT_FALSE(row.provisional);
  }
  EXPECT_EQ(hard, ambiguous);
  EXPECT_EQ(fallback_rows, ambiguous);
  // The backoff is in the status telemetry.
  ASSERT_FALSE(telemetry.statuses.empty());
  EXPECT_TRUE(telemetry.statuses.back().backoff.backing_off);
  EXPECT_EQ(telemetry.statuses.back().backoff.delay_ms, 30 * kMinute);

  // The cloud returns: the next attempt (after the 30 minutes) succeeds and resets.
  cloud.mode = FakeCloud::Mode::kAnswer;
  while (cloud.requests.size() == requests_seen) Step();
  EXPECT_FALSE(agent->backoff().backing_off());
  EXPECT_EQ(agent->backoff().failures(), 0u);
  EXPECT_FALSE(telemetry.statuses.back().backoff.backing_off);
  // And every ambiguous window after that is escalated again.
  const auto before = cloud.requests.size();
  for (int i = 0; i < 8; ++i) Step();
  EXPECT_EQ(cloud.requests.size(), before + 2);
}

TEST_F(AgentTest, OfflineForAnHourThenBackSyncsEveryRowExactlyOnce) {
  // Periodic strategy: every 5 minutes.
  Make(StrategyKind::kPeriodic);
  server.up = false;
  cloud.mode = FakeCloud::Mode::kDown;
  for (std::int64_t t = 0; t < 60 * kMinute; t += kWindowMs) Step();
  EXPECT_GT(server.failures, 0u);
  EXPECT_TRUE(server.inference_received.empty());
  EXPECT_EQ(agent->stats().rows_synced, 0u);
  server.up = true;
  cloud.mode = FakeCloud::Mode::kAnswer;
  for (std::int64_t t = 0; t < 10 * kMinute; t += kWindowMs) Step();
  agent->Shutdown();  // the last health row
  while (agent->SyncNow()) {
  }
  // Every row the agent stored reached the receiving side exactly once.
  ASSERT_EQ(server.inference_received.size(), store.rows.size());
  std::size_t hard = 0;
  for (const auto& [seq, row] : store.rows) {
    EXPECT_EQ(server.inference_received[seq], 1) << seq;
    EXPECT_EQ(server.inferences[seq], row.inference) << seq;
    EXPECT_TRUE(row.synced);
    if (row.has_hard) {
      ++hard;
      EXPECT_EQ(server.hard_received[row.hard.seq], 1);
    }
  }
  EXPECT_EQ(server.hard_received.size(), hard);
  EXPECT_EQ(server.health_received.size(), store.health.size());
  EXPECT_GE(store.health.size(), 4u);
  for (const auto& [seq, n] : server.health_received) EXPECT_EQ(n, 1);
  EXPECT_EQ(store.PendingRows().value(), 0);
}

TEST_F(AgentTest, FailedSyncMarksNothingAndInFlightProvisionalRowsWait) {
  Make(StrategyKind::kEvent);  // anomalies go at once
  cloud.mode = FakeCloud::Mode::kHold;
  server.up = false;
  for (int i = 0; i < 8; ++i) Step();
  for (const auto& [seq, row] : store.rows) EXPECT_FALSE(row.synced);
  server.up = true;
  clock.AdvanceMs(2 * kMinute);
  agent->Poll();
  agent->Poll();
  // Escalations were answered by the deadline; nothing provisional was sent.
  for (const auto& [seq, row] : store.rows) {
    EXPECT_TRUE(row.synced) << seq;
    EXPECT_EQ(server.inferences[seq].fallback, row.inference.fallback);
  }
}

TEST_F(AgentTest, ProvisionalRowsOfACrashedProcessAreReleasedAsFallbacks) {
  MemoryStore::Row row;
  row.inference.seq = 1;
  row.inference.decision = "normal";
  row.inference.fallback = true;
  row.provisional = true;
  store.rows[1] = row;
  store.next_seq = 2;
  Make();
  EXPECT_FALSE(store.rows[1].provisional);
  EXPECT_TRUE(store.rows[1].inference.fallback);
}

TEST_F(AgentTest, ShutdownDecidesInFlightEscalationsAndPublishesOffline) {
  Make();
  cloud.mode = FakeCloud::Mode::kHold;
  auto r = agent->OnWindow(testing::WindowsByZone().ambiguous.front());
  ASSERT_TRUE(r.ok());
  agent->Shutdown();
  EXPECT_FALSE(store.rows[r.value().seq].provisional);
  EXPECT_TRUE(store.rows[r.value().seq].inference.fallback);
  ASSERT_FALSE(telemetry.statuses.empty());
  EXPECT_EQ(telemetry.statuses.back().state, "offline");
  EXPECT_EQ(store.health.size(), 1u);
}

TEST_F(AgentTest, HealthIsWrittenPerPeriodAndEveryDecisionIsReportedOnceFinal) {
  AgentConfig config;
  config.device_id = "dev-2";
  config.health_interval_ms = 10 * kMinute;
  AgentDeps deps{&clock, &store, &cloud, &server, &telemetry, nullptr};
  config.strategy = StrategyKind::kBatched;
  auto made = Agent::Create(config, deps, testing::GoldenModel());
  ASSERT_TRUE(made.ok());
  agent = std::move(made).value();
  for (std::int64_t t = 0; t < 30 * kMinute; t += kWindowMs) Step();
  ASSERT_EQ(store.health.size(), 3u);
  std::uint64_t windows = 0;
  for (const auto& [seq, h] : store.health) {
    EXPECT_EQ(h.model_version, agent->model_version());
    EXPECT_EQ(h.period_end_ms - h.period_start_ms, 10 * kMinute);
    const auto stats = nlohmann::json::parse(h.stats_json);
    windows += stats.at("windows").get<std::uint64_t>();
  }
  EXPECT_EQ(windows, agent->stats().windows);
  // One inference event per window, with its final decision; one escalation
  // event per ambiguous window.
  EXPECT_EQ(telemetry.inferences.size(), agent->stats().windows);
  EXPECT_EQ(telemetry.escalations.size(), agent->stats().ambiguous);
  for (const auto& e : telemetry.inferences) EXPECT_TRUE(e.decision == "normal" || e.decision == "anomaly");
}

TEST_F(AgentTest, StoreFailureRejectsTheWindowButTheAgentGoesOn) {
  Make();
  store.fail_appends = true;
  auto r = agent->OnWindow(testing::WindowsByZone().normal.front());
  EXPECT_FALSE(r.ok());
  store.fail_appends = false;
  EXPECT_TRUE(agent->OnWindow(testing::WindowsByZone().normal.front()).ok());
  std::vector<float> bad(300, 0.0f);
  bad[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(agent->OnWindow(bad).ok());
  EXPECT_FALSE(agent->OnWindow(std::vector<float>(299, 0.0f)).ok());
}

TEST_F(AgentTest, StatusIsPublishedOnChangeNotOnlyOnTheInterval) {
  Make();
  agent->Poll();
  ASSERT_EQ(telemetry.statuses.size(), 1u);  // "online" at start
  EXPECT_EQ(telemetry.statuses[0].state, "online");
  clock.AdvanceMs(1000);
  agent->Poll();
  EXPECT_EQ(telemetry.statuses.size(), 1u);  // nothing changed, interval not over
  cloud.mode = FakeCloud::Mode::kDown;
  ASSERT_TRUE(agent->OnWindow(testing::WindowsByZone().ambiguous.front()).ok());
  agent->Poll();
  ASSERT_EQ(telemetry.statuses.size(), 2u);  // the backoff started
  EXPECT_TRUE(telemetry.statuses[1].backoff.backing_off);
  EXPECT_EQ(telemetry.statuses[1].backoff.delay_ms, kMinute);
  EXPECT_EQ(telemetry.statuses[1].backoff.next_attempt_in_ms, kMinute);
  clock.AdvanceMs(kMinute);
  cloud.mode = FakeCloud::Mode::kAnswer;
  ASSERT_TRUE(agent->OnWindow(testing::WindowsByZone().ambiguous.front()).ok());
  agent->Poll();
  ASSERT_EQ(telemetry.statuses.size(), 3u);  // and ended
  EXPECT_FALSE(telemetry.statuses[2].backoff.backing_off);
  clock.AdvanceMs(10 * kMinute);
  agent->Poll();
  EXPECT_EQ(telemetry.statuses.size(), 4u);  // the interval
}

TEST_F(AgentTest, RejectsACorruptModel) {
  auto bytes = testing::GoldenModel();
  bytes[bytes.size() / 2] ^= 0x40;
  AgentConfig config;
  config.device_id = "d";
  auto made = Agent::Create(config, AgentDeps{&clock, &store, &cloud, &server, nullptr, nullptr}, bytes);
  EXPECT_FALSE(made.ok());
}

}  // namespace
}  // namespace edgefleet::agent
