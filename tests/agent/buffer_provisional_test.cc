// Provisional rows in the buffer (agent/buffer.h, "Provisional rows"): durable
// at once, never batched, made final by CompleteProvisional (the hard sample
// follows the final confidence), released as fallbacks by the next Open after
// a real SIGKILL, kept from the disk budget; and a version 1 buffer migrates.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>

#include "agent/buffer.h"
#include "tests/agent/buffer_fixture.h"

namespace edgefleet::agent {
namespace {

class ProvisionalTest : public BufferFixture {};

// An ambiguous window as the agent stores it while it asks the cloud: the
// closer threshold's decision, fallback = true.
sync::InferenceRow Ambiguous(std::int64_t ts, double confidence = 0.55) {
  sync::InferenceRow r;
  r.ts_ms = ts;
  r.model_version = 1;
  r.decision = "normal";
  r.confidence = confidence;
  r.mse = 0.4;
  r.latency_us = 150;
  r.input_hash = "0011223344556677";
  r.fallback = true;
  return r;
}

std::vector<float> Window(float v = 0.25f) { return std::vector<float>(sync::kWindowValues, v); }

bool Empty(const sync::SyncBatch& b) { return b.inferences.empty() && b.hard_samples.empty() && b.health.empty(); }

TEST_F(ProvisionalTest, AProvisionalRowIsDurableButNeverBatchedNorPending) {
  auto b = OpenBuffer();
  auto a = b->AppendInference(Ambiguous(1000), Window(), true);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_GT(a->inference_seq, 0);
  EXPECT_GT(a->hard_sample_seq, 0);
  auto batch = b->NextBatch({});
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(Empty(batch.value()));
  auto stats = b->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pending_total(), 0);
  EXPECT_EQ(stats->provisional, 1);
  EXPECT_EQ(b->ReportState()->buffer_depth, 0);
  // A final row appended after it goes; the provisional one stays out.
  auto final_row = b->AppendInference(Ambiguous(2000, 0.9), Window(), false);
  ASSERT_TRUE(final_row.ok());
  EXPECT_EQ(final_row->hard_sample_seq, -1);  // confident and final: no hard sample
  batch = b->NextBatch({});
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->inferences.size(), 1u);
  EXPECT_EQ(batch->inferences[0].seq, final_row->inference_seq);
}

TEST_F(ProvisionalTest, ACloudAnswerReplacesTheDecisionAndTheHardSampleFollowsTheFinalConfidence) {
  auto b = OpenBuffer();
  auto confident = b->AppendInference(Ambiguous(1000), Window(0.1f), true);
  auto unsure = b->AppendInference(Ambiguous(1001), Window(0.2f), true);
  auto fallback = b->AppendInference(Ambiguous(1002), Window(0.3f), true);
  ASSERT_TRUE(confident.ok() && unsure.ok() && fallback.ok());

  // The cloud is sure: the row is critical now, and no hard sample is kept.
  ASSERT_TRUE(b->CompleteProvisional(confident->inference_seq, {"anomaly", 0.93, false}).ok());
  // The cloud answered but was not sure either: still a hard sample, with the cloud's decision.
  ASSERT_TRUE(b->CompleteProvisional(unsure->inference_seq, {"anomaly", 0.6, false}).ok());
  // No answer in time: the fallback is confirmed.
  ASSERT_TRUE(b->CompleteProvisional(fallback->inference_seq, {"normal", 0.55, true}).ok());
  // Once only, and only provisional rows.
  auto again = b->CompleteProvisional(confident->inference_seq, {"normal", 0.9, false});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), common::ErrorCode::kNotFound);
  EXPECT_FALSE(b->CompleteProvisional(12345, {"normal", 0.9, false}).ok());
  EXPECT_EQ(b->CompleteProvisional(fallback->inference_seq + 1, {"", 0.9, false}).error().code(),
            common::ErrorCode::kInvalidArgument);

  auto stats = b->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->provisional, 0);
  EXPECT_EQ(stats->pending_inferences, 3);
  EXPECT_EQ(stats->pending_hard_samples, 2);
  EXPECT_EQ(stats->pending_critical, 2);  // both "anomaly" answers
  auto batch = b->NextBatch({});
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->inferences.size(), 3u);
  EXPECT_EQ(batch->inferences[0].decision, "anomaly");
  EXPECT_DOUBLE_EQ(batch->inferences[0].confidence, 0.93);
  EXPECT_FALSE(batch->inferences[0].fallback);
  EXPECT_EQ(batch->inferences[1].decision, "anomaly");
  EXPECT_FALSE(batch->inferences[1].fallback);
  EXPECT_EQ(batch->inferences[2].decision, "normal");
  EXPECT_TRUE(batch->inferences[2].fallback);
  ASSERT_EQ(batch->hard_samples.size(), 2u);
  EXPECT_EQ(batch->hard_samples[0].seq, unsure->hard_sample_seq);
  EXPECT_EQ(batch->hard_samples[0].decision, "anomaly");
  EXPECT_DOUBLE_EQ(batch->hard_samples[0].confidence, 0.6);
  EXPECT_FALSE(batch->hard_samples[0].fallback);
  EXPECT_EQ(batch->hard_samples[0].window, Window(0.2f));
  EXPECT_EQ(batch->hard_samples[1].seq, fallback->hard_sample_seq);
  EXPECT_TRUE(batch->hard_samples[1].fallback);
  EXPECT_EQ(batch->hard_samples[1].window, Window(0.3f));
}

// A real SIGKILL of a process with escalations in flight: the next Open
// releases the rows as fallbacks, with their hard samples, and counts them.
TEST_F(ProvisionalTest, RowsInFlightAtAKill9AreReleasedAtOpenAsFallbacksWithTheirHardSamples) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(ready[0]);
    auto b = Buffer::Open(dir_ / "buffer.db");
    if (!b.ok()) ::_exit(3);
    for (int i = 0; i < 3; ++i) {
      if (!b.value()->AppendInference(Ambiguous(1000 + i), Window(0.1f * static_cast<float>(i + 1)), true).ok()) {
        ::_exit(4);
      }
    }
    if (!b.value()->AppendInference(Ambiguous(2000, 0.95), {}, false).ok()) ::_exit(5);
    const char c = 'k';
    if (::write(ready[1], &c, 1) != 1) ::_exit(6);
    for (;;) ::pause();  // waiting for the cloud, forever
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));

  auto b = OpenBuffer();
  EXPECT_EQ(b->released_at_open(), 3);
  auto stats = b->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->provisional, 0);
  EXPECT_EQ(stats->released_provisional, 3);
  EXPECT_EQ(stats->unclean_restarts, 1);
  EXPECT_EQ(stats->pending_inferences, 4);
  EXPECT_EQ(stats->pending_hard_samples, 3);
  auto batch = b->NextBatch({});
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->inferences.size(), 4u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(batch->inferences[i].seq, static_cast<std::int64_t>(i + 1));
    EXPECT_EQ(batch->inferences[i].decision, "normal");
    EXPECT_TRUE(batch->inferences[i].fallback);
  }
  ASSERT_EQ(batch->hard_samples.size(), 3u);
  for (const auto& h : batch->hard_samples) EXPECT_TRUE(h.fallback);
  EXPECT_EQ(batch->hard_samples[2].window, Window(0.3f));
  // A completion that comes too late (the process that asked is gone) is refused.
  EXPECT_FALSE(b->CompleteProvisional(1, {"anomaly", 0.9, false}).ok());
  ASSERT_TRUE(b->Close().ok());
  b = OpenBuffer();
  EXPECT_EQ(b->released_at_open(), 0);
  EXPECT_EQ(b->Stats()->released_provisional, 3);
}

TEST_F(ProvisionalTest, TheDiskBudgetNeverDropsAProvisionalRow) {
  BufferOptions options;
  options.disk_budget_bytes = 256 * 1024;
  auto b = OpenBuffer(options);
  auto first = b->AppendInference(Ambiguous(1), Window(), true);
  ASSERT_TRUE(first.ok());
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(b->AppendInference(Ambiguous(10 + i, 0.4), Window(), false).ok());
  auto stats = b->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(stats->dropped.total(), 0);
  EXPECT_EQ(stats->provisional, 1);
  auto state = b->ReportState();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->dropped_inferences, stats->dropped.inferences);
  EXPECT_EQ(state->dropped_hard_samples, stats->dropped.hard_samples);
  ASSERT_TRUE(b->CompleteProvisional(first->inference_seq, {"anomaly", 0.9, false}).ok());
}

// A buffer written by the version 1 code (no provisional columns) opens,
// migrates to the current version and keeps its rows.
TEST_F(ProvisionalTest, AVersion1BufferMigrates) {
  {
    auto b = OpenBuffer();
    ASSERT_TRUE(b->AppendInference(Ambiguous(1000, 0.4), Window(), false).ok());
    ASSERT_TRUE(b->Close().ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "buffer.db").c_str(), &db), SQLITE_OK);
  const char* downgrade =
      "DROP INDEX inferences_provisional; ALTER TABLE inferences DROP COLUMN provisional;"
      "ALTER TABLE inferences DROP COLUMN hard_sample_seq; ALTER TABLE hard_samples DROP COLUMN provisional;"
      "PRAGMA user_version = 1;";
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, downgrade, nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
  sqlite3_close(db);

  auto b = OpenBuffer();
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(Buffer::SchemaVersion(), 2);
  auto batch = b->NextBatch({});
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->inferences.size(), 1u);
  EXPECT_EQ(batch->hard_samples.size(), 1u);
  auto a = b->AppendInference(Ambiguous(2000), Window(), true);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->inference_seq, 2);
  ASSERT_TRUE(b->Close().ok());
  ASSERT_EQ(sqlite3_open((dir_ / "buffer.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), 2);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

}  // namespace
}  // namespace edgefleet::agent
