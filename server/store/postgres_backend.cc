// The PostgreSQL back end, through libpqxx (the one adapter over it: every
// pqxx exception is caught here and becomes an Error).
//
// Written against libpqxx 6.4 (Debian 12) and only its long-standing API:
// exec_params with dynamic parameters passed as C strings (nullptr = NULL),
// results read as text and converted by column type. Values travel in text
// format: integers in decimal, doubles in their shortest round-trip form,
// blobs as bytea hex ("\x..."), so nothing depends on pqxx's type traits.
//
// Concurrency: one pqxx::connection per pooled Connection, used by one thread
// at a time; transactions are READ COMMITTED. Correctness under concurrent
// writers comes from row locks (the store updates the device row first in
// every per-device write, which serialises writes of one device) and from
// transaction-scoped advisory locks for migrations and model publishing.

#include <pqxx/pqxx>

#include <charconv>
#include <cmath>
#include <cstring>
#include <new>
#include <utility>

#include "server/store/sql.h"

namespace edgefleet::store::sql {
namespace {

// PostgreSQL type OIDs (src/include/catalog/pg_type.dat; stable).
constexpr unsigned kOidBool = 16;
constexpr unsigned kOidBytea = 17;
constexpr unsigned kOidInt8 = 20;
constexpr unsigned kOidInt2 = 21;
constexpr unsigned kOidInt4 = 23;
constexpr unsigned kOidFloat4 = 700;
constexpr unsigned kOidFloat8 = 701;
constexpr unsigned kOidNumeric = 1700;

// Advisory lock keys: "edge" in the high 32 bits, the LockId below.
constexpr std::int64_t kAdvisoryLockBase = std::int64_t{0x65646765} << 32;

std::string HexBytes(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (const std::uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Expected<Value> DecodeCell(unsigned oid, std::string_view text) {
  switch (oid) {
    case kOidBool: return std::int64_t{text == "t" ? 1 : 0};
    case kOidInt2:
    case kOidInt4:
    case kOidInt8: {
      std::int64_t v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size()) break;
      return v;
    }
    case kOidFloat4:
    case kOidFloat8:
    case kOidNumeric: {
      double v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec != std::errc() || end != text.data() + text.size()) break;
      return v;
    }
    case kOidBytea: {
      if (!text.starts_with("\\x") || text.size() % 2 != 0) break;
      Bytes out;
      out.reserve((text.size() - 2) / 2);
      for (std::size_t i = 2; i < text.size(); i += 2) {
        const int hi = HexDigit(text[i]);
        const int lo = HexDigit(text[i + 1]);
        if (hi < 0 || lo < 0) return Error(ErrorCode::kCorrupt, "postgresql: malformed bytea");
        out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
      }
      return out;
    }
    default: return std::string(text);
  }
  return Error(ErrorCode::kCorrupt, "postgresql: cannot read '" + std::string(text.substr(0, 40)) +
                                        "' as a value of type " + std::to_string(oid));
}

class PostgresConnection final : public Connection {
 public:
  static Expected<std::unique_ptr<Connection>> Open(const std::string& conninfo) {
    auto conn = std::unique_ptr<PostgresConnection>(new PostgresConnection());
    try {
      conn->conn_ = std::make_unique<pqxx::connection>(conninfo);
      pqxx::nontransaction setup(*conn->conn_);
      // Migrations' CREATE ... IF NOT EXISTS would print NOTICEs on stderr.
      setup.exec0("SET client_min_messages TO warning");
    } catch (...) {
      return conn->MapException("connect");
    }
    return std::unique_ptr<Connection>(std::move(conn));
  }

  ~PostgresConnection() override { Rollback(); }

  Expected<void> Begin(TxnKind kind) override {
    if (txn_) return Error(ErrorCode::kInternal, "postgresql: nested transaction");
    try {
      if (kind == TxnKind::kWrite) {
        txn_ = std::make_unique<pqxx::work>(*conn_);
      } else {
        txn_ = std::make_unique<pqxx::read_transaction>(*conn_);
      }
    } catch (...) {
      txn_.reset();
      return MapException("begin");
    }
    return common::Ok();
  }

  Expected<void> Commit() override {
    if (!txn_) return Error(ErrorCode::kInternal, "postgresql: commit without a transaction");
    try {
      txn_->commit();
      txn_.reset();
    } catch (...) {
      txn_.reset();
      return MapException("commit");
    }
    return common::Ok();
  }

  void Rollback() noexcept override {
    if (!txn_) return;
    try {
      txn_->abort();
    } catch (...) {
      broken_ = true;  // cannot tell what state the session is in
    }
    txn_.reset();
  }

  Expected<Rows> Query(std::string_view sql, std::span<const Value> params) override {
    EDGEFLEET_ASSIGN_OR_RETURN(const pqxx::result r, Run(sql, params));
    try {
      const auto columns = r.columns();
      std::vector<unsigned> oids(columns);
      for (pqxx::row::size_type c = 0; c < columns; ++c) oids[c] = r.column_type(c);
      Rows rows;
      rows.reserve(r.size());
      for (const auto& row : r) {
        Row& out = rows.emplace_back();
        out.cells.reserve(columns);
        for (pqxx::row::size_type c = 0; c < columns; ++c) {
          const pqxx::field f = row[c];
          if (f.is_null()) {
            out.cells.emplace_back(Null{});
            continue;
          }
          EDGEFLEET_ASSIGN_OR_RETURN(Value v, DecodeCell(oids[c], std::string_view(f.c_str(), f.size())));
          out.cells.push_back(std::move(v));
        }
      }
      return rows;
    } catch (...) {
      return MapException("read result");
    }
  }

  Expected<std::int64_t> Execute(std::string_view sql, std::span<const Value> params) override {
    EDGEFLEET_ASSIGN_OR_RETURN(const pqxx::result r, Run(sql, params));
    return static_cast<std::int64_t>(r.affected_rows());
  }

  Expected<void> ExecuteScript(std::string_view sql) override {
    if (!txn_) return Error(ErrorCode::kInternal, "postgresql: statement outside a transaction");
    try {
      txn_->exec(std::string(sql));
    } catch (...) {
      return MapException("script");
    }
    return common::Ok();
  }

  Expected<void> Lock(LockId lock) override {
    const Value key[] = {kAdvisoryLockBase + static_cast<std::int64_t>(lock)};
    EDGEFLEET_RETURN_IF_ERROR(Run("SELECT pg_advisory_xact_lock(CAST($1 AS BIGINT))", key));
    return common::Ok();
  }

  bool broken() const override {
    if (broken_ || !conn_) return true;
    try {
      return !conn_->is_open();
    } catch (...) {
      return true;
    }
  }

 private:
  PostgresConnection() = default;

  Expected<pqxx::result> Run(std::string_view sql, std::span<const Value> params) {
    if (!txn_) return Error(ErrorCode::kInternal, "postgresql: statement outside a transaction");
    // Text form of every parameter; `pointers` refer into `texts`, which is
    // sized up front so that it never reallocates.
    std::vector<std::string> texts(params.size());
    std::vector<const char*> pointers(params.size(), nullptr);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const Value& v = params[i];
      if (std::holds_alternative<Null>(v)) continue;
      if (const auto* n = std::get_if<std::int64_t>(&v)) {
        texts[i] = std::to_string(*n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        if (std::isnan(*d)) {
          texts[i] = "NaN";
        } else if (std::isinf(*d)) {
          texts[i] = *d > 0 ? "Infinity" : "-Infinity";
        } else {
          char buf[64];
          const auto result = std::to_chars(buf, buf + sizeof buf, *d);
          texts[i].assign(buf, result.ptr);
        }
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        if (s->find('\0') != std::string::npos) {
          return Error(ErrorCode::kInvalidArgument, "text holds a NUL byte");
        }
        texts[i] = *s;
      } else if (const auto* b = std::get_if<Bytes>(&v)) {
        texts[i] = HexBytes(*b);
      }
      pointers[i] = texts[i].c_str();
    }
    try {
      return txn_->exec_params(std::string(sql), pqxx::prepare::make_dynamic_params(pointers));
    } catch (...) {
      return MapException("statement");
    }
  }

  // Called from a catch block: the current exception as an Error.
  Error MapException(std::string_view what) {
    std::string prefix = "postgresql: ";
    prefix += what;
    prefix += ": ";
    try {
      throw;
    } catch (const pqxx::broken_connection& e) {
      broken_ = true;
      return Error(ErrorCode::kUnavailable, prefix + Trim(e.what()));
    } catch (const pqxx::in_doubt_error& e) {
      broken_ = true;
      return Error(ErrorCode::kUnavailable, prefix + "outcome unknown: " + Trim(e.what()));
    } catch (const pqxx::statement_completion_unknown& e) {
      broken_ = true;
      return Error(ErrorCode::kUnavailable, prefix + "outcome unknown: " + Trim(e.what()));
    } catch (const pqxx::transaction_rollback& e) {  // serialization failure, deadlock
      return Error(ErrorCode::kAborted, prefix + Trim(e.what()));
    } catch (const pqxx::unique_violation& e) {
      return Error(ErrorCode::kAlreadyExists, prefix + Trim(e.what()));
    } catch (const pqxx::integrity_constraint_violation& e) {
      return Error(ErrorCode::kInvalidArgument, prefix + Trim(e.what()));
    } catch (const pqxx::data_exception& e) {
      return Error(ErrorCode::kInvalidArgument, prefix + Trim(e.what()));
    } catch (const pqxx::insufficient_resources& e) {
      return Error(ErrorCode::kResourceExhausted, prefix + Trim(e.what()));
    } catch (const pqxx::sql_error& e) {
      return Error(ErrorCode::kInternal, prefix + "[" + e.sqlstate() + "] " + Trim(e.what()));
    } catch (const std::bad_alloc&) {
      return Error(ErrorCode::kResourceExhausted, prefix + "out of memory");
    } catch (const std::exception& e) {
      return Error(ErrorCode::kInternal, prefix + Trim(e.what()));
    } catch (...) {
      return Error(ErrorCode::kInternal, prefix + "unknown exception");
    }
  }

  // libpq messages end in a newline and may carry the query after it.
  static std::string Trim(const char* what) {
    std::string s(what);
    if (const auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
    return s;
  }

  std::unique_ptr<pqxx::connection> conn_;
  std::unique_ptr<pqxx::transaction_base> txn_;
  bool broken_ = false;
};

// ---- schema -------------------------------------------------------------------------
//
// The same tables and columns as the SQLite schema (sqlite_backend.cc), in
// PostgreSQL's types: BIGINT for every integer and time, DOUBLE PRECISION,
// BYTEA for windows, identity columns for escalation and status ids.

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE devices (
  id TEXT PRIMARY KEY,
  token_sha256 TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  last_seen_ms BIGINT,
  reported_model_version BIGINT,
  firmware_version TEXT NOT NULL DEFAULT '',
  ram_mb BIGINT,
  rows_synced BIGINT NOT NULL DEFAULT 0,
  escalations BIGINT NOT NULL DEFAULT 0,
  fallbacks BIGINT NOT NULL DEFAULT 0,
  dropped_rows BIGINT NOT NULL DEFAULT 0,
  buffer_depth BIGINT NOT NULL DEFAULT 0,
  backoff_failures BIGINT NOT NULL DEFAULT 0,
  backoff_delay_ms BIGINT NOT NULL DEFAULT 0,
  health_json TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE admin_tokens (
  token_sha256 TEXT PRIMARY KEY,
  label TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);

CREATE TABLE models (
  version BIGINT PRIMARY KEY,
  model_id TEXT NOT NULL,
  filename TEXT NOT NULL,
  size_bytes BIGINT NOT NULL,
  sha256 TEXT NOT NULL,
  signature TEXT NOT NULL,
  min_device_ram_mb BIGINT NOT NULL,
  min_firmware_version TEXT NOT NULL,
  threshold_low DOUBLE PRECISION NOT NULL,
  threshold_high DOUBLE PRECISION NOT NULL,
  mu DOUBLE PRECISION NOT NULL,
  sigma DOUBLE PRECISION NOT NULL,
  k_low DOUBLE PRECISION NOT NULL,
  k_high DOUBLE PRECISION NOT NULL,
  created_ms BIGINT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('published', 'halted', 'released'))
);

CREATE TABLE escalations (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices (id),
  received_ms BIGINT NOT NULL,
  features BYTEA NOT NULL,
  edge_mse DOUBLE PRECISION NOT NULL,
  model_version BIGINT NOT NULL,
  cloud_mse DOUBLE PRECISION NOT NULL,
  label BIGINT NOT NULL CHECK (label IN (0, 1)),
  confidence DOUBLE PRECISION NOT NULL,
  archived BIGINT NOT NULL DEFAULT 0 CHECK (archived IN (0, 1))
);
CREATE INDEX escalations_by_archived ON escalations (archived, id);

CREATE TABLE update_status (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id TEXT NOT NULL REFERENCES devices (id),
  status TEXT NOT NULL,
  version BIGINT NOT NULL,
  error TEXT NOT NULL,
  reported_ms BIGINT NOT NULL
);
CREATE INDEX update_status_by_device ON update_status (device_id, id);

CREATE TABLE inference_rows (
  device_id TEXT NOT NULL REFERENCES devices (id),
  seq BIGINT NOT NULL,
  ts_ms BIGINT NOT NULL,
  model_version BIGINT NOT NULL,
  decision TEXT NOT NULL,
  confidence DOUBLE PRECISION NOT NULL,
  mse DOUBLE PRECISION NOT NULL,
  latency_us BIGINT NOT NULL,
  input_hash TEXT NOT NULL,
  fallback BIGINT NOT NULL CHECK (fallback IN (0, 1)),
  received_ms BIGINT NOT NULL,
  PRIMARY KEY (device_id, seq)
);

CREATE TABLE hard_samples (
  device_id TEXT NOT NULL REFERENCES devices (id),
  seq BIGINT NOT NULL,
  ts_ms BIGINT NOT NULL,
  model_version BIGINT NOT NULL,
  window_f32 BYTEA NOT NULL,
  edge_mse DOUBLE PRECISION NOT NULL,
  confidence DOUBLE PRECISION NOT NULL,
  decision TEXT NOT NULL,
  fallback BIGINT NOT NULL CHECK (fallback IN (0, 1)),
  received_ms BIGINT NOT NULL,
  PRIMARY KEY (device_id, seq)
);

CREATE TABLE health_stats (
  device_id TEXT NOT NULL REFERENCES devices (id),
  seq BIGINT NOT NULL,
  model_version BIGINT NOT NULL,
  period_start_ms BIGINT NOT NULL,
  period_end_ms BIGINT NOT NULL,
  stats_json TEXT NOT NULL,
  received_ms BIGINT NOT NULL,
  PRIMARY KEY (device_id, seq)
);
)sql";

// The column SQLite's version 2 adds (there, windows go to a file beside the
// database); here every window stays in its row and features_at is NULL.
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE escalations ADD COLUMN features_at BIGINT CHECK (features_at IS NULL OR features_at >= 0);
)sql";

constexpr Migration kMigrations[] = {
    {1, "devices, admin tokens, models, escalations, update status, synced rows", kSchemaV1},
    {2, "escalations.features_at (always NULL on PostgreSQL)", kSchemaV2},
};

class PostgresBackend final : public Backend {
 public:
  explicit PostgresBackend(std::string conninfo) : conninfo_(std::move(conninfo)) {}

  std::string_view name() const override { return "postgresql"; }
  Expected<std::unique_ptr<Connection>> Connect() override {
    return PostgresConnection::Open(conninfo_);
  }
  std::span<const Migration> migrations() const override { return kMigrations; }
  bool single_writer() const override { return false; }
  bool statements_are_round_trips() const override { return true; }

 private:
  std::string conninfo_;
};

}  // namespace

std::span<const Migration> PostgresMigrations() { return kMigrations; }

std::unique_ptr<Backend> MakePostgresBackend(std::string conninfo, const StoreOptions& /*options*/) {
  return std::make_unique<PostgresBackend>(std::move(conninfo));
}

}  // namespace edgefleet::store::sql
