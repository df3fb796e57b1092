// The SQLite back end: one database file, WAL journal, synchronous=FULL.
//
// Durability: in WAL mode, synchronous=FULL fsyncs the WAL at every commit,
// so a transaction that returned ok survives power loss, not just a process
// crash. The server acknowledges sync batches from this guarantee (the device
// then forgets the rows), so NORMAL, which may lose the last commits on power
// loss, is not enough. docs/storage.md has the measured cost.
//
// Concurrency: each pooled connection is opened with SQLITE_OPEN_NOMUTEX and
// used by one thread at a time. Readers never block the writer (WAL). Write
// transactions start with BEGIN IMMEDIATE so that they take the write lock up
// front (a deferred transaction that later upgrades can fail with
// SQLITE_BUSY regardless of the busy timeout); the store queues its own
// writers on a mutex, and a busy handler (OnBusy) waits for other processes
// (the CLI) up to StoreOptions::busy_timeout.

#include <sqlite3.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "server/store/sql.h"

namespace edgefleet::store::sql {
namespace {

ErrorCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
      return (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
                 ? ErrorCode::kAlreadyExists
                 : ErrorCode::kInvalidArgument;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return ErrorCode::kUnavailable;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return ErrorCode::kCorrupt;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM: return ErrorCode::kIo;
    case SQLITE_NOMEM: return ErrorCode::kResourceExhausted;
    default: return ErrorCode::kInternal;
  }
}

Error SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string message = "sqlite: ";
  message += what;
  message += ": ";
  message += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error(CodeFor(rc), std::move(message));
}

class SqliteConnection final : public Connection {
 public:
  static Expected<std::unique_ptr<Connection>> Open(const std::string& path,
                                                    const StoreOptions& options) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(
        path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<SqliteConnection> conn(new SqliteConnection(db));
    if (rc != SQLITE_OK) return SqliteError(db, rc, "cannot open " + path);
    sqlite3_extended_result_codes(db, 1);
    conn->busy_timeout_ = options.busy_timeout;
    sqlite3_busy_handler(db, &SqliteConnection::OnBusy, conn.get());
    // journal_mode answers with the mode in effect; anything but "wal" (a
    // read-only directory, say) is refused rather than silently weaker.
    // Switching a new database to WAL needs it alone: while another opener
    // holds it, SQLite answers BUSY at once, without the busy handler (the
    // concurrent-openers test met it about once in seven runs). Retry for
    // the busy timeout, as the handler would.
    const auto give_up = std::chrono::steady_clock::now() + options.busy_timeout;
    Expected<Rows> switched = conn->Query("PRAGMA journal_mode=WAL", {});
    while (!switched.ok() && switched.error().code() == ErrorCode::kUnavailable &&
           std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      switched = conn->Query("PRAGMA journal_mode=WAL", {});
    }
    EDGEFLEET_ASSIGN_OR_RETURN(const Rows mode, std::move(switched));
    if (mode.size() != 1 || mode[0].cells.size() != 1 ||
        std::get_if<std::string>(&mode[0].cells[0]) == nullptr ||
        *std::get_if<std::string>(&mode[0].cells[0]) != "wal") {
      return Error(ErrorCode::kIo, "sqlite: cannot switch " + path + " to WAL mode");
    }
    EDGEFLEET_RETURN_IF_ERROR(conn->ExecuteScript("PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"));
    return std::unique_ptr<Connection>(std::move(conn));
  }

  ~SqliteConnection() override {
    for (auto& [sql, prepared] : statements_) sqlite3_finalize(prepared.stmt);
    sqlite3_close_v2(db_);
  }

  Expected<void> Begin(TxnKind kind) override {
    return ExecuteScript(kind == TxnKind::kWrite ? "BEGIN IMMEDIATE" : "BEGIN");
  }

  Expected<void> Commit() override { return ExecuteScript("COMMIT"); }

  void Rollback() noexcept override {
    // Harmless when SQLite rolled back already (after some errors it does).
    if (sqlite3_get_autocommit(db_) == 0) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }

  Expected<Rows> Query(std::string_view sql, std::span<const Value> params) override {
    Rows rows;
    EDGEFLEET_RETURN_IF_ERROR(Run(sql, params, &rows));
    return rows;
  }

  Expected<std::int64_t> Execute(std::string_view sql, std::span<const Value> params) override {
    EDGEFLEET_RETURN_IF_ERROR(Run(sql, params, nullptr));
    return static_cast<std::int64_t>(sqlite3_changes64(db_));
  }

  Expected<void> ExecuteScript(std::string_view sql) override {
    const std::string text(sql);
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
    if (rc != SQLITE_OK) {
      std::string what = message != nullptr ? message : sqlite3_errstr(rc);
      sqlite3_free(message);
      return Error(CodeFor(sqlite3_extended_errcode(db_)), "sqlite: " + what);
    }
    return common::Ok();
  }

  Expected<void> Lock(LockId /*lock*/) override { return common::Ok(); }

  bool broken() const override { return db_ == nullptr; }

  Expected<std::int64_t> LastInsertId() override { return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_)); }

 private:
  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  // Another process holds the lock: retry every millisecond until the busy
  // timeout. SQLite's own handler backs off to 100 ms between attempts, and
  // SQLite's locks are not fair, so against a writer that pauses only
  // briefly between transactions (the server under load) it could wait out
  // the whole timeout; short polls catch the short gaps.
  static int OnBusy(void* self, int attempts) {
    auto* conn = static_cast<SqliteConnection*>(self);
    const auto now = std::chrono::steady_clock::now();
    if (attempts == 0) conn->busy_since_ = now;
    if (now - conn->busy_since_ >= conn->busy_timeout_) return 0;  // give up: SQLITE_BUSY
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return 1;
  }

  // A cached statement and, for each parameter $1..$n, SQLite's index of it
  // (SQLite numbers them by first appearance in the text).
  struct Statement {
    sqlite3_stmt* stmt = nullptr;
    std::vector<int> index_of;
  };

  // Looked up by the SQL text without copying it (heterogeneous lookup).
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };

  Expected<const Statement*> Prepare(std::string_view sql) {
    if (auto it = statements_.find(sql); it != statements_.end()) return &it->second;
    const std::string key(sql);
    Statement prepared;
    const int rc = sqlite3_prepare_v3(db_, key.c_str(), static_cast<int>(key.size()),
                                      SQLITE_PREPARE_PERSISTENT, &prepared.stmt, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db_, rc, "prepare");
    if (prepared.stmt == nullptr) return Error(ErrorCode::kInternal, "sqlite: empty statement");
    const int count = sqlite3_bind_parameter_count(prepared.stmt);
    for (int i = 1; i <= count; ++i) {
      const std::string name = "$" + std::to_string(i);
      const int index = sqlite3_bind_parameter_index(prepared.stmt, name.c_str());
      if (index == 0) {
        sqlite3_finalize(prepared.stmt);
        return Error(ErrorCode::kInternal, "sqlite: statement lacks " + name);
      }
      prepared.index_of.push_back(index);
    }
    return &statements_.emplace(key, std::move(prepared)).first->second;
  }

  Expected<void> Bind(const Statement& prepared, std::span<const Value> params) {
    sqlite3_stmt* const stmt = prepared.stmt;
    if (prepared.index_of.size() != params.size()) {
      return Error(ErrorCode::kInternal, "sqlite: statement takes " + std::to_string(prepared.index_of.size()) +
                                             " parameters, given " + std::to_string(params.size()));
    }
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int index = prepared.index_of[i];
      const Value& v = params[i];
      int rc = SQLITE_OK;
      if (std::holds_alternative<Null>(v)) {
        rc = sqlite3_bind_null(stmt, index);
      } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
        rc = sqlite3_bind_int64(stmt, index, *n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        rc = sqlite3_bind_double(stmt, index, *d);
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        // SQLITE_STATIC: `params` outlives the statement's use; bindings are
        // cleared before Run returns.
        rc = sqlite3_bind_text64(stmt, index, s->data(), s->size(), SQLITE_STATIC, SQLITE_UTF8);
      } else if (const auto* b = std::get_if<Bytes>(&v)) {
        // An empty vector's data() may be null, which SQLite would bind as NULL.
        rc = b->empty() ? sqlite3_bind_zeroblob(stmt, index, 0)
                        : sqlite3_bind_blob64(stmt, index, b->data(), b->size(), SQLITE_STATIC);
      }
      if (rc != SQLITE_OK) return SqliteError(db_, rc, "bind $" + std::to_string(i + 1));
    }
    return common::Ok();
  }

  static Value Column(sqlite3_stmt* stmt, int col) {
    switch (sqlite3_column_type(stmt, col)) {
      case SQLITE_INTEGER: return std::int64_t{sqlite3_column_int64(stmt, col)};
      case SQLITE_FLOAT: return sqlite3_column_double(stmt, col);
      case SQLITE_TEXT: {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
        const int n = sqlite3_column_bytes(stmt, col);
        return std::string(text, static_cast<std::size_t>(n));
      }
      case SQLITE_BLOB: {
        const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, col));
        const int n = sqlite3_column_bytes(stmt, col);
        return data == nullptr ? Bytes{} : Bytes(data, data + n);
      }
      default: return Null{};
    }
  }

  // Binds, steps to completion collecting rows into `rows` (if not null),
  // and leaves the cached statement reset with no bindings.
  Expected<void> Run(std::string_view sql, std::span<const Value> params, Rows* rows) {
    EDGEFLEET_ASSIGN_OR_RETURN(const Statement* prepared, Prepare(sql));
    sqlite3_stmt* const stmt = prepared->stmt;
    struct Reset {
      sqlite3_stmt* stmt;
      ~Reset() {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
      }
    } reset{stmt};
    EDGEFLEET_RETURN_IF_ERROR(Bind(*prepared, params));
    const int columns = sqlite3_column_count(stmt);
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) return common::Ok();
      if (rc != SQLITE_ROW) return SqliteError(db_, rc, "step of \"" + std::string(sql.substr(0, 40)) + "\"");
      if (rows == nullptr) continue;
      Row& row = rows->emplace_back();
      row.cells.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) row.cells.push_back(Column(stmt, c));
    }
  }

  sqlite3* db_;
  std::unordered_map<std::string, Statement, TextHash, std::equal_to<>> statements_;
  std::chrono::milliseconds busy_timeout_{0};
  std::chrono::steady_clock::time_point busy_since_;
};

// ---- schema -------------------------------------------------------------------------
//
// Column types are SQLite's affinities; STRICT tables make SQLite refuse a
// value of the wrong type instead of storing it. Booleans are 0/1 integers,
// times milliseconds since the epoch, windows little-endian float32 blobs.

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE devices (
  id TEXT PRIMARY KEY NOT NULL,
  token_sha256 TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  last_seen_ms INTEGER,
  reported_model_version INTEGER,
  firmware_version TEXT NOT NULL DEFAULT '',
  ram_mb INTEGER,
  rows_synced INTEGER NOT NULL DEFAULT 0,
  escalations INTEGER NOT NULL DEFAULT 0,
  fallbacks INTEGER NOT NULL DEFAULT 0,
  dropped_rows INTEGER NOT NULL DEFAULT 0,
  buffer_depth INTEGER NOT NULL DEFAULT 0,
  backoff_failures INTEGER NOT NULL DEFAULT 0,
  backoff_delay_ms INTEGER NOT NULL DEFAULT 0,
  health_json TEXT NOT NULL DEFAULT '{}'
) STRICT;

CREATE TABLE admin_tokens (
  token_sha256 TEXT PRIMARY KEY NOT NULL,
  label TEXT NOT NULL,
  created_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE models (
  version INTEGER PRIMARY KEY NOT NULL,
  model_id TEXT NOT NULL,
  filename TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  signature TEXT NOT NULL,
  min_device_ram_mb INTEGER NOT NULL,
  min_firmware_version TEXT NOT NULL,
  threshold_low REAL NOT NULL,
  threshold_high REAL NOT NULL,
  mu REAL NOT NULL,
  sigma REAL NOT NULL,
  k_low REAL NOT NULL,
  k_high REAL NOT NULL,
  created_ms INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('published', 'halted', 'released'))
) STRICT;

CREATE TABLE escalations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL REFERENCES devices (id),
  received_ms INTEGER NOT NULL,
  features BLOB NOT NULL,
  edge_mse REAL NOT NULL,
  model_version INTEGER NOT NULL,
  cloud_mse REAL NOT NULL,
  label INTEGER NOT NULL CHECK (label IN (0, 1)),
  confidence REAL NOT NULL,
  archived INTEGER NOT NULL DEFAULT 0 CHECK (archived IN (0, 1))
) STRICT;
CREATE INDEX escalations_by_archived ON escalations (archived, id);

CREATE TABLE update_status (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id TEXT NOT NULL REFERENCES devices (id),
  status TEXT NOT NULL,
  version INTEGER NOT NULL,
  error TEXT NOT NULL,
  reported_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX update_status_by_device ON update_status (device_id, id);

CREATE TABLE inference_rows (
  device_id TEXT NOT NULL REFERENCES devices (id),
  seq INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL,
  model_version INTEGER NOT NULL,
  decision TEXT NOT NULL,
  confidence REAL NOT NULL,
  mse REAL NOT NULL,
  latency_us INTEGER NOT NULL,
  input_hash TEXT NOT NULL,
  fallback INTEGER NOT NULL CHECK (fallback IN (0, 1)),
  received_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE hard_samples (
  device_id TEXT NOT NULL REFERENCES devices (id),
  seq INTEGER NOT NULL,
  ts_ms INTEGER NOT NULL,
  model_version INTEGER NOT NULL,
  window_f32 BLOB NOT NULL,
  edge_mse REAL NOT NULL,
  confidence REAL NOT NULL,
  decision TEXT NOT NULL,
  fallback INTEGER NOT NULL CHECK (fallback IN (0, 1)),
  received_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, seq)
) STRICT;

CREATE TABLE health_stats (
  device_id TEXT NOT NULL REFERENCES devices (id),
  seq INTEGER NOT NULL,
  model_version INTEGER NOT NULL,
  period_start_ms INTEGER NOT NULL,
  period_end_ms INTEGER NOT NULL,
  stats_json TEXT NOT NULL,
  received_ms INTEGER NOT NULL,
  PRIMARY KEY (device_id, seq)
) STRICT;
)sql";

// Escalation windows beside the database (server/store/window_file.h): a
// row's features_at is its window's offset in "<database>-windows" (its
// features then an empty blob); NULL for rows whose window is in the row
// (those of version 1). window_file holds the id the file's header names.
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE escalations ADD COLUMN features_at INTEGER CHECK (features_at IS NULL OR features_at >= 0);
CREATE TABLE window_file (
  id TEXT NOT NULL
) STRICT;
)sql";

constexpr Migration kMigrations[] = {
    {1, "devices, admin tokens, models, escalations, update status, synced rows", kSchemaV1},
    {2, "escalation windows in a file beside the database", kSchemaV2},
};

class SqliteBackend final : public Backend {
 public:
  SqliteBackend(std::string path, const StoreOptions& options)
      : path_(std::move(path)), options_(options) {}

  std::string_view name() const override { return "sqlite"; }
  Expected<std::unique_ptr<Connection>> Connect() override {
    return SqliteConnection::Open(path_, options_);
  }
  std::span<const Migration> migrations() const override { return kMigrations; }
  bool single_writer() const override { return true; }
  bool statements_are_round_trips() const override { return false; }
  bool ids_without_returning() const override { return true; }
  std::string windows_path() const override { return path_ == ":memory:" ? std::string() : path_ + "-windows"; }

 private:
  std::string path_;
  StoreOptions options_;
};

}  // namespace

std::span<const Migration> SqliteMigrations() { return kMigrations; }

std::unique_ptr<Backend> MakeSqliteBackend(std::string path, const StoreOptions& options) {
  return std::make_unique<SqliteBackend>(std::move(path), options);
}

}  // namespace edgefleet::store::sql
