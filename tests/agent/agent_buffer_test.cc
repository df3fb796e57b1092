// The agent over the real SQLite buffer (BufferStore): offline for a
// simulated hour, then back; every row reaches the receiving side exactly
// once; a restarted agent goes on from what the file holds.
#include <gtest/gtest.h>

#include "agent/agent.h"
#include "agent/buffer_store.h"
#include "tests/agent/fakes.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::agent {
namespace {

constexpr std::int64_t kMinute = 60'000;

class AgentOnBuffer : public ::testing::Test {
 protected:
  void Open() {
    auto buffer = Buffer::Open(dir.path() / "buffer.db");
    ASSERT_TRUE(buffer.ok()) << buffer.error().ToString();
    buffer_ = std::move(buffer).value();
    store_ = std::make_unique<BufferStore>(*buffer_);
    AgentConfig config;
    config.device_id = "dev-b";
    config.strategy = StrategyKind::kPeriodic;
    config.sync_budget_bytes = 64 * 1024;  // several batches per session
    auto agent = Agent::Create(config, AgentDeps{&clock, store_.get(), &cloud, &server, nullptr, nullptr},
                               testing::GoldenModel());
    ASSERT_TRUE(agent.ok()) << agent.error().ToString();
    agent_ = std::move(agent).value();
  }

  void Run(std::int64_t ms) {
    const auto& w = testing::WindowsByZone();
    for (std::int64_t t = 0; t < ms; t += 500) {
      const std::size_t k = step_++;
      const auto& window = k % 5 == 1 ? w.ambiguous[k % w.ambiguous.size()]
                           : k % 5 == 3 ? w.anomaly[k % w.anomaly.size()]
                                        : w.normal[k % w.normal.size()];
      clock.AdvanceMs(500);
      ASSERT_TRUE(agent_->OnWindow(window).ok());
      ++windows_;
      agent_->Poll();
    }
  }

  TempDir dir;
  SimClock clock;
  testing::FakeCloud cloud;
  testing::CountingServer server;
  std::unique_ptr<Buffer> buffer_;
  std::unique_ptr<BufferStore> store_;
  std::unique_ptr<Agent> agent_;
  std::size_t step_ = 0;
  std::size_t windows_ = 0;
};

TEST_F(AgentOnBuffer, OfflineForAnHourThenBackEveryRowSyncedExactlyOnce) {
  Open();
  server.up = false;
  cloud.mode = testing::FakeCloud::Mode::kDown;
  Run(60 * kMinute);
  EXPECT_GT(server.failures, 0u);
  EXPECT_TRUE(server.inference_received.empty());
  EXPECT_GE(store_->PendingRows().value(), static_cast<std::int64_t>(windows_));

  server.up = true;
  cloud.mode = testing::FakeCloud::Mode::kAnswer;
  Run(10 * kMinute);
  agent_->Shutdown();
  while (agent_->SyncNow()) {
  }
  EXPECT_EQ(store_->PendingRows().value(), 0);
  // Every inference the agent decided, exactly once on the receiving side.
  EXPECT_EQ(server.inference_received.size(), windows_);
  for (const auto& [seq, n] : server.inference_received) EXPECT_EQ(n, 1) << seq;
  for (const auto& [seq, n] : server.hard_received) EXPECT_EQ(n, 1) << seq;
  for (const auto& [seq, n] : server.health_received) EXPECT_EQ(n, 1) << seq;
  std::size_t fallbacks = 0;
  for (const auto& [seq, row] : server.inferences) fallbacks += row.fallback ? 1 : 0;
  EXPECT_EQ(fallbacks, agent_->stats().fallbacks);
  // Fallbacks keep the edge's confidence (< 0.7): each is a hard sample with
  // its window. Windows the cloud answered are in the server's escalation log.
  EXPECT_EQ(server.hard_received.size(), agent_->stats().fallbacks);
  EXPECT_GT(agent_->stats().cloud_answers, 0u);
  EXPECT_GE(server.health_received.size(), 1u);
  EXPECT_GT(agent_->stats().syncs_ok, 1u);

}

TEST_F(AgentOnBuffer, ARestartedAgentSyncsWhatTheFileHolds) {
  Open();
  server.up = false;
  Run(10 * kMinute);
  const std::size_t before = windows_;
  agent_->Shutdown();
  agent_.reset();
  store_.reset();
  ASSERT_TRUE(buffer_->Close().ok());
  buffer_.reset();
  Open();
  server.up = true;
  Run(6 * kMinute);
  while (agent_->SyncNow()) {
  }
  EXPECT_EQ(server.inference_received.size(), windows_);
  EXPECT_GT(windows_, before);
  for (const auto& [seq, n] : server.inference_received) EXPECT_EQ(n, 1) << seq;
}

// A window waiting for the cloud: a fallback decision for now, and its
// hard sample.
sync::InferenceRow InFlightRow() {
  sync::InferenceRow row;
  row.ts_ms = 1'800'000'000'000;
  row.model_version = 1;
  row.decision = "normal";
  row.confidence = 0.55;
  row.mse = 1.2;
  row.fallback = true;
  return row;
}
sync::HardSampleRow InFlightWindow() {
  sync::HardSampleRow hard;
  hard.window.assign(300, 0.5f);
  return hard;
}

TEST(BufferStore, ProvisionalRowsAreInTheBufferAtOnceButSyncOnlyWhenFinal) {
  TempDir dir;
  auto buffer = Buffer::Open(dir.path() / "b.db");
  ASSERT_TRUE(buffer.ok());
  BufferStore store(*buffer.value());
  sync::InferenceRow row = InFlightRow();
  row.input_hash = "0123456789abcdef";
  sync::HardSampleRow hard = InFlightWindow();
  auto seq = store.Append(row, &hard, true);
  ASSERT_TRUE(seq.ok());
  EXPECT_GT(seq.value(), 0);  // a buffer seq: durable now
  EXPECT_EQ(store.provisional(), 1u);
  EXPECT_EQ(store.PendingRows().value(), 0);
  auto batch = store.BuildBatch(1 << 20);
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch.value().inferences.empty());
  EXPECT_TRUE(store.Complete(seq.value(), Completion{"anomaly", 0.93, false}).ok());
  EXPECT_FALSE(store.Complete(seq.value(), Completion{"anomaly", 0.93, false}).ok());  // once
  batch = store.BuildBatch(1 << 20);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch.value().inferences.size(), 1u);
  EXPECT_EQ(batch.value().inferences[0].decision, "anomaly");
  EXPECT_FALSE(batch.value().inferences[0].fallback);
  EXPECT_TRUE(batch.value().hard_samples.empty());  // the cloud was confident
  // A fallback keeps the edge's low confidence: its window is a hard sample.
  auto seq2 = store.Append(row, &hard, true);
  ASSERT_TRUE(seq2.ok());
  EXPECT_TRUE(store.Complete(seq2.value(), Completion{"normal", 0.55, true}).ok());
  batch = store.BuildBatch(1 << 20);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch.value().hard_samples.size(), 1u);
  EXPECT_EQ(batch.value().hard_samples[0].window, hard.window);
  EXPECT_TRUE(batch.value().hard_samples[0].fallback);
  // The acknowledgement marks exactly what it names.
  sync::IngestResult ack;
  ack.inferences.stored.push_back(batch.value().inferences.front().seq);
  ASSERT_TRUE(store.MarkSynced(batch.value(), ack).ok());
  EXPECT_EQ(store.PendingRows().value(), 2);  // one inference and the hard sample
}

// A store whose buffer a previous process left with an escalation in flight
// (the buffer object is dropped without Close, as a kill would leave it):
// the agent's ReleaseProvisional at start reports it, and it syncs as a
// fallback with its hard sample.
TEST(BufferStore, AnEscalationLeftInFlightIsReleasedAsAFallback) {
  TempDir dir;
  {
    auto buffer = Buffer::Open(dir.path() / "b.db");
    ASSERT_TRUE(buffer.ok());
    BufferStore store(*buffer.value());
    sync::HardSampleRow hard = InFlightWindow();
    ASSERT_TRUE(store.Append(InFlightRow(), &hard, true).ok());
  }
  auto buffer = Buffer::Open(dir.path() / "b.db");
  ASSERT_TRUE(buffer.ok());
  BufferStore store(*buffer.value());
  auto released = store.ReleaseProvisional();
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(released.value(), 1u);
  EXPECT_EQ(store.provisional(), 0u);
  EXPECT_EQ(store.PendingRows().value(), 2);
  auto batch = store.BuildBatch(1 << 20);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->inferences.size(), 1u);
  EXPECT_TRUE(batch->inferences[0].fallback);
  EXPECT_EQ(batch->hard_samples.size(), 1u);
}

}  // namespace
}  // namespace edgefleet::agent
