// The SQL seam under the store: one connection interface that SQLite and
// PostgreSQL implement, the migration runner, and the back-end description.
// Internal to server/store (and its tests); the server uses store.h.
//
// Why a seam: the store's queries are written once, in the SQL both
// databases accept (parameters are `$1`, `$2`, ...; SQLite binds them by
// name), so one implementation (sql_store.cc) serves both back ends and the
// typed tests exercise the same code against each. What differs (DDL,
// locking, value encoding) lives in the two back ends.
//
// Threads: a Connection is used by one thread at a time (the pool in
// sql_store.cc hands it out); a Backend is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/error.h"
#include "server/store/store.h"

namespace edgefleet::store::sql {

using common::Error;
using common::ErrorCode;

struct Null {
  friend bool operator==(Null, Null) = default;
};
using Bytes = std::vector<std::uint8_t>;

// A statement parameter or a result cell.
using Value = std::variant<Null, std::int64_t, double, std::string, Bytes>;

struct Row {
  std::vector<Value> cells;
};
using Rows = std::vector<Row>;

// Reads typed cells from a row. A cell of the wrong type (or a NULL where a
// value is required) records the first error, returns a default value and
// makes status() fail with kCorrupt; check status() once after reading.
class RowReader {
 public:
  explicit RowReader(const Row& row) : row_(row) {}

  std::int64_t Int(std::size_t col);
  std::optional<std::int64_t> OptionalInt(std::size_t col);
  double Double(std::size_t col);  // accepts an integer cell too
  std::string Text(std::size_t col);
  Bytes Blob(std::size_t col);

  Expected<void> status() const;

 private:
  const Value* Cell(std::size_t col);

  const Row& row_;
  std::optional<Error> error_;
};

enum class TxnKind : std::uint8_t { kRead, kWrite };

// Named transaction-scoped exclusive locks, for what a row lock cannot cover.
enum class LockId : std::uint8_t { kSchema = 1, kModels = 2 };

class Connection {
 public:
  virtual ~Connection() = default;

  // SQLite: BEGIN (read) or BEGIN IMMEDIATE (write). PostgreSQL: a READ
  // COMMITTED transaction, read-only for kRead.
  virtual Expected<void> Begin(TxnKind kind) = 0;
  virtual Expected<void> Commit() = 0;
  virtual void Rollback() noexcept = 0;

  // One statement with parameters $1..$n bound to `params` (n == size).
  virtual Expected<Rows> Query(std::string_view sql, std::span<const Value> params) = 0;
  // As Query, for statements that return no rows: the number of rows changed.
  virtual Expected<std::int64_t> Execute(std::string_view sql, std::span<const Value> params) = 0;
  // Several statements without parameters (migrations).
  virtual Expected<void> ExecuteScript(std::string_view sql) = 0;

  // Holds `lock` until the transaction ends. SQLite: a no-op, since a write
  // transaction already excludes every other writer.
  virtual Expected<void> Lock(LockId lock) = 0;

  // True once the connection is unusable (the pool then drops it).
  virtual bool broken() const = 0;

  // The rowid the connection's last INSERT gave its last row (SQLite; see
  // Backend::ids_without_returning). Other back ends: kInternal.
  virtual Expected<std::int64_t> LastInsertId() {
    return Error(ErrorCode::kInternal, "this back end does not report the last inserted id");
  }
};

// One step of a schema: applied once, in order, inside the migration
// transaction. Versions are 1, 2, 3, ... without gaps.
struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

// Brings the database to the last migration's version in one write
// transaction (all pending steps or none). kFailedPrecondition if the
// database is newer than `migrations`; kInternal if the list is malformed.
// Returns the resulting version.
Expected<int> ApplyMigrations(Connection& conn, std::span<const Migration> migrations);

// The current schema version (0 for a database without schema_version).
Expected<int> ReadSchemaVersion(Connection& conn);

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual Expected<std::unique_ptr<Connection>> Connect() = 0;
  virtual std::span<const Migration> migrations() const = 0;
  // SQLite allows one writer at a time: the store then queues its own writers
  // on a mutex instead of letting them spin in SQLite's busy handler.
  virtual bool single_writer() const = 0;
  // PostgreSQL: every statement is a round trip to the server, so sync rows
  // go several to an INSERT. SQLite runs in-process, where one row per
  // statement without RETURNING measured cheaper (docs/BENCHMARKS.md).
  virtual bool statements_are_round_trips() const = 0;
  // SQLite: the rows of one INSERT into an AUTOINCREMENT table, under the
  // write lock, get consecutive ids ending at LastInsertId(), and RETURNING
  // would cost a temporary table per statement; so escalation ids are
  // computed rather than returned. PostgreSQL: RETURNING.
  virtual bool ids_without_returning() const { return false; }
  // Where escalation windows are kept out of their rows (window_file.h), or
  // "" to keep them in the rows (PostgreSQL, an in-memory SQLite database).
  virtual std::string windows_path() const { return {}; }
};

// The back end named by a store URL (see OpenStore), not yet migrated.
Expected<std::unique_ptr<Backend>> MakeBackend(const std::string& url, const StoreOptions& options);

std::unique_ptr<Backend> MakeSqliteBackend(std::string path, const StoreOptions& options);
std::unique_ptr<Backend> MakePostgresBackend(std::string conninfo, const StoreOptions& options);

// The store over a migrated back end.
Expected<std::unique_ptr<Store>> MakeSqlStore(std::unique_ptr<Backend> backend,
                                              const StoreOptions& options);

std::span<const Migration> SqliteMigrations();
std::span<const Migration> PostgresMigrations();

}  // namespace edgefleet::store::sql
