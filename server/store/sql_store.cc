// The Store over either SQL back end: the connection pool, the
// transaction runner and every query, written once (see sql.h for why);
// what a write may hold is checked by sql_checks.h.

#include <algorithm>
#include <bit>
#include <condition_variable>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <type_traits>
#include <unordered_set>
#include <utility>

#include "common/crypto.h"
#include "common/text.h"
#include "server/store/sql.h"
#include "server/store/sql_checks.h"
#include "server/store/sql_insert.h"
#include "server/store/sql_pool.h"
#include "server/store/sql_rows.h"
#include "server/store/window_file.h"

namespace edgefleet::store::sql {
namespace {

using common::Ok;

Value Text(std::string_view s) { return std::string(s); }
Value Int(std::int64_t v) { return v; }
Value Real(double v) { return v; }
Value Bool(bool v) { return std::int64_t{v ? 1 : 0}; }
template <typename T>
Value Optional(const std::optional<T>& v) {
  if (!v) return Null{};
  if constexpr (std::is_same_v<T, std::string>) {
    return *v;
  } else {
    return std::int64_t{*v};
  }
}
Value Limit(std::size_t limit) {
  return static_cast<std::int64_t>(std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max()));
}

// ---- queries ------------------------------------------------------------------------------

constexpr std::string_view kLastSeen =
    "last_seen_ms = CASE WHEN last_seen_ms IS NULL OR last_seen_ms < CAST($2 AS BIGINT)"
    " THEN CAST($2 AS BIGINT) ELSE last_seen_ms END";

// The first statement of every per-device write: checks that the device
// exists, moves last_seen forward and, on PostgreSQL, row-locks the device
// until the transaction ends, which serialises writes of one device.
const std::string kTouchDevice = "UPDATE devices SET " + std::string(kLastSeen) + " WHERE id = $1";

bool AllowedTransition(ModelStatus from, ModelStatus to) {
  struct Edge {
    ModelStatus from, to;
  };
  static constexpr Edge kTransitions[] = {
      {ModelStatus::kPublished, ModelStatus::kHalted},
      {ModelStatus::kHalted, ModelStatus::kReleased},
      {ModelStatus::kReleased, ModelStatus::kHalted},
  };
  if (from == to) return true;
  for (const Edge& e : kTransitions) {
    if (e.from == from && e.to == to) return true;
  }
  return false;
}

Error DeviceNotFound(std::string_view id) {
  return Error(ErrorCode::kNotFound, "device '" + std::string(id) + "' is not registered");
}

// ---- the store ----------------------------------------------------------------------------

class SqlStore final : public Store {
 public:
  SqlStore(std::unique_ptr<Backend> backend, const StoreOptions& options)
      : backend_(std::move(backend)), pool_(*backend_, options.max_connections) {}

  // Opens the first connection, migrates, keeps it in the pool, and opens
  // (the first time: creates) the window file where the back end has one.
  Expected<void> Init() {
    EDGEFLEET_ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, backend_->Connect());
    EDGEFLEET_RETURN_IF_ERROR(ApplyMigrations(*conn, backend_->migrations()));
    pool_.Adopt(std::move(conn));
    const std::string path = backend_->windows_path();
    if (path.empty()) return Ok();
    // The id, read; a new database's file is created in a write transaction
    // (of two processes opening it at once, one creates, one finds the id).
    for (const TxnKind kind : {TxnKind::kRead, TxnKind::kWrite}) {
      EDGEFLEET_ASSIGN_OR_RETURN(windows_, Transact(kind, [&](Connection& c) {
                                   return WindowFile::OpenForDatabase(c, path, kind == TxnKind::kWrite);
                                 }));
      if (windows_) break;
    }
    return Ok();
  }

  std::string_view backend() const override { return backend_->name(); }

  Expected<int> SchemaVersion() override {
    return Transact(TxnKind::kRead, [](Connection& c) { return ReadSchemaVersion(c); });
  }

  // ---- devices ----

  Expected<void> AddDevice(std::string_view id, std::string_view token_sha256,
                           std::int64_t created_ms) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(id));
    EDGEFLEET_RETURN_IF_ERROR(CheckTokenHash(token_sha256));
    const Value params[] = {Text(id), Text(token_sha256), Int(created_ms)};
    auto added = Transact(TxnKind::kWrite, [&](Connection& c) -> Expected<void> {
      EDGEFLEET_RETURN_IF_ERROR(c.Execute(
          "INSERT INTO devices (id, token_sha256, created_ms) VALUES ($1, $2, $3)", params));
      return Ok();
    });
    if (!added.ok() && added.error().code() == ErrorCode::kAlreadyExists) {
      return Error(ErrorCode::kAlreadyExists, "device '" + std::string(id) + "' already exists");
    }
    return added;
  }

  Expected<void> AuthenticateDevice(std::string_view id, std::string_view token_sha256) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckTokenHash(token_sha256));
    const Error denied(ErrorCode::kUnauthenticated, "unknown device or wrong token");
    if (!CheckDeviceId(id).ok()) return denied;
    const Value params[] = {Text(id)};
    EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows, Transact(TxnKind::kRead, [&](Connection& c) {
                                 return c.Query("SELECT token_sha256 FROM devices WHERE id = $1", params);
                               }));
    // Compare against a dummy when the device is unknown, so both paths cost the same.
    const std::string stored = rows.empty() ? std::string(64, '0') : RowReader(rows[0]).Text(0);
    const bool match = common::ConstantTimeEquals(stored, token_sha256);
    if (rows.empty() || !match) return denied;
    return Ok();
  }

  Expected<Device> GetDevice(std::string_view id) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(id));
    const Value params[] = {Text(id)};
    const std::string sql = "SELECT " + std::string(kDeviceColumns) + " FROM devices WHERE id = $1";
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<Device> {
      EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows, c.Query(sql, params));
      if (rows.empty()) return DeviceNotFound(id);
      return ReadDevice(rows[0]);
    });
  }

  Expected<std::vector<Device>> ListDevices() override {
    const std::string sql = "SELECT " + std::string(kDeviceColumns) + " FROM devices ORDER BY id";
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<std::vector<Device>> {
      EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows, c.Query(sql, {}));
      std::vector<Device> out;
      out.reserve(rows.size());
      for (const Row& row : rows) {
        EDGEFLEET_ASSIGN_OR_RETURN(Device d, ReadDevice(row));
        out.push_back(std::move(d));
      }
      return out;
    });
  }

  Expected<void> RecordDeviceReport(std::string_view id, const DeviceReport& report) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(id));
    EDGEFLEET_RETURN_IF_ERROR(CheckReport(report));
    static const std::string sql =
        "UPDATE devices SET " + std::string(kLastSeen) +
        ", reported_model_version = COALESCE(CAST($3 AS BIGINT), reported_model_version)"
        ", firmware_version = COALESCE(CAST($4 AS TEXT), firmware_version)"
        ", ram_mb = COALESCE(CAST($5 AS BIGINT), ram_mb)"
        ", buffer_depth = COALESCE(CAST($6 AS BIGINT), buffer_depth)"
        ", backoff_failures = COALESCE(CAST($7 AS BIGINT), backoff_failures)"
        ", backoff_delay_ms = COALESCE(CAST($8 AS BIGINT), backoff_delay_ms)"
        ", dropped_rows = COALESCE(CAST($9 AS BIGINT), dropped_rows)"
        ", health_json = COALESCE(CAST($10 AS TEXT), health_json)"
        " WHERE id = $1";
    const Value params[] = {
        Text(id),
        Int(report.seen_ms),
        Optional(report.model_version),
        Optional(report.firmware_version),
        Optional(report.ram_mb),
        Optional(report.buffer_depth),
        report.backoff ? Int(report.backoff->failures) : Value(Null{}),
        report.backoff ? Int(report.backoff->delay_ms) : Value(Null{}),
        Optional(report.dropped_rows),
        Optional(report.health_json),
    };
    return Transact(TxnKind::kWrite, [&](Connection& c) -> Expected<void> {
      EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t changed, c.Execute(sql, params));
      if (changed == 0) return DeviceNotFound(id);
      return Ok();
    });
  }

  // ---- admin tokens ----

  Expected<void> AddAdminToken(std::string_view token_sha256, std::string_view label,
                               std::int64_t created_ms) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckTokenHash(token_sha256));
    EDGEFLEET_RETURN_IF_ERROR(CheckText("admin token label", label, kMaxShortTextBytes, true));
    const Value params[] = {Text(token_sha256), Text(label), Int(created_ms)};
    return Transact(TxnKind::kWrite, [&](Connection& c) -> Expected<void> {
      EDGEFLEET_RETURN_IF_ERROR(c.Execute(
          "INSERT INTO admin_tokens (token_sha256, label, created_ms) VALUES ($1, $2, $3)", params));
      return Ok();
    });
  }

  Expected<void> AuthenticateAdmin(std::string_view token_sha256) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckTokenHash(token_sha256));
    const Value params[] = {Text(token_sha256)};
    // The lookup is by the hash of a random token: timing reveals nothing
    // usable about a token, only about hashes an attacker cannot invert.
    EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows, Transact(TxnKind::kRead, [&](Connection& c) {
                                 return c.Query("SELECT 1 FROM admin_tokens WHERE token_sha256 = $1",
                                                params);
                               }));
    if (rows.empty()) return Error(ErrorCode::kUnauthenticated, "unknown admin token");
    return Ok();
  }

  // ---- models ----

  Expected<void> PublishModel(const Model& m) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckModel(m));
    static const std::string insert =
        "INSERT INTO models (" + std::string(kModelColumns) +
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
    const Value params[] = {
        Int(m.version),          Text(m.model_id),           Text(m.filename),
        Int(m.size_bytes),       Text(m.sha256),             Text(m.signature),
        Int(m.min_device_ram_mb), Text(m.min_firmware_version), Real(m.thresholds.low),
        Real(m.thresholds.high), Real(m.thresholds.mu),      Real(m.thresholds.sigma),
        Real(m.thresholds.k_low), Real(m.thresholds.k_high),  Int(m.created_ms),
        Text(ToString(ModelStatus::kPublished)),
    };
    return Transact(TxnKind::kWrite, [&](Connection& c) -> Expected<void> {
      // Serialises publishers, so "above every earlier version" holds under
      // concurrency on PostgreSQL too.
      EDGEFLEET_RETURN_IF_ERROR(c.Lock(LockId::kModels));
      EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows, c.Query("SELECT MAX(version) FROM models", {}));
      RowReader r(rows.at(0));
      const std::optional<std::int64_t> latest = r.OptionalInt(0);
      EDGEFLEET_RETURN_IF_ERROR(r.status());
      if (latest && m.version <= *latest) {
        const Value version[] = {Int(m.version)};
        EDGEFLEET_ASSIGN_OR_RETURN(const Rows same,
                                   c.Query("SELECT 1 FROM models WHERE version = $1", version));
        if (!same.empty()) {
          return Error(ErrorCode::kAlreadyExists,
                       "model version " + std::to_string(m.version) + " already exists");
        }
        return Error(ErrorCode::kConflict, "model version " + std::to_string(m.version) +
                                               " is not above the latest, " + std::to_string(*latest));
      }
      EDGEFLEET_RETURN_IF_ERROR(c.Execute(insert, params));
      return Ok();
    });
  }

  Expected<Model> GetModel(std::int64_t version) override {
    static const std::string sql = "SELECT " + std::string(kModelColumns) + " FROM models WHERE version = $1";
    const Value params[] = {Int(version)};
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<Model> {
      EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows, c.Query(sql, params));
      if (rows.empty()) {
        return Error(ErrorCode::kNotFound, "model version " + std::to_string(version) + " does not exist");
      }
      return ReadModel(rows[0]);
    });
  }

  Expected<Model> LatestPublishedModel() override {
    static const std::string sql = "SELECT " + std::string(kModelColumns) +
                                   " FROM models WHERE status IN ('published', 'released')"
                                   " ORDER BY version DESC LIMIT 1";
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<Model> {
      EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows, c.Query(sql, {}));
      if (rows.empty()) return Error(ErrorCode::kNotFound, "no published model");
      return ReadModel(rows[0]);
    });
  }

  Expected<std::vector<Model>> ListModels() override {
    static const std::string sql = "SELECT " + std::string(kModelColumns) + " FROM models ORDER BY version";
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<std::vector<Model>> {
      EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows, c.Query(sql, {}));
      std::vector<Model> out;
      out.reserve(rows.size());
      for (const Row& row : rows) {
        EDGEFLEET_ASSIGN_OR_RETURN(Model m, ReadModel(row));
        out.push_back(std::move(m));
      }
      return out;
    });
  }

  Expected<void> SetModelStatus(std::int64_t version, ModelStatus status) override {
    return Transact(TxnKind::kWrite, [&](Connection& c) -> Expected<void> {
      const Value key[] = {Int(version)};
      EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows,
                                 c.Query("SELECT status FROM models WHERE version = $1", key));
      if (rows.empty()) {
        return Error(ErrorCode::kNotFound, "model version " + std::to_string(version) + " does not exist");
      }
      RowReader r(rows[0]);
      const std::string current_text = r.Text(0);
      EDGEFLEET_RETURN_IF_ERROR(r.status());
      auto current = ParseModelStatus(current_text);
      if (!current.ok()) return Error(ErrorCode::kCorrupt, "stored model status is unknown");
      if (*current == status) return Ok();
      if (!AllowedTransition(*current, status)) {
        return Error(ErrorCode::kFailedPrecondition, std::string("model version ") +
                                                         std::to_string(version) + " cannot go from " +
                                                         ToString(*current) + " to " + ToString(status));
      }
      // Compare-and-set: a concurrent change in between aborts (and retries) this one.
      const Value params[] = {Int(version), Text(ToString(status)), Text(current_text)};
      EDGEFLEET_ASSIGN_OR_RETURN(
          const std::int64_t changed,
          c.Execute("UPDATE models SET status = $2 WHERE version = $1 AND status = $3", params));
      if (changed == 0) return Error(ErrorCode::kAborted, "model status changed concurrently");
      return Ok();
    });
  }

  // ---- escalations ----

  Expected<std::int64_t> InsertEscalation(const Escalation& e) override {
    EDGEFLEET_ASSIGN_OR_RETURN(const std::vector<std::int64_t> ids, InsertEscalations({&e, 1}));
    return ids.front();
  }

  Expected<std::vector<std::int64_t>> InsertEscalations(std::span<const Escalation> batch) override {
    if (batch.empty()) return std::vector<std::int64_t>{};
    if (batch.size() > kMaxBatchRows) return Invalid("too many escalations in one batch");
    for (const Escalation& e : batch) EDGEFLEET_RETURN_IF_ERROR(CheckEscalation(e));
    // One counter update per device (in id order, so concurrent batches lock
    // devices in one order), then the rows.
    std::map<std::string_view, std::pair<std::int64_t, std::int64_t>> per_device;  // count, latest
    for (const Escalation& e : batch) {
      auto& [n, latest] = per_device[e.device_id];
      latest = n == 0 ? e.received_ms : std::max(latest, e.received_ms);
      ++n;
    }
    static const std::string count =
        "UPDATE devices SET escalations = escalations + $3, " + std::string(kLastSeen) + " WHERE id = $1";
    // The windows first, durably: a committed row always points to them.
    std::vector<std::int64_t> offsets;
    if (windows_) {
      EDGEFLEET_ASSIGN_OR_RETURN(offsets, windows_->Append(batch));
    }
    return Transact(TxnKind::kWrite, [&](Connection& c) -> Expected<std::vector<std::int64_t>> {
      for (const auto& [device, counts] : per_device) {
        const Value params[] = {Text(device), Int(counts.second), Int(counts.first)};
        EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t changed, c.Execute(count, params));
        if (changed == 0) return DeviceNotFound(device);
      }
      constexpr std::string_view kInsert =
          "INSERT INTO escalations (device_id, received_ms, features, edge_mse, model_version,"
          " cloud_mse, label, confidence, features_at)";
      static const MultiRowInsert returning(kInsert, 9, "RETURNING id");
      static const MultiRowInsert plain(kInsert, 9, "");
      const bool computed = backend_->ids_without_returning();
      std::vector<std::int64_t> ids;
      ids.reserve(batch.size());
      const auto append = [&](const Escalation& e, std::vector<Value>& params) {
        const auto i = static_cast<std::size_t>(&e - batch.data());
        AppendValues(e, windows_ ? std::optional<std::int64_t>(offsets[i]) : std::nullopt, params);
      };
      const auto returned = [&](std::size_t n, const Rows& rows) {
        return AppendInsertedIds(c, computed, n, rows, ids);
      };
      const Expected<void> inserted = InsertInChunks(c, computed ? plain : returning, batch, append, returned);
      EDGEFLEET_RETURN_IF_ERROR(inserted);
      return ids;
    });
  }

  Expected<std::int64_t> CountEscalations(const EscalationRange& range) override {
    const Value params[] = {Int(range.after_id), Int(range.through_id), Bool(range.include_archived)};
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<std::int64_t> {
      // archived <= 1 is every row, archived <= 0 the unarchived ones.
      EDGEFLEET_ASSIGN_OR_RETURN(
          const Rows rows,
          c.Query("SELECT COUNT(*) FROM escalations WHERE id > $1 AND id <= $2 AND archived <= $3",
                  params));
      RowReader r(rows.at(0));
      const std::int64_t n = r.Int(0);
      EDGEFLEET_RETURN_IF_ERROR(r.status());
      return n;
    });
  }

  Expected<std::vector<Escalation>> ListEscalations(const EscalationRange& range,
                                                    std::size_t limit) override {
    static const std::string sql = "SELECT " + std::string(kEscalationColumns) +
                                   " FROM escalations WHERE id > $1 AND id <= $2 AND archived <= $3"
                                   " ORDER BY id LIMIT $4";
    const Value params[] = {Int(range.after_id), Int(range.through_id), Bool(range.include_archived),
                            Limit(limit)};
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<std::vector<Escalation>> {
      EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows, c.Query(sql, params));
      std::vector<Escalation> out;
      out.reserve(rows.size());
      for (const Row& row : rows) {
        EDGEFLEET_ASSIGN_OR_RETURN(Escalation e, ReadEscalation(row, windows_.get()));
        out.push_back(std::move(e));
      }
      return out;
    });
  }

  Expected<std::int64_t> ArchiveEscalations(std::span<const std::int64_t> ids) override {
    return Transact(TxnKind::kWrite, [&](Connection& c) -> Expected<std::int64_t> {
      std::int64_t archived = 0;
      for (const std::int64_t id : ids) {
        const Value params[] = {Int(id)};
        EDGEFLEET_ASSIGN_OR_RETURN(
            const std::int64_t changed,
            c.Execute("UPDATE escalations SET archived = 1 WHERE id = $1 AND archived = 0", params));
        archived += changed;
      }
      return archived;
    });
  }

  // ---- update status ----

  Expected<bool> RecordUpdateStatus(const UpdateStatusReport& report) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(report.device_id));
    EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("version", report.version, 0));
    EDGEFLEET_RETURN_IF_ERROR(CheckText("error", report.error, kMaxErrorTextBytes, true));
    const std::string status = ToString(report.status);
    const Value touch[] = {Text(report.device_id), Int(report.reported_ms)};
    const Value device[] = {Text(report.device_id)};
    const Value insert[] = {Text(report.device_id), Text(status), Int(report.version),
                            Text(report.error), Int(report.reported_ms)};
    return Transact(TxnKind::kWrite, [&](Connection& c) -> Expected<bool> {
      EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t changed, c.Execute(kTouchDevice, touch));
      if (changed == 0) return DeviceNotFound(report.device_id);
      EDGEFLEET_ASSIGN_OR_RETURN(
          const Rows latest,
          c.Query("SELECT status, version, error FROM update_status WHERE device_id = $1"
                  " ORDER BY id DESC LIMIT 1",
                  device));
      if (!latest.empty()) {
        RowReader r(latest[0]);
        const std::string s = r.Text(0);
        const std::int64_t v = r.Int(1);
        const std::string err = r.Text(2);
        EDGEFLEET_RETURN_IF_ERROR(r.status());
        if (s == status && v == report.version && err == report.error) return false;
      }
      EDGEFLEET_RETURN_IF_ERROR(c.Execute(
          "INSERT INTO update_status (device_id, status, version, error, reported_ms)"
          " VALUES ($1, $2, $3, $4, $5)",
          insert));
      return true;
    });
  }

  Expected<UpdateStatusEntry> LatestUpdateStatus(std::string_view device_id) override {
    EDGEFLEET_ASSIGN_OR_RETURN(std::vector<UpdateStatusEntry> entries, History(device_id, true));
    if (entries.empty()) {
      return Error(ErrorCode::kNotFound,
                   "device '" + std::string(device_id) + "' has reported no update status");
    }
    return std::move(entries.front());
  }

  Expected<std::vector<UpdateStatusEntry>> UpdateHistory(std::string_view device_id) override {
    return History(device_id, false);
  }

  // ---- sync ----

  Expected<IngestResult> IngestBatch(std::string_view device_id, const SyncBatch& batch,
                                     std::int64_t received_ms) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(device_id));
    EDGEFLEET_RETURN_IF_ERROR(CheckBatch(batch));
    const Value touch[] = {Text(device_id), Int(received_ms)};
    return Transact(TxnKind::kWrite, [&](Connection& c) -> Expected<IngestResult> {
      EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t exists, c.Execute(kTouchDevice, touch));
      if (exists == 0) return DeviceNotFound(device_id);
      static const SyncInsert inference_insert(
          "INSERT INTO inference_rows (device_id, seq, ts_ms, model_version, decision, confidence, mse,"
          " latency_us, input_hash, fallback, received_ms)",
          11);
      static const SyncInsert hard_sample_insert(
          "INSERT INTO hard_samples (device_id, seq, ts_ms, model_version, window_f32, edge_mse, confidence,"
          " decision, fallback, received_ms)",
          10);
      static const SyncInsert health_insert(
          "INSERT INTO health_stats (device_id, seq, model_version, period_start_ms, period_end_ms, stats_json,"
          " received_ms)",
          7);
      const bool multi_row = backend_->statements_are_round_trips();
      const auto append = [&](const auto& row, std::vector<Value>& params) {
        AppendValues(device_id, received_ms, row, params);
      };
      const auto nothing = [](const auto&) {};
      IngestResult result;
      std::int64_t new_fallbacks = 0;
      EDGEFLEET_RETURN_IF_ERROR(InsertSyncRows(
          c, multi_row, inference_insert, batch.inferences, append,
          [&new_fallbacks](const InferenceRow& r) { new_fallbacks += r.fallback ? 1 : 0; }, result.inferences));
      EDGEFLEET_RETURN_IF_ERROR(
          InsertSyncRows(c, multi_row, hard_sample_insert, batch.hard_samples, append, nothing, result.hard_samples));
      EDGEFLEET_RETURN_IF_ERROR(
          InsertSyncRows(c, multi_row, health_insert, batch.health, append, nothing, result.health));
      const auto new_rows = static_cast<std::int64_t>(
          result.inferences.stored.size() + result.hard_samples.stored.size() + result.health.stored.size());
      if (new_rows > 0) {
        const Value counters[] = {Text(device_id), Int(new_rows), Int(new_fallbacks)};
        EDGEFLEET_RETURN_IF_ERROR(c.Execute(
            "UPDATE devices SET rows_synced = rows_synced + $2, fallbacks = fallbacks + $3 WHERE id = $1",
            counters));
      }
      return result;
    });
  }

  Expected<std::vector<InferenceRow>> ListInferenceRows(std::string_view device_id,
                                                        std::int64_t after_seq,
                                                        std::size_t limit) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(device_id));
    const Value params[] = {Text(device_id), Int(after_seq), Limit(limit)};
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<std::vector<InferenceRow>> {
      EDGEFLEET_ASSIGN_OR_RETURN(
          const Rows rows,
          c.Query("SELECT seq, ts_ms, model_version, decision, confidence, mse, latency_us,"
                  " input_hash, fallback FROM inference_rows WHERE device_id = $1 AND seq > $2"
                  " ORDER BY seq LIMIT $3",
                  params));
      std::vector<InferenceRow> out;
      out.reserve(rows.size());
      for (const Row& row : rows) {
        RowReader r(row);
        InferenceRow x;
        x.seq = r.Int(0);
        x.ts_ms = r.Int(1);
        x.model_version = r.Int(2);
        x.decision = r.Text(3);
        x.confidence = r.Double(4);
        x.mse = r.Double(5);
        x.latency_us = r.Int(6);
        x.input_hash = r.Text(7);
        x.fallback = r.Int(8) != 0;
        EDGEFLEET_RETURN_IF_ERROR(r.status());
        out.push_back(std::move(x));
      }
      return out;
    });
  }

  Expected<std::vector<HardSampleRow>> ListHardSamples(std::string_view device_id,
                                                       std::int64_t after_seq,
                                                       std::size_t limit) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(device_id));
    const Value params[] = {Text(device_id), Int(after_seq), Limit(limit)};
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<std::vector<HardSampleRow>> {
      EDGEFLEET_ASSIGN_OR_RETURN(
          const Rows rows,
          c.Query("SELECT seq, ts_ms, model_version, window_f32, edge_mse, confidence, decision,"
                  " fallback FROM hard_samples WHERE device_id = $1 AND seq > $2"
                  " ORDER BY seq LIMIT $3",
                  params));
      std::vector<HardSampleRow> out;
      out.reserve(rows.size());
      for (const Row& row : rows) {
        RowReader r(row);
        HardSampleRow x;
        x.seq = r.Int(0);
        x.ts_ms = r.Int(1);
        x.model_version = r.Int(2);
        const Bytes window = r.Blob(3);
        x.edge_mse = r.Double(4);
        x.confidence = r.Double(5);
        x.decision = r.Text(6);
        x.fallback = r.Int(7) != 0;
        EDGEFLEET_RETURN_IF_ERROR(r.status());
        EDGEFLEET_ASSIGN_OR_RETURN(x.window, DecodeFloats(window));
        out.push_back(std::move(x));
      }
      return out;
    });
  }

  Expected<std::vector<HealthRow>> ListHealthRows(std::string_view device_id, std::int64_t after_seq,
                                                  std::size_t limit) override {
    EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(device_id));
    const Value params[] = {Text(device_id), Int(after_seq), Limit(limit)};
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<std::vector<HealthRow>> {
      EDGEFLEET_ASSIGN_OR_RETURN(
          const Rows rows,
          c.Query("SELECT seq, model_version, period_start_ms, period_end_ms, stats_json"
                  " FROM health_stats WHERE device_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                  params));
      std::vector<HealthRow> out;
      out.reserve(rows.size());
      for (const Row& row : rows) {
        RowReader r(row);
        HealthRow x;
        x.seq = r.Int(0);
        x.model_version = r.Int(1);
        x.period_start_ms = r.Int(2);
        x.period_end_ms = r.Int(3);
        x.stats_json = r.Text(4);
        EDGEFLEET_RETURN_IF_ERROR(r.status());
        out.push_back(std::move(x));
      }
      return out;
    });
  }

 private:
  // Runs `body` in one transaction of `kind` on a pooled connection: commits
  // if it succeeds, rolls back if not. An operation that lost to a concurrent
  // one (kAborted), or found its pooled connection dead at BEGIN, is retried
  // from the start on a fresh transaction, a few times.
  template <typename F>
  auto Transact(TxnKind kind, F&& body) -> std::invoke_result_t<F&, Connection&> {
    using Result = std::invoke_result_t<F&, Connection&>;
    constexpr int kAttempts = 4;
    for (int attempt = 1;; ++attempt) {
      const bool last = attempt == kAttempts;
      std::unique_lock<std::mutex> writer;
      if (kind == TxnKind::kWrite && backend_->single_writer()) {
        writer = std::unique_lock<std::mutex>(write_mu_);
      }
      auto lease = pool_.Acquire();
      if (!lease.ok()) return Result(std::move(lease).error());
      Connection& conn = lease->conn();
      if (auto begun = conn.Begin(kind); !begun.ok()) {
        if (!last && conn.broken()) continue;
        return Result(std::move(begun).error());
      }
      Result result = body(conn);
      if (!result.ok()) {
        conn.Rollback();
        if (!last && result.error().code() == ErrorCode::kAborted) continue;
        return result;
      }
      if (auto committed = conn.Commit(); !committed.ok()) {
        conn.Rollback();
        if (!last && committed.error().code() == ErrorCode::kAborted) continue;
        return Result(std::move(committed).error());
      }
      return result;
    }
  }

  Expected<std::vector<UpdateStatusEntry>> History(std::string_view device_id, bool latest_only) {
    EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(device_id));
    const Value device[] = {Text(device_id)};
    return Transact(TxnKind::kRead, [&](Connection& c) -> Expected<std::vector<UpdateStatusEntry>> {
      EDGEFLEET_ASSIGN_OR_RETURN(const Rows exists, c.Query("SELECT 1 FROM devices WHERE id = $1", device));
      if (exists.empty()) return DeviceNotFound(device_id);
      EDGEFLEET_ASSIGN_OR_RETURN(
          const Rows rows,
          c.Query(latest_only ? "SELECT id, status, version, error, reported_ms FROM update_status"
                                " WHERE device_id = $1 ORDER BY id DESC LIMIT 1"
                              : "SELECT id, status, version, error, reported_ms FROM update_status"
                                " WHERE device_id = $1 ORDER BY id",
                  device));
      std::vector<UpdateStatusEntry> out;
      out.reserve(rows.size());
      for (const Row& row : rows) {
        EDGEFLEET_ASSIGN_OR_RETURN(UpdateStatusEntry e, ReadStatusEntry(row));
        out.push_back(std::move(e));
      }
      return out;
    });
  }

  std::unique_ptr<Backend> backend_;
  Pool pool_;
  std::mutex write_mu_;  // single_writer back ends only
  std::unique_ptr<WindowFile> windows_;  // null: windows stay in their rows
};

}  // namespace

Expected<std::unique_ptr<Store>> MakeSqlStore(std::unique_ptr<Backend> backend,
                                              const StoreOptions& options) {
  auto store = std::make_unique<SqlStore>(std::move(backend), options);
  EDGEFLEET_RETURN_IF_ERROR(store->Init());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace edgefleet::store::sql
