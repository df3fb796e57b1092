#include "server/store/sql.h"

#include <string>
#include <utility>

namespace edgefleet::store::sql {
namespace {

const char* TypeName(const Value& v) {
  switch (v.index()) {
    case 0: return "NULL";
    case 1: return "integer";
    case 2: return "real";
    case 3: return "text";
    case 4: return "blob";
  }
  return "?";
}

}  // namespace

const Value* RowReader::Cell(std::size_t col) {
  if (col >= row_.cells.size()) {
    if (!error_) {
      error_ = Error(ErrorCode::kInternal, "result column " + std::to_string(col) + " does not exist");
    }
    return nullptr;
  }
  return &row_.cells[col];
}

std::int64_t RowReader::Int(std::size_t col) {
  const Value* v = Cell(col);
  if (v == nullptr) return 0;
  if (const auto* i = std::get_if<std::int64_t>(v)) return *i;
  if (!error_) {
    error_ = Error(ErrorCode::kCorrupt, "result column " + std::to_string(col) + " holds " +
                                            TypeName(*v) + " where an integer was expected");
  }
  return 0;
}

std::optional<std::int64_t> RowReader::OptionalInt(std::size_t col) {
  const Value* v = Cell(col);
  if (v == nullptr || std::holds_alternative<Null>(*v)) return std::nullopt;
  return Int(col);
}

double RowReader::Double(std::size_t col) {
  const Value* v = Cell(col);
  if (v == nullptr) return 0;
  if (const auto* d = std::get_if<double>(v)) return *d;
  // SQLite stores a REAL column's integral value as an integer when it can.
  if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
  if (!error_) {
    error_ = Error(ErrorCode::kCorrupt, "result column " + std::to_string(col) + " holds " +
                                            TypeName(*v) + " where a real was expected");
  }
  return 0;
}

std::string RowReader::Text(std::size_t col) {
  const Value* v = Cell(col);
  if (v == nullptr) return {};
  if (const auto* s = std::get_if<std::string>(v)) return *s;
  if (!error_) {
    error_ = Error(ErrorCode::kCorrupt, "result column " + std::to_string(col) + " holds " +
                                            TypeName(*v) + " where text was expected");
  }
  return {};
}

Bytes RowReader::Blob(std::size_t col) {
  const Value* v = Cell(col);
  if (v == nullptr) return {};
  if (const auto* b = std::get_if<Bytes>(v)) return *b;
  if (!error_) {
    error_ = Error(ErrorCode::kCorrupt, "result column " + std::to_string(col) + " holds " +
                                            TypeName(*v) + " where a blob was expected");
  }
  return {};
}

Expected<void> RowReader::status() const {
  if (error_) return *error_;
  return common::Ok();
}

namespace {

constexpr std::string_view kCreateSchemaVersion =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " version INTEGER NOT NULL)";

Expected<int> MigrateInTransaction(Connection& conn, std::span<const Migration> migrations) {
  const int latest = migrations.empty() ? 0 : migrations.back().version;
  EDGEFLEET_RETURN_IF_ERROR(conn.Lock(LockId::kSchema));
  EDGEFLEET_RETURN_IF_ERROR(conn.ExecuteScript(kCreateSchemaVersion));
  EDGEFLEET_ASSIGN_OR_RETURN(const int current, ReadSchemaVersion(conn));
  if (current > latest) {
    return Error(ErrorCode::kFailedPrecondition,
                 "the database schema is version " + std::to_string(current) +
                     ", newer than this build's " + std::to_string(latest) +
                     "; use a newer edgefleet");
  }
  if (current == 0) {
    EDGEFLEET_RETURN_IF_ERROR(
        conn.Execute("INSERT INTO schema_version (id, version) SELECT 1, 0"
                     " WHERE NOT EXISTS (SELECT 1 FROM schema_version)",
                     {}));
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    if (auto applied = conn.ExecuteScript(m.sql); !applied.ok()) {
      return std::move(applied).error().WithContext("migration " + std::to_string(m.version) +
                                                    " (" + std::string(m.description) + ")");
    }
    const Value version[] = {std::int64_t{m.version}};
    EDGEFLEET_RETURN_IF_ERROR(conn.Execute("UPDATE schema_version SET version = $1 WHERE id = 1", version));
  }
  return latest;
}

}  // namespace

Expected<int> ReadSchemaVersion(Connection& conn) {
  EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows,
                             conn.Query("SELECT version FROM schema_version WHERE id = 1", {}));
  if (rows.empty()) return 0;
  RowReader r(rows[0]);
  const std::int64_t version = r.Int(0);
  EDGEFLEET_RETURN_IF_ERROR(r.status());
  if (version < 0 || version > 1'000'000) {
    return Error(ErrorCode::kCorrupt, "schema_version holds " + std::to_string(version));
  }
  return static_cast<int>(version);
}

Expected<int> ApplyMigrations(Connection& conn, std::span<const Migration> migrations) {
  for (std::size_t i = 0; i < migrations.size(); ++i) {
    if (migrations[i].version != static_cast<int>(i) + 1) {
      return Error(ErrorCode::kInternal, "migration list is not numbered 1, 2, 3, ...");
    }
  }
  EDGEFLEET_RETURN_IF_ERROR(conn.Begin(TxnKind::kWrite));
  Expected<int> result = MigrateInTransaction(conn, migrations);
  if (!result.ok()) {
    conn.Rollback();
    return result;
  }
  EDGEFLEET_RETURN_IF_ERROR(conn.Commit());
  return result;
}

Expected<std::unique_ptr<Backend>> MakeBackend(const std::string& url, const StoreOptions& options) {
  constexpr std::string_view kSqlite = "sqlite:";
  if (url.starts_with(kSqlite)) {
    std::string path = url.substr(kSqlite.size());
    if (path.empty()) return Error(ErrorCode::kInvalidArgument, "store URL 'sqlite:' names no file");
    if (path.find('\0') != std::string::npos) {
      return Error(ErrorCode::kInvalidArgument, "store URL holds a NUL byte");
    }
    return MakeSqliteBackend(std::move(path), options);
  }
  if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    return MakePostgresBackend(url, options);
  }
  return Error(ErrorCode::kInvalidArgument,
               "store URL '" + url + "' is neither sqlite:PATH nor postgresql://...");
}

}  // namespace edgefleet::store::sql
