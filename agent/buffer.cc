// The store-and-forward buffer (agent/buffer.h): schema and migrations,
// appends, batches, acknowledgements. Health statistics and the disk budget
// are in buffer_maintenance.cc. Layout and policies: docs/agent-buffer.md.
#include "agent/buffer.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <mutex>
#include <unordered_set>

#include "agent/buffer_impl.h"

namespace edgefleet::agent {

using common::Error;
using common::ErrorCode;
using common::Ok;

namespace {

static_assert(std::endian::native == std::endian::little, "windows are stored as little-endian float32");

// Each step moves the schema from version i to i + 1; never edit a released step.
const char* const kMigrations[] = {
    // 1: the first schema.
    R"sql(
CREATE TABLE inferences (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms INTEGER NOT NULL, model_version INTEGER NOT NULL, decision TEXT NOT NULL,
  confidence REAL NOT NULL, mse REAL NOT NULL, latency_us INTEGER NOT NULL,
  input_hash TEXT NOT NULL, fallback INTEGER NOT NULL, critical INTEGER NOT NULL,
  synced INTEGER NOT NULL DEFAULT 0);
CREATE INDEX inferences_pending ON inferences (ts_ms) WHERE synced = 0;
CREATE INDEX inferences_critical ON inferences (seq) WHERE synced = 0 AND critical = 1;
CREATE INDEX inferences_synced ON inferences (seq) WHERE synced = 1;
CREATE INDEX inferences_ts ON inferences (ts_ms);
CREATE TABLE hard_samples (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  ts_ms INTEGER NOT NULL, model_version INTEGER NOT NULL, window BLOB NOT NULL,
  edge_mse REAL NOT NULL, confidence REAL NOT NULL, decision TEXT NOT NULL,
  fallback INTEGER NOT NULL, synced INTEGER NOT NULL DEFAULT 0);
CREATE INDEX hard_samples_pending ON hard_samples (confidence, seq) WHERE synced = 0;
CREATE TABLE health (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  model_version INTEGER NOT NULL, period_start_ms INTEGER NOT NULL,
  period_end_ms INTEGER NOT NULL, stats_json TEXT NOT NULL,
  synced INTEGER NOT NULL DEFAULT 0);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE period_counters (
  model_version INTEGER PRIMARY KEY, errors INTEGER NOT NULL DEFAULT 0,
  unclean_restarts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql",
    // 2: provisional rows (escalations in flight) and the link from an
    // inference row to its hard sample.
    R"sql(
ALTER TABLE inferences ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0;
ALTER TABLE inferences ADD COLUMN hard_sample_seq INTEGER NOT NULL DEFAULT -1;
ALTER TABLE hard_samples ADD COLUMN provisional INTEGER NOT NULL DEFAULT 0;
CREATE INDEX inferences_provisional ON inferences (seq) WHERE provisional = 1;
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

Expected<void> Migrate(sqlite::Connection& db) {
  EDGEFLEET_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(db));
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t version, db.QueryInt("PRAGMA user_version"));
  if (version > kSchemaVersion) {
    return Error(ErrorCode::kFailedPrecondition,
                 "the buffer's schema is version " + std::to_string(version) + ", newer than this build's " +
                     std::to_string(kSchemaVersion));
  }
  if (version < 0) return Error(ErrorCode::kCorrupt, "the buffer's schema version is negative");
  for (auto v = static_cast<int>(version); v < kSchemaVersion; ++v) {
    EDGEFLEET_RETURN_IF_ERROR(db.Exec(kMigrations[v]));
    EDGEFLEET_RETURN_IF_ERROR(db.Exec("PRAGMA user_version = " + std::to_string(v + 1)));
  }
  return tx.Commit();
}

// Checks a row by the sync codec's rules, so that nothing enters the buffer
// that the server would refuse (a refused row would block its batch forever).
Expected<void> CheckRow(const sync::SyncBatch& batch) {
  sync_codec::SyncMessage m;
  m.device_id = "buffer";
  m.batch = batch;
  return sync_codec::ValidateSyncMessage(m);
}

}  // namespace

Buffer::Buffer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Buffer::~Buffer() = default;

int Buffer::SchemaVersion() { return kSchemaVersion; }

Expected<std::unique_ptr<Buffer>> Buffer::Open(const std::filesystem::path& path,
                                               const BufferOptions& options) {
  auto opened = [&]() -> Expected<std::unique_ptr<Buffer>> {
    EDGEFLEET_ASSIGN_OR_RETURN(auto db, sqlite::Connection::Open(path.string()));
    EDGEFLEET_ASSIGN_OR_RETURN(auto mode, db->Prepare("PRAGMA journal_mode=WAL"));
    EDGEFLEET_ASSIGN_OR_RETURN(const bool row, mode.Step());
    if (!row || mode.Text(0) != "wal") return Error(ErrorCode::kIo, "the buffer cannot use WAL");
    EDGEFLEET_RETURN_IF_ERROR(mode.Run());
    EDGEFLEET_RETURN_IF_ERROR(db->Exec(options.durability == Durability::kFull ? "PRAGMA synchronous=FULL"
                                                                                 : "PRAGMA synchronous=NORMAL"));
    // Bounds the WAL file kept after a checkpoint (it is outside the budget).
    EDGEFLEET_RETURN_IF_ERROR(db->Exec("PRAGMA journal_size_limit=4194304"));
    EDGEFLEET_RETURN_IF_ERROR(Migrate(*db));
    auto impl = std::make_unique<Impl>();
    impl->db = std::move(db);
    impl->options = options;
    // An open that finds the previous process still marked running counts an
    // unclean restart (for the model version it last ran).
    EDGEFLEET_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(*impl->db));
    EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t running, impl->Meta("running", 0));
    if (running != 0) {
      EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t mv, impl->Meta("last_model_version", 0));
      EDGEFLEET_RETURN_IF_ERROR(impl->AddCounter("unclean_restarts", 1));
      EDGEFLEET_RETURN_IF_ERROR(impl->AddPeriodCounter(mv, "unclean_restarts"));
    }
    EDGEFLEET_RETURN_IF_ERROR(impl->SetMeta("running", 1));
    EDGEFLEET_RETURN_IF_ERROR(tx.Commit());
    // Provisional rows left by a previous process: the escalation's answer,
    // if any, went with that process.
    EDGEFLEET_ASSIGN_OR_RETURN(impl->released_at_open, impl->ReleaseProvisionalLocked());
    return std::unique_ptr<Buffer>(new Buffer(std::move(impl)));
  }();
  if (!opened.ok()) return std::move(opened).error().WithContext("opening buffer " + path.string());
  return opened;
}

Expected<void> Buffer::Close() {
  std::lock_guard lock(impl_->mu);
  if (!impl_->db) return Ok();
  EDGEFLEET_RETURN_IF_ERROR(impl_->SetMeta("running", 0));
  impl_->db.reset();
  return Ok();
}

Expected<Buffer::Appended> Buffer::AppendInference(const sync::InferenceRow& row,
                                                   const std::vector<float>& window, bool provisional) {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  // A provisional row keeps its window whatever its confidence: the final
  // confidence (Complete) decides whether it stays a hard sample.
  const bool hard = (provisional || row.confidence < kHardSampleConfidence) && !window.empty();
  sync::SyncBatch check;
  check.inferences.push_back(row);
  if (hard) {
    sync::HardSampleRow h;
    h.window = window;
    h.edge_mse = row.mse;
    h.confidence = row.confidence;
    h.decision = row.decision;
    h.model_version = row.model_version;
    h.ts_ms = row.ts_ms;
    check.hard_samples.push_back(std::move(h));
  }
  EDGEFLEET_RETURN_IF_ERROR(CheckRow(check));
  const auto& critical = impl_->options.critical_decisions;
  const bool is_critical = std::find(critical.begin(), critical.end(), row.decision) != critical.end();

  Appended out;
  {
    EDGEFLEET_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(*impl_->db));
    EDGEFLEET_ASSIGN_OR_RETURN(
        auto ins, impl_->db->Prepare("INSERT INTO inferences (ts_ms, model_version, decision, confidence, mse, "
                                     "latency_us, input_hash, fallback, critical, provisional) VALUES (?,?,?,?,?,?,?,?,?,?)"));
    ins.Bind(1, row.ts_ms).Bind(2, row.model_version).Bind(3, row.decision).Bind(4, row.confidence);
    ins.Bind(5, row.mse).Bind(6, row.latency_us).Bind(7, row.input_hash);
    ins.Bind(8, std::int64_t{row.fallback ? 1 : 0}).Bind(9, std::int64_t{is_critical ? 1 : 0});
    ins.Bind(10, std::int64_t{provisional ? 1 : 0});
    EDGEFLEET_RETURN_IF_ERROR(ins.Run());
    out.inference_seq = impl_->db->LastInsertId();
    if (hard) {
      EDGEFLEET_ASSIGN_OR_RETURN(
          auto hs, impl_->db->Prepare("INSERT INTO hard_samples (ts_ms, model_version, window, edge_mse, "
                                      "confidence, decision, fallback, provisional) VALUES (?,?,?,?,?,?,?,?)"));
      hs.Bind(1, row.ts_ms).Bind(2, row.model_version).BindBlob(3, window.data(), window.size() * sizeof(float));
      hs.Bind(4, row.mse).Bind(5, row.confidence).Bind(6, row.decision);
      hs.Bind(7, std::int64_t{row.fallback ? 1 : 0}).Bind(8, std::int64_t{provisional ? 1 : 0});
      EDGEFLEET_RETURN_IF_ERROR(hs.Run());
      out.hard_sample_seq = impl_->db->LastInsertId();
      EDGEFLEET_ASSIGN_OR_RETURN(auto link, impl_->db->Prepare("UPDATE inferences SET hard_sample_seq = ? WHERE seq = ?"));
      link.Bind(1, out.hard_sample_seq).Bind(2, out.inference_seq);
      EDGEFLEET_RETURN_IF_ERROR(link.Run());
    }
    EDGEFLEET_RETURN_IF_ERROR(impl_->SetMeta("last_model_version", row.model_version));
    EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t start, impl_->Meta("period_start_ms", -1));
    if (start < 0) EDGEFLEET_RETURN_IF_ERROR(impl_->SetMeta("period_start_ms", row.ts_ms));
    EDGEFLEET_RETURN_IF_ERROR(tx.Commit());
  }
  EDGEFLEET_RETURN_IF_ERROR(impl_->EnforceBudget());
  return out;
}

Expected<std::int64_t> Buffer::AppendHealth(const sync::HealthRow& row) {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  sync::SyncBatch check;
  check.health.push_back(row);
  EDGEFLEET_RETURN_IF_ERROR(CheckRow(check));
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t seq, impl_->InsertHealth(row));
  EDGEFLEET_RETURN_IF_ERROR(impl_->EnforceBudget());
  return seq;
}

Expected<sync::SyncBatch> Buffer::NextBatch(const BatchBudget& budget) {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  sync::SyncBatch batch;
  std::size_t used = 0;
  const auto limit = static_cast<std::int64_t>(budget.max_rows_per_kind);
  // Takes a row if it fits, or if it is the batch's first (so a batch is never
  // empty while rows are pending); returns false at the first row that does not.
  auto fits = [&](std::size_t bytes) {
    const bool first = batch.inferences.empty() && batch.hard_samples.empty() && batch.health.empty();
    if (!first && used + bytes > budget.max_bytes) return false;
    used += bytes;
    return true;
  };
  {
    EDGEFLEET_ASSIGN_OR_RETURN(
        auto q, impl_->db->Prepare("SELECT seq, ts_ms, model_version, window, edge_mse, confidence, decision, "
                                   "fallback FROM hard_samples WHERE synced = 0 AND provisional = 0 "
                                   "ORDER BY confidence ASC, seq ASC LIMIT ?"));
    q.Bind(1, limit);
    while (true) {
      EDGEFLEET_ASSIGN_OR_RETURN(const bool row, q.Step());
      if (!row) break;
      if (!fits(kEstimatedHardSampleBytes)) break;
      sync::HardSampleRow h;
      h.seq = q.Int(0);
      h.ts_ms = q.Int(1);
      h.model_version = q.Int(2);
      const std::string_view blob = q.Blob(3);
      if (blob.size() != sync::kWindowValues * sizeof(float)) {
        return Error(ErrorCode::kCorrupt, "hard sample " + std::to_string(h.seq) + " has a window of " +
                                              std::to_string(blob.size()) + " bytes");
      }
      h.window.resize(sync::kWindowValues);
      std::memcpy(h.window.data(), blob.data(), blob.size());
      h.edge_mse = q.Double(4);
      h.confidence = q.Double(5);
      h.decision = q.Text(6);
      h.fallback = q.Int(7) != 0;
      batch.hard_samples.push_back(std::move(h));
    }
    EDGEFLEET_RETURN_IF_ERROR(q.Run());
  }
  {
    EDGEFLEET_ASSIGN_OR_RETURN(
        auto q, impl_->db->Prepare("SELECT seq, model_version, period_start_ms, period_end_ms, stats_json "
                                   "FROM health WHERE synced = 0 ORDER BY seq ASC LIMIT ?"));
    q.Bind(1, limit);
    while (true) {
      EDGEFLEET_ASSIGN_OR_RETURN(const bool row, q.Step());
      if (!row) break;
      sync::HealthRow h;
      h.stats_json = q.Text(4);
      if (!fits(kEstimatedHealthBytes + h.stats_json.size())) break;
      h.seq = q.Int(0);
      h.model_version = q.Int(1);
      h.period_start_ms = q.Int(2);
      h.period_end_ms = q.Int(3);
      batch.health.push_back(std::move(h));
    }
    EDGEFLEET_RETURN_IF_ERROR(q.Run());
  }
  {
    EDGEFLEET_ASSIGN_OR_RETURN(
        auto q, impl_->db->Prepare("SELECT seq, ts_ms, model_version, decision, confidence, mse, latency_us, "
                                   "input_hash, fallback FROM inferences WHERE synced = 0 AND provisional = 0 "
                                   "ORDER BY ts_ms DESC, seq DESC LIMIT ?"));
    q.Bind(1, limit);
    while (true) {
      EDGEFLEET_ASSIGN_OR_RETURN(const bool row, q.Step());
      if (!row) break;
      sync::InferenceRow r;
      r.input_hash = q.Text(7);
      if (!fits(kEstimatedInferenceBytes + r.input_hash.size() / 2)) break;
      r.seq = q.Int(0);
      r.ts_ms = q.Int(1);
      r.model_version = q.Int(2);
      r.decision = q.Text(3);
      r.confidence = q.Double(4);
      r.mse = q.Double(5);
      r.latency_us = q.Int(6);
      r.fallback = q.Int(8) != 0;
      const SyncHash h = impl_->options.sync_input_hash;
      if (h == SyncHash::kNone || (h == SyncHash::kUncertain && r.confidence >= kHardSampleConfidence)) {
        r.input_hash.clear();
      }
      batch.inferences.push_back(std::move(r));
    }
    EDGEFLEET_RETURN_IF_ERROR(q.Run());
  }
  auto by_seq = [](const auto& a, const auto& b) { return a.seq < b.seq; };
  std::sort(batch.inferences.begin(), batch.inferences.end(), by_seq);
  std::sort(batch.hard_samples.begin(), batch.hard_samples.end(), by_seq);
  return batch;
}

namespace {

template <typename RowT>
Expected<void> MarkKind(sqlite::Connection& db, const char* table, const std::vector<RowT>& sent,
                        const sync::SeqAck& ack, AckOutcome& out) {
  std::unordered_set<std::int64_t> in_batch;
  for (const RowT& r : sent) in_batch.insert(r.seq);
  std::unordered_set<std::int64_t> marked;
  EDGEFLEET_ASSIGN_OR_RETURN(auto upd, db.Prepare(std::string("UPDATE ") + table +
                                                  " SET synced = 1 WHERE seq = ? AND synced = 0"));
  for (const auto* list : {&ack.stored, &ack.already_present}) {
    for (const std::int64_t seq : *list) {
      if (!in_batch.contains(seq)) {
        ++out.ignored;
        continue;
      }
      if (!marked.insert(seq).second) continue;
      upd.Bind(1, seq);
      EDGEFLEET_RETURN_IF_ERROR(upd.Run());
    }
  }
  out.marked_synced += static_cast<std::int64_t>(marked.size());
  out.still_pending += static_cast<std::int64_t>(in_batch.size() - marked.size());
  return Ok();
}

}  // namespace

Expected<AckOutcome> Buffer::ApplyAck(const sync::SyncBatch& sent, const sync::IngestResult& ack) {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  AckOutcome out;
  EDGEFLEET_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(*impl_->db));
  EDGEFLEET_RETURN_IF_ERROR(MarkKind(*impl_->db, "inferences", sent.inferences, ack.inferences, out));
  EDGEFLEET_RETURN_IF_ERROR(MarkKind(*impl_->db, "hard_samples", sent.hard_samples, ack.hard_samples, out));
  EDGEFLEET_RETURN_IF_ERROR(MarkKind(*impl_->db, "health", sent.health, ack.health, out));
  EDGEFLEET_RETURN_IF_ERROR(tx.Commit());
  return out;
}

Expected<void> Buffer::AddBytesSent(std::string_view strategy, std::int64_t bytes) {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  if (strategy.empty() || strategy.size() > sync_codec::kMaxDecisionBytes || bytes < 0) {
    return Error(ErrorCode::kInvalidArgument, "a strategy name of 1 to 32 bytes and a byte count >= 0 are needed");
  }
  return impl_->AddCounter("bytes_sent:" + std::string(strategy), bytes);
}

Expected<std::vector<sync_codec::StrategyBytes>> Buffer::BytesSent() {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  return impl_->BytesSentLocked();
}

Expected<BufferStats> Buffer::Stats() {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  return impl_->StatsLocked();
}

Expected<sync_codec::DeviceState> Buffer::ReportState() {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  EDGEFLEET_ASSIGN_OR_RETURN(const BufferStats s, impl_->StatsLocked());
  sync_codec::DeviceState state;
  state.buffer_depth = s.pending_total();
  state.dropped_inferences = s.dropped.inferences;
  state.dropped_hard_samples = s.dropped.hard_samples;
  state.dropped_health = s.dropped.health;
  EDGEFLEET_ASSIGN_OR_RETURN(state.bytes_sent, impl_->BytesSentLocked());
  return state;
}

std::string InputHash(const std::vector<float>& window) {
  std::uint64_t h = 14695981039346656037ull;
  for (const float v : window) {
    const auto bits = std::bit_cast<std::uint32_t>(v);
    for (int k = 0; k < 4; ++k) {
      h ^= (bits >> (8 * k)) & 0xffu;
      h *= 1099511628211ull;
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[h & 15];
    h >>= 4;
  }
  return out;
}

}  // namespace edgefleet::agent
