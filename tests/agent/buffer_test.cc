// The store-and-forward buffer: priorities and budgets of batches, ack
// handling, the disk budget's drop policy, health statistics, reopening,
// schema versions.
#include "agent/buffer.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <random>

#include "tests/agent/buffer_fixture.h"

namespace edgefleet::agent {
namespace {

class BufferTest : public BufferFixture {};

sync::InferenceRow Row(std::int64_t ts, double confidence, std::string decision = "normal",
                       std::int64_t latency = 200, std::int64_t mv = 1) {
  sync::InferenceRow r;
  r.ts_ms = ts;
  r.model_version = mv;
  r.decision = std::move(decision);
  r.confidence = confidence;
  r.mse = 0.01;
  r.latency_us = latency;
  r.input_hash = "0011223344556677";
  return r;
}

std::vector<float> Window(float v = 0.25f) { return std::vector<float>(sync::kWindowValues, v); }

TEST_F(BufferTest, BatchesPutHardSamplesFirstThenHealthThenNewestLogs) {
  auto b = OpenBuffer();
  ASSERT_TRUE(b);
  ASSERT_TRUE(b->AppendInference(Row(1000, 0.95), Window()).ok());                  // no hard sample
  auto h1 = b->AppendInference(Row(2000, 0.65), Window());                          // hard, 0.65
  auto h2 = b->AppendInference(Row(3000, 0.55, "anomaly"), Window());               // hard, 0.55
  ASSERT_TRUE(h1.ok() && h2.ok());
  EXPECT_GE(h1->hard_sample_seq, 0);
  sync::HealthRow health;
  health.period_end_ms = 5;
  health.stats_json = "{}";
  ASSERT_TRUE(b->AppendHealth(health).ok());
  ASSERT_TRUE(b->AppendInference(Row(4000, 0.9), {}).ok());

  auto batch = b->NextBatch({});
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->hard_samples.size(), 2u);
  EXPECT_EQ(batch->hard_samples[0].seq, h1->hard_sample_seq);  // within a batch: seq order
  EXPECT_EQ(batch->hard_samples[1].seq, h2->hard_sample_seq);
  EXPECT_EQ(batch->hard_samples[0].window, Window());
  EXPECT_EQ(batch->health.size(), 1u);
  ASSERT_EQ(batch->inferences.size(), 4u);
  EXPECT_EQ(batch->inferences[0].ts_ms, 1000);
  EXPECT_EQ(batch->inferences[3].ts_ms, 4000);
  // Only the uncertain rows carry their input hash (SyncHash::kUncertain).
  EXPECT_EQ(batch->inferences[0].input_hash, "");
  EXPECT_EQ(batch->inferences[1].input_hash, "0011223344556677");

  // A budget of one hard sample plus a little: hard samples win, one of them.
  BatchBudget small;
  small.max_bytes = kEstimatedHardSampleBytes + 100;
  batch = b->NextBatch(small);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->hard_samples.size(), 1u);
  EXPECT_EQ(batch->hard_samples[0].seq, h2->hard_sample_seq);  // the least confident wins
  EXPECT_EQ(batch->health.size(), 1u);
  EXPECT_LE(batch->inferences.size(), 2u);
  EXPECT_FALSE(batch->inferences.empty());
  // A budget below any row still yields one row.
  small.max_bytes = 1;
  batch = b->NextBatch(small);
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->hard_samples.size() + batch->health.size() + batch->inferences.size(), 1u);
  // Rows per kind.
  BatchBudget rows;
  rows.max_rows_per_kind = 1;
  batch = b->NextBatch(rows);
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->inferences.size(), 1u);
  EXPECT_EQ(batch->inferences[0].ts_ms, 4000);  // recent logs before old ones
  EXPECT_EQ(batch->hard_samples.size(), 1u);

  auto stats = b->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->pending_inferences, 4);
  EXPECT_EQ(stats->pending_hard_samples, 2);
  EXPECT_EQ(stats->pending_health, 1);
  EXPECT_EQ(stats->pending_critical, 1);
}

TEST_F(BufferTest, OnlyRowsTheAckNamesAreMarkedSynced) {
  auto b = OpenBuffer();
  ASSERT_TRUE(b);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(b->AppendInference(Row(1000 + i, 0.9), {}).ok());
  auto batch = b->NextBatch({});
  ASSERT_TRUE(batch.ok());
  ASSERT_EQ(batch->inferences.size(), 5u);
  std::vector<std::int64_t> seqs;
  for (const auto& r : batch->inferences) seqs.push_back(r.seq);

  sync::IngestResult ack;
  ack.inferences.stored = {seqs[0], seqs[1]};
  ack.inferences.already_present = {seqs[2]};
  ack.hard_samples.stored = {77};          // not sent: ignored
  ack.inferences.stored.push_back(99999);  // not sent: ignored
  auto out = b->ApplyAck(batch.value(), ack);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->marked_synced, 3);
  EXPECT_EQ(out->still_pending, 2);
  EXPECT_EQ(out->ignored, 2);

  auto next = b->NextBatch({});
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->inferences.size(), 2u);
  EXPECT_EQ(next->inferences[0].seq, seqs[3]);
  EXPECT_EQ(next->inferences[1].seq, seqs[4]);
  // An empty ack (the request failed) changes nothing; a repeated ack is harmless.
  EXPECT_EQ(b->ApplyAck(next.value(), {})->marked_synced, 0);
  EXPECT_EQ(b->ApplyAck(batch.value(), ack)->marked_synced, 3);
  EXPECT_EQ(b->Stats()->pending_inferences, 2);
  // Rows the ack names that are not in the batch are not marked, even if pending.
  sync::SyncBatch only_first;
  only_first.inferences.push_back(next->inferences[0]);
  sync::IngestResult both;
  both.inferences.stored = {seqs[3], seqs[4]};
  EXPECT_EQ(b->ApplyAck(only_first, both)->marked_synced, 1);
  EXPECT_EQ(b->Stats()->pending_inferences, 1);
}

TEST_F(BufferTest, RowsTheServerWouldRefuseAreRefusedAndNothingIsStored) {
  auto b = OpenBuffer();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->AppendInference(Row(1, std::nan("")), {}).error().code(), common::ErrorCode::kInvalidArgument);
  EXPECT_FALSE(b->AppendInference(Row(1, 0.5, "Bad Decision"), {}).ok());
  std::vector<float> short_window(10, 0.0f);
  EXPECT_FALSE(b->AppendInference(Row(1, 0.5), short_window).ok());
  sync::HealthRow h;
  h.stats_json = "not json";
  EXPECT_FALSE(b->AppendHealth(h).ok());
  EXPECT_EQ(b->Stats()->pending_total(), 0);
}

TEST_F(BufferTest, SequenceNumbersAreNeverReused) {
  BufferOptions o;
  o.disk_budget_bytes = 64 * 1024;
  auto b = OpenBuffer(o);
  ASSERT_TRUE(b);
  std::int64_t last = 0;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 200; ++i) {
      auto a = b->AppendInference(Row(round * 1000 + i, 0.9), {});
      ASSERT_TRUE(a.ok());
      EXPECT_GT(a->inference_seq, last);
      last = a->inference_seq;
    }
    auto batch = b->NextBatch({});
    sync::IngestResult ack;
    for (const auto& r : batch->inferences) ack.inferences.stored.push_back(r.seq);
    ASSERT_TRUE(b->ApplyAck(batch.value(), ack).ok());
  }
  // The budget pruned synced rows, and the newest were deleted too at some
  // point; the next seq still goes up.
  auto a = b->AppendInference(Row(99999, 0.9), {});
  ASSERT_TRUE(a.ok());
  EXPECT_GT(a->inference_seq, last);
}

TEST_F(BufferTest, DiskBudgetPrunesSyncedRowsFirstThenDropsOldestLogsAndCountsThem) {
  BufferOptions o;
  o.disk_budget_bytes = 512 * 1024;
  auto b = OpenBuffer(o);
  ASSERT_TRUE(b);
  // Fill about half the budget with synced rows.
  for (int i = 0; i < 150; ++i) ASSERT_TRUE(b->AppendInference(Row(i, 0.5), Window()).ok());
  auto batch = b->NextBatch({});
  sync::IngestResult ack;
  for (const auto& r : batch->inferences) ack.inferences.stored.push_back(r.seq);
  for (const auto& r : batch->hard_samples) ack.hard_samples.stored.push_back(r.seq);
  ASSERT_TRUE(b->ApplyAck(batch.value(), ack).ok());
  // Pending logs past the budget: synced rows go first, with no drop counted.
  std::int64_t i = 1000;
  // (Stats counts rows: asked every 50 appends to keep the test quick.)
  while (b->Stats()->pruned_synced == 0) {
    for (int k = 0; k < 50; ++k) ASSERT_TRUE(b->AppendInference(Row(i++, 0.9), {}).ok());
    ASSERT_LT(i, 100000);
  }
  EXPECT_EQ(b->Stats()->dropped.total(), 0);
  // Keep going: once no synced row is left, the oldest pending logs are dropped.
  const std::int64_t first_pending = 1000;
  while (b->Stats()->dropped.inferences == 0) {
    for (int k = 0; k < 50; ++k) ASSERT_TRUE(b->AppendInference(Row(i++, 0.9), {}).ok());
    ASSERT_LT(i, 200000);
  }
  auto s = b->Stats();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->synced_rows_kept, 0);
  EXPECT_EQ(s->dropped.hard_samples, 0);
  EXPECT_LE(s->used_bytes, o.disk_budget_bytes);
  // The oldest pending log is gone, the newest is there; every row is accounted for.
  BatchBudget all;
  all.max_bytes = 1 << 30;
  auto rest = b->NextBatch(all);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->inferences.back().ts_ms, i - 1);
  EXPECT_GT(rest->inferences.front().ts_ms, first_pending);
  EXPECT_EQ(static_cast<std::int64_t>(rest->inferences.size()) + s->dropped.inferences, i - first_pending);
  auto state = b->ReportState();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->dropped_inferences, s->dropped.inferences);
  EXPECT_EQ(state->buffer_depth, s->pending_total());
}

TEST_F(BufferTest, PendingHardSamplesAreDroppedOnlyAfterEveryPendingLog) {
  BufferOptions o;
  o.disk_budget_bytes = 256 * 1024;
  auto b = OpenBuffer(o);
  ASSERT_TRUE(b);
  int i = 0;
  while (b->Stats()->dropped.hard_samples == 0) {
    ASSERT_TRUE(b->AppendInference(Row(i++, 0.5), Window()).ok());
    ASSERT_LT(i, 100000);
  }
  auto s = b->Stats();
  EXPECT_GT(s->dropped.inferences, 0);
  EXPECT_EQ(s->pending_inferences, 0);  // logs went before any hard sample
  EXPECT_GT(s->pending_hard_samples, 0);
}

TEST_F(BufferTest, ReopenKeepsRowsCountersAndCountsUncleanRestarts) {
  std::int64_t seq = 0;
  {
    auto b = OpenBuffer();
    ASSERT_TRUE(b);
    seq = b->AppendInference(Row(5, 0.6, "normal", 200, 7), Window()).value().inference_seq;
    ASSERT_TRUE(b->AddBytesSent("adaptive", 1000).ok());
    ASSERT_TRUE(b->AddBytesSent("adaptive", 234).ok());
    ASSERT_TRUE(b->AddBytesSent("periodic", 5).ok());
    ASSERT_TRUE(b->Close().ok());
    EXPECT_EQ(b->Stats().error().code(), common::ErrorCode::kFailedPrecondition);
  }
  {
    auto b = OpenBuffer();  // closed cleanly: no unclean restart
    ASSERT_TRUE(b);
    EXPECT_EQ(b->Stats()->unclean_restarts, 0);
    EXPECT_EQ(b->Stats()->pending_inferences, 1);
    EXPECT_EQ(b->Stats()->pending_hard_samples, 1);
    auto bytes = b->BytesSent();
    ASSERT_TRUE(bytes.ok());
    ASSERT_EQ(bytes->size(), 2u);
    EXPECT_EQ((*bytes)[0], (sync_codec::StrategyBytes{"adaptive", 1234}));
    EXPECT_EQ((*bytes)[1], (sync_codec::StrategyBytes{"periodic", 5}));
    // Destroyed without Close: the next open counts an unclean restart.
  }
  auto b = OpenBuffer();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->Stats()->unclean_restarts, 1);
  auto next = b->AppendInference(Row(6, 0.9, "normal", 200, 7), {});
  EXPECT_GT(next->inference_seq, seq);
  auto rows = b->CloseHealthPeriod(10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].model_version, 7);
  EXPECT_NE((*rows)[0].stats_json.find("\"unclean_restarts\":1"), std::string::npos) << (*rows)[0].stats_json;
}

TEST_F(BufferTest, HealthStatisticsPerModelVersion) {
  auto b = OpenBuffer();
  ASSERT_TRUE(b);
  // Version 1: 20 rows, latencies 100..2000, 2 anomalies, 4 escalations (1 fallback).
  for (int i = 0; i < 20; ++i) {
    auto r = Row(1000 + i, i < 4 ? 0.6 : 0.9, i >= 18 ? "anomaly" : "normal", 100 * (i + 1), 1);
    r.fallback = i == 0;
    ASSERT_TRUE(b->AppendInference(r, {}).ok());
  }
  ASSERT_TRUE(b->AppendInference(Row(1500, 0.9, "normal", 50, 2), {}).ok());
  ASSERT_TRUE(b->RecordError(2).ok());
  ASSERT_TRUE(b->RecordError(2).ok());
  auto rows = b->CloseHealthPeriod(2000);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].model_version, 1);
  EXPECT_EQ((*rows)[0].period_start_ms, 1000);
  EXPECT_EQ((*rows)[0].period_end_ms, 2000);
  EXPECT_EQ((*rows)[0].stats_json,
            "{\"inferences\":20,\"errors\":0,\"unclean_restarts\":0,\"latency_p50_us\":1000,"
            "\"latency_p95_us\":1900,\"escalation_rate\":0.2,\"fallback_rate\":0.05,\"anomaly_rate\":0.1}");
  EXPECT_EQ((*rows)[1].stats_json,
            "{\"inferences\":1,\"errors\":2,\"unclean_restarts\":0,\"latency_p50_us\":50,"
            "\"latency_p95_us\":50,\"escalation_rate\":0,\"fallback_rate\":0,\"anomaly_rate\":0}");
  EXPECT_EQ(b->Stats()->pending_health, 2);
  // The next period starts where this one ended, and the counters restart.
  ASSERT_TRUE(b->AppendInference(Row(2500, 0.9, "normal", 10, 1), {}).ok());
  rows = b->CloseHealthPeriod(3000);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].period_start_ms, 2000);
  EXPECT_NE((*rows)[0].stats_json.find("\"inferences\":1,"), std::string::npos);
  // The rows are valid sync rows.
  sync_codec::SyncMessage m;
  m.device_id = "d";
  m.batch = b->NextBatch({}).value();
  EXPECT_TRUE(sync_codec::ValidateSyncMessage(m).ok());
}

TEST_F(BufferTest, NewerSchemaAndForeignFilesAreRefused) {
  {
    auto b = OpenBuffer();
    ASSERT_TRUE(b);
    ASSERT_TRUE(b->Close().ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "buffer.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto b = Buffer::Open(dir_ / "buffer.db");
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code(), common::ErrorCode::kFailedPrecondition);

  {
    std::FILE* f = std::fopen((dir_ / "junk.db").c_str(), "wb");
    const std::string junk(8192, 'x');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  auto j = Buffer::Open(dir_ / "junk.db");
  ASSERT_FALSE(j.ok());
  EXPECT_EQ(j.error().code(), common::ErrorCode::kCorrupt) << j.error().ToString();
}

TEST_F(BufferTest, WalAndSynchronousAreInEffect) {
  for (const Durability d : {Durability::kNormal, Durability::kFull}) {
    BufferOptions o;
    o.durability = d;
    auto b = OpenBuffer(o);
    ASSERT_TRUE(b);
    ASSERT_TRUE(b->Close().ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ / "buffer.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  sqlite3_close(db);
}

TEST(InputHashTest, IsSixteenHexDigitsAndSeesEveryBit) {
  std::vector<float> w(sync::kWindowValues, 0.5f);
  const std::string a = InputHash(w);
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  w[299] = std::nextafter(0.5f, 1.0f);
  EXPECT_NE(InputHash(w), a);
  EXPECT_EQ(InputHash(w), InputHash(w));
}

}  // namespace
}  // namespace edgefleet::agent
