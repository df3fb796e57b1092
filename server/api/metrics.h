// ApiMetrics: the API's own counters and gauges, rendered in the Prometheus
// text format after the transport's (GET /metrics).
//
// What it is for: what the handlers and the background writer do (classify
// decisions, escalations queued, stored, dropped, auth failures, downloads,
// update checks) is visible to operators without reading logs. The transport
// counts requests, statuses and latencies itself.
//
// Threads: every field is an atomic updated with relaxed order (counters need
// no ordering with other memory); Render may run concurrently with updates.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace edgefleet::server::api {

struct ApiMetrics {
  std::atomic<std::uint64_t> classify_normal{0};
  std::atomic<std::uint64_t> classify_anomaly{0};
  std::atomic<std::uint64_t> classify_rejected{0};     // 4xx answers of /classify
  std::atomic<std::uint64_t> escalations_queued{0};
  std::atomic<std::uint64_t> escalations_stored{0};
  std::atomic<std::uint64_t> escalations_dropped{0};   // the store refused them (logged)
  std::atomic<std::uint64_t> escalations_overflow{0};  // queue full: 503
  std::atomic<std::uint64_t> escalation_batches{0};
  std::atomic<std::uint64_t> escalation_log_bytes{0};
  std::atomic<std::uint64_t> escalation_log_errors{0};
  std::atomic<std::uint64_t> escalation_log_rotations{0};
  std::atomic<std::int64_t> escalation_queue_depth{0};
  std::atomic<std::uint64_t> auth_failures{0};
  std::atomic<std::uint64_t> auth_cache_misses{0};
  std::atomic<std::uint64_t> model_downloads{0};
  std::atomic<std::uint64_t> models_published{0};
  std::atomic<std::uint64_t> update_checks_offered{0};
  std::atomic<std::uint64_t> update_checks_none{0};
  std::atomic<std::uint64_t> update_status_reports{0};
  std::atomic<std::uint64_t> sync_batches{0};
  std::atomic<std::uint64_t> sync_rows_stored{0};
  std::atomic<std::int64_t> latest_model_version{0};

  // Prometheus text format 0.0.4: HELP and TYPE lines, one sample each.
  std::string Render() const;
};

inline void Inc(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace edgefleet::server::api
