// The buffer's bookkeeping: counters and meta values, health statistics per
// model version, and the disk budget's drop policy (agent/buffer.h).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "agent/buffer_impl.h"

namespace edgefleet::agent {

using common::Error;
using common::ErrorCode;
using common::Ok;

Expected<void> Buffer::Impl::CheckOpen() const {
  if (!db) return Error(ErrorCode::kFailedPrecondition, "the buffer is closed");
  return Ok();
}

Expected<std::int64_t> Buffer::Impl::Meta(std::string_view key, std::int64_t fallback) {
  EDGEFLEET_ASSIGN_OR_RETURN(auto q, db->Prepare("SELECT value FROM meta WHERE key = ?"));
  q.Bind(1, key);
  EDGEFLEET_ASSIGN_OR_RETURN(const bool row, q.Step());
  const std::int64_t v = row ? q.Int(0) : fallback;
  if (row) EDGEFLEET_RETURN_IF_ERROR(q.Run());
  return v;
}

Expected<void> Buffer::Impl::SetMeta(std::string_view key, std::int64_t value) {
  EDGEFLEET_ASSIGN_OR_RETURN(auto q, db->Prepare("INSERT INTO meta (key, value) VALUES (?, ?) "
                                                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value"));
  q.Bind(1, key).Bind(2, value);
  return q.Run();
}

Expected<std::int64_t> Buffer::Impl::Counter(std::string_view name) {
  EDGEFLEET_ASSIGN_OR_RETURN(auto q, db->Prepare("SELECT value FROM counters WHERE name = ?"));
  q.Bind(1, name);
  EDGEFLEET_ASSIGN_OR_RETURN(const bool row, q.Step());
  const std::int64_t v = row ? q.Int(0) : 0;
  if (row) EDGEFLEET_RETURN_IF_ERROR(q.Run());
  return v;
}

Expected<void> Buffer::Impl::AddCounter(std::string_view name, std::int64_t delta) {
  EDGEFLEET_ASSIGN_OR_RETURN(auto q, db->Prepare("INSERT INTO counters (name, value) VALUES (?, ?) "
                                                 "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"));
  q.Bind(1, name).Bind(2, delta);
  return q.Run();
}

Expected<void> Buffer::Impl::AddPeriodCounter(std::int64_t model_version, std::string_view column) {
  const std::string sql = "INSERT INTO period_counters (model_version, " + std::string(column) +
                          ") VALUES (?, 1) ON CONFLICT (model_version) DO UPDATE SET " + std::string(column) +
                          " = " + std::string(column) + " + 1";
  EDGEFLEET_ASSIGN_OR_RETURN(auto q, db->Prepare(sql));
  q.Bind(1, model_version);
  return q.Run();
}

Expected<std::int64_t> Buffer::Impl::InsertHealth(const sync::HealthRow& row) {
  EDGEFLEET_ASSIGN_OR_RETURN(auto q, db->Prepare("INSERT INTO health (model_version, period_start_ms, "
                                                 "period_end_ms, stats_json) VALUES (?,?,?,?)"));
  q.Bind(1, row.model_version).Bind(2, row.period_start_ms).Bind(3, row.period_end_ms).Bind(4, row.stats_json);
  EDGEFLEET_RETURN_IF_ERROR(q.Run());
  return db->LastInsertId();
}

Expected<std::int64_t> Buffer::Impl::UsedBytes() {
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t pages, db->QueryInt("PRAGMA page_count"));
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t free_pages, db->QueryInt("PRAGMA freelist_count"));
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t page_size, db->QueryInt("PRAGMA page_size"));
  return (pages - free_pages) * page_size;
}

Expected<void> Buffer::Impl::EnforceBudget() {
  const std::int64_t budget = options.disk_budget_bytes;
  EDGEFLEET_ASSIGN_OR_RETURN(std::int64_t used, UsedBytes());
  if (used <= budget) return Ok();
  const std::int64_t target = budget - budget / 10;
  // In policy order: synced rows (pruned, not a loss), then pending rows by
  // value: inference logs, hard samples, health; oldest first in each.
  struct Step {
    const char* table;
    bool synced;
    const char* counter;
    std::int64_t row_bytes;  // about what a row takes in the file, indexes included
  };
  static constexpr Step kSteps[] = {
      {"hard_samples", true, "pruned_synced", 1300},  {"inferences", true, "pruned_synced", 100},
      {"health", true, "pruned_synced", 300},         {"inferences", false, "dropped_inferences", 100},
      {"hard_samples", false, "dropped_hard_samples", 1300}, {"health", false, "dropped_health", 300},
  };
  for (const Step& step : kSteps) {
    while (used > target) {
      // About the rows that free the excess, so no more is dropped than needed.
      const std::int64_t chunk = std::clamp<std::int64_t>((used - target) / step.row_bytes + 1, 1, 1024);
      EDGEFLEET_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(*db));
      // Provisional rows (escalations in flight) are never removed; health has none.
      const bool may_be_provisional = std::string_view(step.table) != "health";
      const std::string sql = std::string("DELETE FROM ") + step.table + " WHERE seq IN (SELECT seq FROM " +
                              step.table + " WHERE " + (may_be_provisional ? "provisional = 0 AND " : "") +
                              "synced = " + (step.synced ? "1" : "0") + " ORDER BY seq ASC LIMIT ?)";
      EDGEFLEET_ASSIGN_OR_RETURN(auto del, db->Prepare(sql));
      del.Bind(1, chunk);
      EDGEFLEET_RETURN_IF_ERROR(del.Run());
      const std::int64_t removed = db->Changes();
      if (removed == 0) break;
      EDGEFLEET_RETURN_IF_ERROR(AddCounter(step.counter, removed));
      EDGEFLEET_RETURN_IF_ERROR(tx.Commit());
      EDGEFLEET_ASSIGN_OR_RETURN(used, UsedBytes());
    }
  }
  return Ok();
}

Expected<std::vector<sync_codec::StrategyBytes>> Buffer::Impl::BytesSentLocked() {
  EDGEFLEET_ASSIGN_OR_RETURN(auto q, db->Prepare("SELECT name, value FROM counters "
                                                 "WHERE name LIKE 'bytes\\_sent:%' ESCAPE '\\' ORDER BY name"));
  std::vector<sync_codec::StrategyBytes> out;
  while (true) {
    EDGEFLEET_ASSIGN_OR_RETURN(const bool row, q.Step());
    if (!row) break;
    out.push_back({q.Text(0).substr(std::string_view("bytes_sent:").size()), q.Int(1)});
  }
  return out;
}

Expected<BufferStats> Buffer::Impl::StatsLocked() {
  BufferStats s;
  EDGEFLEET_ASSIGN_OR_RETURN(s.pending_inferences, db->QueryInt("SELECT count(*) FROM inferences WHERE synced = 0 AND provisional = 0"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.pending_hard_samples,
                             db->QueryInt("SELECT count(*) FROM hard_samples WHERE synced = 0 AND provisional = 0"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.pending_health, db->QueryInt("SELECT count(*) FROM health WHERE synced = 0"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.pending_critical,
                             db->QueryInt("SELECT count(*) FROM inferences WHERE synced = 0 AND critical = 1 AND provisional = 0"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.provisional, db->QueryInt("SELECT count(*) FROM inferences WHERE provisional = 1"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.released_provisional, Counter("released_provisional"));
  EDGEFLEET_ASSIGN_OR_RETURN(
      s.synced_rows_kept,
      db->QueryInt("SELECT (SELECT count(*) FROM inferences WHERE synced = 1) + "
                   "(SELECT count(*) FROM hard_samples WHERE synced = 1) + "
                   "(SELECT count(*) FROM health WHERE synced = 1)"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.pruned_synced, Counter("pruned_synced"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.dropped.inferences, Counter("dropped_inferences"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.dropped.hard_samples, Counter("dropped_hard_samples"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.dropped.health, Counter("dropped_health"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.unclean_restarts, Counter("unclean_restarts"));
  EDGEFLEET_ASSIGN_OR_RETURN(s.used_bytes, UsedBytes());
  return s;
}

Expected<void> Buffer::RecordError(std::int64_t model_version) {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  return impl_->AddPeriodCounter(model_version, "errors");
}

namespace {

std::string Rate(std::int64_t part, std::int64_t whole) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", whole > 0 ? static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return buf;
}

struct VersionStats {
  std::int64_t inferences = 0, escalations = 0, fallbacks = 0, anomalies = 0;
  std::int64_t errors = 0, unclean_restarts = 0;
  std::vector<std::int64_t> latencies;
};

std::int64_t Percentile(std::vector<std::int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  // Nearest rank: the smallest value with at least p of the values at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

}  // namespace

Expected<std::vector<sync::HealthRow>> Buffer::CloseHealthPeriod(std::int64_t now_ms) {
  std::lock_guard lock(impl_->mu);
  EDGEFLEET_RETURN_IF_ERROR(impl_->CheckOpen());
  auto& db = *impl_->db;
  EDGEFLEET_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(db));
  EDGEFLEET_ASSIGN_OR_RETURN(std::int64_t start, impl_->Meta("period_start_ms", now_ms));
  start = std::min(start, now_ms);
  std::map<std::int64_t, VersionStats> by_version;
  {
    EDGEFLEET_ASSIGN_OR_RETURN(auto q, db.Prepare("SELECT model_version, confidence, fallback, decision, latency_us "
                                                  "FROM inferences WHERE ts_ms >= ? AND ts_ms < ?"));
    q.Bind(1, start).Bind(2, now_ms);
    while (true) {
      EDGEFLEET_ASSIGN_OR_RETURN(const bool row, q.Step());
      if (!row) break;
      VersionStats& v = by_version[q.Int(0)];
      ++v.inferences;
      if (q.Double(1) < kHardSampleConfidence) ++v.escalations;
      if (q.Int(2) != 0) ++v.fallbacks;
      if (q.Text(3) == "anomaly") ++v.anomalies;
      v.latencies.push_back(q.Int(4));
    }
  }
  {
    EDGEFLEET_ASSIGN_OR_RETURN(auto q, db.Prepare("SELECT model_version, errors, unclean_restarts FROM period_counters"));
    while (true) {
      EDGEFLEET_ASSIGN_OR_RETURN(const bool row, q.Step());
      if (!row) break;
      VersionStats& v = by_version[q.Int(0)];
      v.errors = q.Int(1);
      v.unclean_restarts = q.Int(2);
    }
  }
  std::vector<sync::HealthRow> rows;
  for (auto& [version, v] : by_version) {
    sync::HealthRow h;
    h.model_version = version;
    h.period_start_ms = start;
    h.period_end_ms = now_ms;
    h.stats_json = "{\"inferences\":" + std::to_string(v.inferences) + ",\"errors\":" + std::to_string(v.errors) +
                   ",\"unclean_restarts\":" + std::to_string(v.unclean_restarts) +
                   ",\"latency_p50_us\":" + std::to_string(Percentile(v.latencies, 0.5)) +
                   ",\"latency_p95_us\":" + std::to_string(Percentile(v.latencies, 0.95)) +
                   ",\"escalation_rate\":" + Rate(v.escalations, v.inferences) +
                   ",\"fallback_rate\":" + Rate(v.fallbacks, v.inferences) +
                   ",\"anomaly_rate\":" + Rate(v.anomalies, v.inferences) + "}";
    EDGEFLEET_ASSIGN_OR_RETURN(h.seq, impl_->InsertHealth(h));
    rows.push_back(std::move(h));
  }
  EDGEFLEET_RETURN_IF_ERROR(db.Exec("DELETE FROM period_counters"));
  EDGEFLEET_RETURN_IF_ERROR(impl_->SetMeta("period_start_ms", now_ms));
  EDGEFLEET_RETURN_IF_ERROR(tx.Commit());
  EDGEFLEET_RETURN_IF_ERROR(impl_->EnforceBudget());
  return rows;
}

}  // namespace edgefleet::agent
