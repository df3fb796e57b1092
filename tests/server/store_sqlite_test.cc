// What only the SQLite back end has: the file, its durability settings, a
// second process on the same file, and surviving kill -9 mid-write.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "common/crypto.h"
#include "server/store/sql.h"
#include "server/store/store.h"
#include "tests/support/reporting_child.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::store {
namespace {

using common::ErrorCode;

std::string Url(const TempDir& dir) { return "sqlite:" + (dir.path() / "store.db").string(); }

std::string QueryText(sql::Connection& conn, const std::string& sql) {
  EXPECT_TRUE(conn.Begin(sql::TxnKind::kRead).ok());
  auto rows = conn.Query(sql, {});
  conn.Rollback();
  if (!rows.ok() || rows->empty() || rows->front().cells.empty()) return "<error>";
  const auto& cell = rows->front().cells[0];
  if (const auto* s = std::get_if<std::string>(&cell)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&cell)) return std::to_string(*i);
  return "<other>";
}

TEST(OpenStore, RejectsUnknownUrlsAndUnusablePaths) {
  EXPECT_EQ(OpenStore("mysql://localhost/x").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("store.db").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(OpenStore("sqlite:").error().code(), ErrorCode::kInvalidArgument);
  const auto missing_dir = OpenStore("sqlite:/nonexistent-edgefleet-dir/store.db");
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.error().code(), ErrorCode::kIo) << missing_dir.error().ToString();
  EXPECT_NE(missing_dir.error().message().find("/nonexistent-edgefleet-dir/store.db"), std::string::npos);
}

TEST(OpenStore, HidesThePasswordOfAPostgresUrlInErrors) {
  // Nothing listens on this socket directory: the connection fails.
  const auto store = OpenStore("postgresql://edge:hunter2@/db?host=/nonexistent-edgefleet-dir");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code(), ErrorCode::kUnavailable) << store.error().ToString();
  EXPECT_EQ(store.error().message().find("hunter2"), std::string::npos) << store.error().message();
}

TEST(SqliteStore, UsesWalWithFullSyncAndStrictTables) {
  TempDir dir;
  ASSERT_TRUE(OpenStore(Url(dir)).ok());
  auto backend = sql::MakeBackend(Url(dir), {}).value();
  auto conn = backend->Connect().value();
  EXPECT_EQ(QueryText(*conn, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(QueryText(*conn, "PRAGMA synchronous"), "2");  // FULL
  EXPECT_EQ(QueryText(*conn, "PRAGMA foreign_keys"), "1");
  EXPECT_EQ(QueryText(*conn, "SELECT strict FROM pragma_table_list WHERE name = 'devices'"), "1");
}

TEST(SqliteStore, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  {
    std::ofstream junk(dir.path() / "store.db", std::ios::binary);
    for (int i = 0; i < 4096; ++i) junk.put(static_cast<char>(i * 31 + 7));
  }
  const auto store = OpenStore(Url(dir));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code(), ErrorCode::kCorrupt) << store.error().ToString();
}

TEST(SqliteStore, AStoredWindowOfTheWrongSizeIsCorruptNotACrash) {
  TempDir dir;
  auto store = OpenStore(Url(dir)).value();
  const std::string hash = common::Sha256Hex(std::string_view("t")).value();
  ASSERT_TRUE(store->AddDevice("dev-1", hash, 0).ok());
  {
    auto conn = sql::MakeBackend(Url(dir), {}).value()->Connect().value();
    ASSERT_TRUE(conn->Begin(sql::TxnKind::kWrite).ok());
    const sql::Value params[] = {std::string("dev-1"), sql::Bytes(7, 1)};
    ASSERT_TRUE(conn->Execute("INSERT INTO escalations (device_id, received_ms, features, edge_mse,"
                              " model_version, cloud_mse, label, confidence)"
                              " VALUES ($1, 0, $2, 0, 0, 0, 0, 0)",
                              params)
                    .ok());
    ASSERT_TRUE(conn->Commit().ok());
  }
  const auto listed = store->ListEscalations({}, 10);
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code(), ErrorCode::kCorrupt);
}

// Another process (here: another connection) holding the write lock makes a
// write wait, up to the busy timeout and no longer.
TEST(SqliteStore, WaitsForAnotherWriterUpToTheBusyTimeout) {
  TempDir dir;
  StoreOptions options;
  options.busy_timeout = std::chrono::milliseconds(300);
  auto store = OpenStore(Url(dir), options).value();
  const std::string hash = common::Sha256Hex(std::string_view("t")).value();
  auto other = sql::MakeBackend(Url(dir), {}).value()->Connect().value();

  // Held for longer than the timeout: kUnavailable, after the timeout.
  ASSERT_TRUE(other->Begin(sql::TxnKind::kWrite).ok());
  auto start = std::chrono::steady_clock::now();
  const auto blocked = store->AddDevice("dev-1", hash, 0);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code(), ErrorCode::kUnavailable) << blocked.error().ToString();
  EXPECT_GE(waited, std::chrono::milliseconds(300));
  EXPECT_LT(waited, std::chrono::seconds(3));
  other->Rollback();

  // Released before the timeout: the write goes through.
  ASSERT_TRUE(other->Begin(sql::TxnKind::kWrite).ok());
  std::thread release([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    other->Rollback();
  });
  start = std::chrono::steady_clock::now();
  const auto added = store->AddDevice("dev-1", hash, 0);
  release.join();
  EXPECT_TRUE(added.ok()) << added.error().ToString();
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90));
}

// ---- kill -9 ------------------------------------------------------------------------------

constexpr std::int64_t kRowsPerBatch = 8;

// Batch b: inference rows [8b, 8b + 8), hard sample b, health row b.
SyncBatch CrashBatch(std::int64_t b) {
  SyncBatch batch;
  for (std::int64_t s = b * kRowsPerBatch; s < (b + 1) * kRowsPerBatch; ++s) {
    InferenceRow r;
    r.seq = s;
    r.ts_ms = s;
    r.model_version = 1;
    r.decision = "normal";
    r.confidence = 0.9;
    r.mse = 0.01;
    r.latency_us = 100;
    r.input_hash = "h";
    batch.inferences.push_back(r);
  }
  HardSampleRow h;
  h.seq = b;
  h.ts_ms = b;
  h.window.assign(kWindowValues, static_cast<float>(b));
  h.decision = "normal";
  h.confidence = 0.5;
  batch.hard_samples.push_back(h);
  HealthRow health;
  health.seq = b;
  health.stats_json = "{\"batch\":" + std::to_string(b) + "}";
  batch.health.push_back(health);
  return batch;
}

DeviceReport DepthReport(std::int64_t b) {
  DeviceReport r;
  r.seen_ms = b;
  r.buffer_depth = b;
  return r;
}

// Runs in a forked child: ingests batches first, first + 1, ... for ever,
// reporting each batch number once IngestBatch has returned (committed),
// with a millisecond between batches as a syncing device leaves.
template <typename Report>
[[noreturn]] void IngestForever(const std::string& url, std::int64_t first, Report report) {
  auto store = OpenStore(url);
  if (!store.ok()) ::_exit(3);
  for (std::int64_t b = first;; ++b) {
    if (!(*store)->IngestBatch("dev-1", CrashBatch(b), b).ok()) ::_exit(4);
    report(b);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Which batches the store holds, checking that each is whole: all its
// inference rows, its hard sample and its health row, or none of them.
std::int64_t WholeBatches(Store& store) {
  const auto inferences = store.ListInferenceRows("dev-1", -1, 1'000'000).value();
  const auto samples = store.ListHardSamples("dev-1", -1, 1'000'000).value();
  const auto health = store.ListHealthRows("dev-1", -1, 1'000'000).value();
  const auto batches = static_cast<std::int64_t>(samples.size());
  EXPECT_EQ(health.size(), samples.size());
  EXPECT_EQ(static_cast<std::int64_t>(inferences.size()), batches * kRowsPerBatch);
  // Ingestion is in order, so the batches present are exactly 0 .. n-1.
  for (std::size_t i = 0; i < inferences.size(); ++i) {
    EXPECT_EQ(inferences[i].seq, static_cast<std::int64_t>(i));
  }
  for (std::size_t i = 0; i < samples.size(); ++i) {
    EXPECT_EQ(samples[i].seq, static_cast<std::int64_t>(i));
    EXPECT_EQ(health[i].seq, static_cast<std::int64_t>(i));
    EXPECT_EQ(samples[i].window, CrashBatch(samples[i].seq).hard_samples[0].window);
  }
  // The counter moved in the same transactions as the rows.
  EXPECT_EQ(store.GetDevice("dev-1").value().counters.rows_synced, batches * (kRowsPerBatch + 2));
  return batches;
}

TEST(SqliteCrash, KilledIngestLeavesWholeBatchesAndResumesWithoutDuplicates) {
  TempDir dir;
  const std::string url = Url(dir);
  {
    auto store = OpenStore(url).value();
    ASSERT_TRUE(store->AddDevice("dev-1", common::Sha256Hex(std::string_view("t")).value(), 0).ok());
  }
  std::mt19937 rng(20240521);
  // Each round restarts where a device would: from its last two batches,
  // which it cannot know were stored (the acknowledgement may have been lost).
  std::int64_t resumed_to = 0;
  for (int round = 0; round < 5; ++round) {
    const std::int64_t restart = std::max<std::int64_t>(0, resumed_to - 2);
    testsupport::ReportingChild child([&](auto report) { IngestForever(url, restart, report); });
    // Let it commit some new batches, while this process writes to the same
    // file too (as the CLI would), then kill it at a random moment.
    auto parent = OpenStore(url).value();
    const std::int64_t target = resumed_to + 10 + static_cast<std::int64_t>(rng() % 10);
    std::int64_t acknowledged = -1;
    int reports = 0;
    while (acknowledged < target) {
      ASSERT_TRUE(child.Next(&acknowledged)) << "the child stopped early";
      if (acknowledged % 4 == 0) {
        const auto reported = parent->RecordDeviceReport("dev-1", DepthReport(acknowledged));
        ASSERT_TRUE(reported.ok()) << reported.error().ToString();
        ++reports;
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 4000));
    child.KillNine();
    parent.reset();
    EXPECT_GT(reports, 0);

    // Reopen: every acknowledged batch is there, and every batch is whole.
    auto store = OpenStore(url).value();
    {
      auto conn = sql::MakeBackend(url, {}).value()->Connect().value();
      EXPECT_EQ(QueryText(*conn, "PRAGMA integrity_check"), "ok");
    }
    const std::int64_t batches = WholeBatches(*store);
    EXPECT_GE(batches, acknowledged + 1) << "round " << round;

    // Resume as the device would: re-send the last two batches and go on.
    // The batches present are acknowledged as present, the rest stored once.
    const std::int64_t until = batches + 3;
    for (std::int64_t b = std::max<std::int64_t>(0, batches - 2); b < until; ++b) {
      const IngestResult r = store->IngestBatch("dev-1", CrashBatch(b), 0).value();
      if (b < batches) {
        EXPECT_TRUE(r.inferences.stored.empty()) << b;
        EXPECT_EQ(r.inferences.already_present.size(), static_cast<std::size_t>(kRowsPerBatch)) << b;
        EXPECT_TRUE(r.hard_samples.stored.empty()) << b;
      } else {
        EXPECT_EQ(r.inferences.stored.size(), static_cast<std::size_t>(kRowsPerBatch)) << b;
        EXPECT_EQ(r.health.stored.size(), 1u) << b;
      }
    }
    EXPECT_EQ(WholeBatches(*store), until);
    resumed_to = until;
  }
}

}  // namespace
}  // namespace edgefleet::store
