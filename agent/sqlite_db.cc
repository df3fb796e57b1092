#include "agent/sqlite_db.h"

namespace edgefleet::agent::sqlite {

Error ToError(sqlite3* db, int rc, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = ErrorCode::kUnavailable;
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      code = ErrorCode::kCorrupt;
      break;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = ErrorCode::kIo;
      break;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
      code = ErrorCode::kInvalidArgument;
      break;
    default:
      break;
  }
  std::string msg(what);
  msg += ": sqlite: ";
  msg += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Error(code, std::move(msg));
}

Expected<bool> Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    sqlite3_reset(stmt_);
    return false;
  }
  sqlite3_reset(stmt_);
  return ToError(db_, rc, "step");
}

Expected<void> Statement::Run() {
  while (true) {
    EDGEFLEET_ASSIGN_OR_RETURN(const bool row, Step());
    if (!row) return common::Ok();
  }
}

Expected<std::unique_ptr<Connection>> Connection::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = ToError(db, rc, "opening " + path);
    sqlite3_close_v2(db);
    return e;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  for (auto& [sql, c] : cache_) sqlite3_finalize(c.stmt);
  sqlite3_close_v2(db_);
}

Expected<Statement> Connection::Prepare(std::string_view sql) {
  auto it = cache_.find(std::string(sql));
  if (it != cache_.end() && !*it->second.in_use) {
    *it->second.in_use = true;
    return Statement(db_, it->second.stmt, it->second.in_use.get());
  }
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
  if (rc != SQLITE_OK) return ToError(db_, rc, "prepare");
  if (it == cache_.end() && cache_.size() < 64) {
    Cached& c = cache_[std::string(sql)];
    c.stmt = stmt;
    *c.in_use = true;
    return Statement(db_, stmt, c.in_use.get());
  }
  return Statement(db_, stmt);
}

Expected<void> Connection::Exec(const std::string& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return ToError(db_, rc, "exec");
  return common::Ok();
}

Expected<std::int64_t> Connection::QueryInt(std::string_view sql) {
  EDGEFLEET_ASSIGN_OR_RETURN(Statement s, Prepare(sql));
  EDGEFLEET_ASSIGN_OR_RETURN(const bool row, s.Step());
  const std::int64_t v = row ? s.Int(0) : 0;
  if (row) EDGEFLEET_RETURN_IF_ERROR(s.Run());
  return v;
}

Expected<Transaction> Transaction::Begin(Connection& c) {
  EDGEFLEET_RETURN_IF_ERROR(c.Exec("BEGIN IMMEDIATE"));
  return Transaction(&c);
}

Transaction::~Transaction() {
  if (c_ != nullptr) (void)c_->Exec("ROLLBACK");
}

Expected<void> Transaction::Commit() {
  Connection* c = c_;
  c_ = nullptr;
  auto committed = c->Exec("COMMIT");
  if (!committed.ok()) (void)c->Exec("ROLLBACK");  // a failed COMMIT may leave it open
  return committed;
}

}  // namespace edgefleet::agent::sqlite
