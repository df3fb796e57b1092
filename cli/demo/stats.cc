#include "cli/demo/stats.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>

#include "common/sync_codec.h"

namespace edgefleet::cli::demo {
namespace {

class Db {
 public:
  explicit Db(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return;
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      sqlite3_close(db_);
      db_ = nullptr;
      return;
    }
    sqlite3_busy_timeout(db_, 2000);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;
  bool ok() const { return db_ != nullptr; }
  sqlite3* get() const { return db_; }

  // One integer; `ok` cleared on failure.
  std::int64_t Int(const std::string& sql, const std::string& arg, bool* ok) const {
    sqlite3_stmt* s = nullptr;
    std::int64_t v = 0;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) {
      *ok = false;
      return 0;
    }
    if (!arg.empty()) sqlite3_bind_text(s, 1, arg.c_str(), -1, SQLITE_TRANSIENT);
    const int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      v = sqlite3_column_int64(s, 0);
    } else if (rc != SQLITE_DONE) {
      *ok = false;
    }
    sqlite3_finalize(s);
    return v;
  }

 private:
  sqlite3* db_ = nullptr;
};

std::string Text(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  return t == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(t));
}

}  // namespace

AgentCounts ReadAgent(const std::filesystem::path& buffer) {
  AgentCounts c;
  Db db(buffer);
  if (!db.ok()) return c;
  bool ok = true;
  c.rows = db.Int("SELECT COUNT(*) FROM inferences", "", &ok);
  c.normal = db.Int("SELECT COUNT(*) FROM inferences WHERE decision = 'normal'", "", &ok);
  c.anomaly = db.Int("SELECT COUNT(*) FROM inferences WHERE decision = 'anomaly'", "", &ok);
  c.fallbacks = db.Int("SELECT COUNT(*) FROM inferences WHERE fallback = 1", "", &ok);
  c.pending = db.Int("SELECT COUNT(*) FROM inferences WHERE synced = 0", "", &ok);
  c.hard_samples = db.Int("SELECT COUNT(*) FROM hard_samples", "", &ok);
  c.health = db.Int("SELECT COUNT(*) FROM health", "", &ok);
  c.pending_all = c.pending + db.Int("SELECT COUNT(*) FROM hard_samples WHERE synced = 0", "", &ok) +
                  db.Int("SELECT COUNT(*) FROM health WHERE synced = 0", "", &ok);
  c.model_version = db.Int("SELECT model_version FROM inferences ORDER BY seq DESC LIMIT 1", "", &ok);
  c.bytes_sent = db.Int("SELECT COALESCE(SUM(value), 0) FROM counters WHERE name LIKE 'bytes_sent:%'", "", &ok);
  c.ok = ok;
  return c;
}

std::vector<AgentRow> ReadAgentRows(const std::filesystem::path& buffer) {
  std::vector<AgentRow> rows;
  Db db(buffer);
  if (!db.ok()) return rows;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db.get(), "SELECT seq, decision, fallback, model_version FROM inferences ORDER BY seq", -1,
                         &s, nullptr) != SQLITE_OK) {
    return rows;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    rows.push_back({sqlite3_column_int64(s, 0), Text(s, 1), sqlite3_column_int64(s, 2) != 0,
                    sqlite3_column_int64(s, 3)});
  }
  sqlite3_finalize(s);
  return rows;
}

std::int64_t SeedJsonBytes(const std::filesystem::path& buffer, const std::string& device_id) {
  Db db(buffer);
  if (!db.ok()) return -1;
  sync_codec::SyncMessage m;
  m.device_id = device_id;
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db.get(),
                         "SELECT seq, ts_ms, model_version, decision, confidence, mse, latency_us, input_hash, "
                         "fallback FROM inferences ORDER BY seq",
                         -1, &s, nullptr) != SQLITE_OK) {
    return -1;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    sync::InferenceRow r;
    r.seq = sqlite3_column_int64(s, 0);
    r.ts_ms = sqlite3_column_int64(s, 1);
    r.model_version = sqlite3_column_int64(s, 2);
    r.decision = Text(s, 3);
    r.confidence = sqlite3_column_double(s, 4);
    r.mse = sqlite3_column_double(s, 5);
    r.latency_us = sqlite3_column_int64(s, 6);
    r.input_hash = Text(s, 7);
    r.fallback = sqlite3_column_int64(s, 8) != 0;
    m.batch.inferences.push_back(std::move(r));
  }
  sqlite3_finalize(s);
  if (sqlite3_prepare_v2(db.get(),
                         "SELECT seq, ts_ms, model_version, window, edge_mse, confidence, decision, fallback "
                         "FROM hard_samples ORDER BY seq",
                         -1, &s, nullptr) != SQLITE_OK) {
    return -1;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    sync::HardSampleRow r;
    r.seq = sqlite3_column_int64(s, 0);
    r.ts_ms = sqlite3_column_int64(s, 1);
    r.model_version = sqlite3_column_int64(s, 2);
    const auto n = static_cast<std::size_t>(sqlite3_column_bytes(s, 3));
    r.window.resize(n / sizeof(float));
    if (n > 0) std::memcpy(r.window.data(), sqlite3_column_blob(s, 3), r.window.size() * sizeof(float));
    r.edge_mse = sqlite3_column_double(s, 4);
    r.confidence = sqlite3_column_double(s, 5);
    r.decision = Text(s, 6);
    r.fallback = sqlite3_column_int64(s, 7) != 0;
    m.batch.hard_samples.push_back(std::move(r));
  }
  sqlite3_finalize(s);
  if (sqlite3_prepare_v2(db.get(),
                         "SELECT seq, model_version, period_start_ms, period_end_ms, stats_json FROM health "
                         "ORDER BY seq",
                         -1, &s, nullptr) != SQLITE_OK) {
    return -1;
  }
  while (sqlite3_step(s) == SQLITE_ROW) {
    m.batch.health.push_back({sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
                              sqlite3_column_int64(s, 3), Text(s, 4)});
  }
  sqlite3_finalize(s);
  // One message holds at most kMaxRowsPerKind rows of a kind: count in chunks.
  std::int64_t total = 0;
  const std::size_t chunk = sync_codec::kMaxRowsPerKind;
  const std::size_t longest =
      std::max({m.batch.inferences.size(), m.batch.hard_samples.size(), m.batch.health.size()});
  for (std::size_t from = 0; from == 0 || from < longest; from += chunk) {
    sync_codec::SyncMessage part;
    part.device_id = device_id;
    auto take = [&](const auto& src, auto& dst) {
      for (std::size_t i = from; i < src.size() && i < from + chunk; ++i) dst.push_back(src[i]);
    };
    take(m.batch.inferences, part.batch.inferences);
    take(m.batch.hard_samples, part.batch.hard_samples);
    take(m.batch.health, part.batch.health);
    auto encoded = sync_codec::EncodeSyncMessage(part, sync_codec::SyncFormat::kJson, false);
    if (!encoded.ok()) return -1;
    total += static_cast<std::int64_t>(encoded.value().size());
    if (longest == 0) break;
  }
  return total;
}

ServerCounts ReadServer(const std::filesystem::path& db_path, const std::string& device_id) {
  ServerCounts c;
  Db db(db_path);
  if (!db.ok()) return c;
  bool ok = true;
  c.rows = db.Int("SELECT COUNT(*) FROM inference_rows WHERE device_id = ?", device_id, &ok);
  c.distinct_seq = db.Int("SELECT COUNT(DISTINCT seq) FROM inference_rows WHERE device_id = ?", device_id, &ok);
  c.escalations = db.Int("SELECT COUNT(*) FROM escalations WHERE device_id = ?", device_id, &ok);
  c.hard_samples = db.Int("SELECT COUNT(*) FROM hard_samples WHERE device_id = ?", device_id, &ok);
  c.health = db.Int("SELECT COUNT(*) FROM health_stats WHERE device_id = ?", device_id, &ok);
  c.reported_model =
      db.Int("SELECT COALESCE(reported_model_version, 0) FROM devices WHERE id = ?", device_id, &ok);
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v2(db.get(), "SELECT status, version FROM update_status WHERE device_id = ? ORDER BY id", -1,
                         &s, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(s, 1, device_id.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(s) == SQLITE_ROW) c.ota.emplace_back(Text(s, 0), sqlite3_column_int64(s, 1));
    sqlite3_finalize(s);
  } else {
    ok = false;
  }
  c.ok = ok;
  return c;
}

}  // namespace edgefleet::cli::demo
