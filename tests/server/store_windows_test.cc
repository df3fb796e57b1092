// SQLite's escalation windows in the file beside the database
// (server/store/window_file.h): where they go, rows of the first schema,
// the file and the database refusing to be mismatched, two processes
// appending at once, and kill -9 in the middle of appending.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "common/crypto.h"
#include "server/store/sql.h"
#include "server/store/store.h"
#include "server/store/window_file.h"
#include "tests/support/reporting_child.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::store {
namespace {

using common::ErrorCode;

std::string DbPath(const TempDir& dir) { return (dir.path() / "store.db").string(); }
std::string Url(const TempDir& dir) { return "sqlite:" + DbPath(dir); }
std::string WindowsPath(const TempDir& dir) { return DbPath(dir) + "-windows"; }

std::unique_ptr<Store> OpenWithDevices(const std::string& url, std::initializer_list<const char*> devices) {
  auto store = OpenStore(url);
  EXPECT_TRUE(store.ok()) << store.error().ToString();
  if (!store.ok()) return nullptr;
  for (const char* id : devices) {
    const auto added = (*store)->AddDevice(id, common::Sha256Hex(std::string_view(id)).value(), 0);
    EXPECT_TRUE(added.ok() || added.error().code() == ErrorCode::kAlreadyExists) << added.error().ToString();
  }
  return std::move(store).value();
}

// Escalation `row` of batch `batch` from `device`: its window tells which it is.
Escalation Tagged(const std::string& device, std::int64_t batch, std::int64_t row) {
  Escalation e;
  e.device_id = device;
  e.received_ms = batch * 1000 + row;
  e.features.resize(kWindowValues);
  for (std::size_t i = 0; i < kWindowValues; ++i) {
    e.features[i] = static_cast<float>(batch) + static_cast<float>(row) / 64.0f + static_cast<float>(i) / 4096.0f;
  }
  e.edge_mse = 0.5;
  e.model_version = 1;
  e.cloud_mse = 0.25;
  e.label = static_cast<int>(row % 2);
  e.confidence = 0.75;
  return e;
}

std::vector<Escalation> TaggedBatch(const std::string& device, std::int64_t batch, std::int64_t rows) {
  std::vector<Escalation> out;
  for (std::int64_t r = 0; r < rows; ++r) out.push_back(Tagged(device, batch, r));
  return out;
}

// Every stored escalation's window is the one its tag says.
void ExpectWindowsMatchTags(const std::vector<Escalation>& stored) {
  for (const Escalation& e : stored) {
    const Escalation want = Tagged(e.device_id, e.received_ms / 1000, e.received_ms % 1000);
    ASSERT_EQ(e.features, want.features) << "escalation " << e.id << " of " << e.device_id;
  }
}

std::vector<sql::Row> RawRows(const std::string& url, const std::string& query) {
  auto conn = sql::MakeBackend(url, {}).value()->Connect().value();
  EXPECT_TRUE(conn->Begin(sql::TxnKind::kRead).ok());
  auto rows = conn->Query(query, {});
  conn->Rollback();
  EXPECT_TRUE(rows.ok()) << rows.error().ToString();
  return rows.ok() ? *rows : std::vector<sql::Row>{};
}

TEST(SqliteWindows, GoBesideTheDatabaseAndReadBackAfterReopen) {
  TempDir dir;
  const std::vector<Escalation> batch = TaggedBatch("dev-1", 3, 5);
  std::vector<std::int64_t> ids;
  {
    auto store = OpenWithDevices(Url(dir), {"dev-1"});
    ids = store->InsertEscalations(batch).value();
  }
  // The rows hold offsets, the file the bytes: a header block, then 5 windows.
  const auto rows = RawRows(Url(dir), "SELECT length(features), features_at FROM escalations ORDER BY id");
  ASSERT_EQ(rows.size(), 5u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(std::get<std::int64_t>(rows[i].cells[0]), 0);
    EXPECT_EQ(std::get<std::int64_t>(rows[i].cells[1]),
              static_cast<std::int64_t>(sql::WindowFile::kHeaderBytes + i * sql::WindowFile::kRecordBytes));
  }
  EXPECT_GE(std::filesystem::file_size(WindowsPath(dir)),
            sql::WindowFile::kHeaderBytes + 5 * sql::WindowFile::kRecordBytes);

  auto store = OpenStore(Url(dir)).value();
  const auto stored = store->ListEscalations({}, 100).value();
  ASSERT_EQ(stored.size(), 5u);
  for (std::size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].id, ids[i]);
    EXPECT_EQ(stored[i].features, batch[i].features);
  }
  // Appending after a reopen does not overwrite what is there.
  ASSERT_TRUE(store->InsertEscalations(TaggedBatch("dev-1", 4, 3)).ok());
  const auto all = store->ListEscalations({}, 100).value();
  ASSERT_EQ(all.size(), 8u);
  ExpectWindowsMatchTags(all);
}

TEST(SqliteWindows, RowsOfTheFirstSchemaKeepTheirWindowsInTheRow) {
  TempDir dir;
  const Escalation old = Tagged("dev-1", 7, 1);
  {
    auto conn = sql::MakeBackend(Url(dir), {}).value()->Connect().value();
    ASSERT_EQ(sql::ApplyMigrations(*conn, sql::SqliteMigrations().first(1)).value(), 1);
    ASSERT_TRUE(conn->Begin(sql::TxnKind::kWrite).ok());
    ASSERT_TRUE(conn->Execute("INSERT INTO devices (id, token_sha256, created_ms) VALUES ('dev-1', 'x', 0)", {}).ok());
    std::vector<std::uint8_t> blob(sql::WindowFile::kRecordBytes);
    std::memcpy(blob.data(), old.features.data(), blob.size());
    const sql::Value params[] = {old.received_ms, sql::Bytes(blob)};
    ASSERT_TRUE(conn->Execute("INSERT INTO escalations (device_id, received_ms, features, edge_mse, model_version,"
                              " cloud_mse, label, confidence) VALUES ('dev-1', $1, $2, 0.5, 1, 0.25, 1, 0.75)",
                              params)
                    .ok());
    ASSERT_TRUE(conn->Commit().ok());
  }
  auto store = OpenStore(Url(dir)).value();  // migrates to the latest version
  EXPECT_EQ(store->SchemaVersion().value(), LatestSchemaVersion());
  ASSERT_TRUE(store->InsertEscalations(TaggedBatch("dev-1", 8, 2)).ok());
  const auto all = store->ListEscalations({}, 100).value();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].features, old.features);
  ExpectWindowsMatchTags(all);
  const auto inline_rows = RawRows(Url(dir), "SELECT COUNT(*) FROM escalations WHERE features_at IS NULL");
  EXPECT_EQ(std::get<std::int64_t>(inline_rows.at(0).cells.at(0)), 1);
}

TEST(SqliteWindows, ADatabaseWithoutItsOwnWindowFileIsRefused) {
  TempDir a, b;
  OpenWithDevices(Url(a), {"dev-1"})->InsertEscalations(TaggedBatch("dev-1", 1, 2)).value();
  OpenWithDevices(Url(b), {"dev-1"})->InsertEscalations(TaggedBatch("dev-1", 1, 2)).value();

  std::filesystem::rename(WindowsPath(a), a.path() / "aside");
  auto missing = OpenStore(Url(a));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(missing.error().ToString().find("missing"), std::string::npos) << missing.error().ToString();

  std::filesystem::copy_file(WindowsPath(b), WindowsPath(a));
  auto foreign = OpenStore(Url(a));
  ASSERT_FALSE(foreign.ok());
  EXPECT_EQ(foreign.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(foreign.error().ToString().find("another database"), std::string::npos) << foreign.error().ToString();

  std::filesystem::remove(WindowsPath(a));
  { std::ofstream(WindowsPath(a)) << "not a window file"; }
  auto garbage = OpenStore(Url(a));
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code(), ErrorCode::kCorrupt) << garbage.error().ToString();

  std::filesystem::remove(WindowsPath(a));
  std::filesystem::rename(a.path() / "aside", WindowsPath(a));
  auto back = OpenStore(Url(a));
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  ExpectWindowsMatchTags((*back)->ListEscalations({}, 100).value());
}

TEST(SqliteWindows, ARecordOutsideTheFileIsCorruptNotACrash) {
  TempDir dir;
  auto store = OpenWithDevices(Url(dir), {"dev-1"});
  const auto ids = store->InsertEscalations(TaggedBatch("dev-1", 1, 1)).value();
  {
    auto conn = sql::MakeBackend(Url(dir), {}).value()->Connect().value();
    ASSERT_TRUE(conn->Begin(sql::TxnKind::kWrite).ok());
    const sql::Value params[] = {ids[0]};
    ASSERT_TRUE(conn->Execute("UPDATE escalations SET features_at = 1000000000 WHERE id = $1", params).ok());
    ASSERT_TRUE(conn->Commit().ok());
  }
  const auto listed = store->ListEscalations({}, 10);
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code(), ErrorCode::kCorrupt) << listed.error().ToString();
}

// Forked children write `batches` batches each, from devices of their own,
// into one database at once (the server and a CLI command would): each row
// must read back its own window.
TEST(SqliteWindows, TwoProcessesAppendingAtOnceKeepEveryWindow) {
  TempDir dir;
  OpenWithDevices(Url(dir), {"dev-a", "dev-b"});
  constexpr std::int64_t kBatches = 40;
  std::vector<pid_t> children;
  for (const char* device : {"dev-a", "dev-b"}) {
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      auto store = OpenStore(Url(dir));
      if (!store.ok()) ::_exit(3);
      for (std::int64_t b = 0; b < kBatches; ++b) {
        if (!(*store)->InsertEscalations(TaggedBatch(device, b, 1 + b % 7)).ok()) ::_exit(4);
      }
      ::_exit(0);
    }
    children.push_back(child);
  }
  for (const pid_t child : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  auto store = OpenStore(Url(dir)).value();
  const auto all = store->ListEscalations({}, 100'000).value();
  std::int64_t want = 0;
  for (std::int64_t b = 0; b < kBatches; ++b) want += 2 * (1 + b % 7);
  ASSERT_EQ(static_cast<std::int64_t>(all.size()), want);
  ExpectWindowsMatchTags(all);
}

// A child inserts batches for ever and reports each batch once
// InsertEscalations returned; it is killed at a random moment, several times.
// Every reported batch is there with its windows, every stored row's window
// is its own, and the next process appends after whatever the kill left.
TEST(SqliteWindows, KillNineWhileAppendingLosesNoAcknowledgedWindow) {
  TempDir dir;
  OpenWithDevices(Url(dir), {"dev-1"});
  std::mt19937 rng(20261207);
  std::int64_t next = 0;
  for (int round = 0; round < 4; ++round) {
    testsupport::ReportingChild child([&](auto report) {
      auto store = OpenStore(Url(dir));
      if (!store.ok()) ::_exit(3);
      for (std::int64_t b = next;; ++b) {
        if (!(*store)->InsertEscalations(TaggedBatch("dev-1", b, 1 + b % 5)).ok()) ::_exit(4);
        report(b);
      }
    });
    const std::int64_t target = next + 5 + static_cast<std::int64_t>(rng() % 10);
    std::int64_t acknowledged = next - 1;
    while (acknowledged < target) ASSERT_TRUE(child.Next(&acknowledged)) << "the child stopped early";
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    child.KillNine();

    auto store = OpenStore(Url(dir)).value();
    const auto all = store->ListEscalations({}, 100'000).value();
    ExpectWindowsMatchTags(all);
    std::map<std::int64_t, std::int64_t> rows_of_batch;
    for (const Escalation& e : all) ++rows_of_batch[e.received_ms / 1000];
    for (std::int64_t b = 0; b <= acknowledged; ++b) {
      EXPECT_TRUE(rows_of_batch.contains(b)) << "acknowledged batch " << b << " is missing, round " << round;
    }
    for (const auto& [b, rows] : rows_of_batch) EXPECT_EQ(rows, 1 + b % 5) << "batch " << b << " is not whole";
    next = rows_of_batch.rbegin()->first + 1;
  }
}

}  // namespace
}  // namespace edgefleet::store
