// Sync strategies (SPEC section 7; the seeds' SyncScheduler): when the device
// sends what its buffer holds, as a pure function of the moment, so that it
// is testable on simulated time and the simulator can run a device-day in
// milliseconds.
//
// The five strategies (StrategyKind), with StrategyConfig's defaults:
//   periodic       every periodic_interval (5 min) since the last sync, if
//                  anything is pending.
//   event          critical rows (anomalies) pending: now. Otherwise only when
//                  a full batch is waiting (event_max_pending, 10,000), so the
//                  buffer still drains.
//   opportunistic  only on an unmetered link (Wi-Fi, or ethernet) with the
//                  battery above opportunistic_min_battery (20%) or charging,
//                  or no battery; then when anything is pending, at most every
//                  opportunistic_min_interval (15 min: each session costs a
//                  request, and the freshness this strategy promises is hours).
//   batched        nightly: once per day after batched_hour (02:00, in UTC
//                  plus utc_offset_minutes), if anything is pending (a device
//                  that never synced syncs at once).
//   adaptive       the default: critical rows pending: now; on an unmetered
//                  link with more than adaptive_wifi_pending (100) pending;
//                  and at least every adaptive_max_interval (1 hour) when
//                  anything is pending.
// Critical rows go at once by default; critical_min_interval (0) can
// coalesce a burst of them (an imbalance that lasts an hour is an anomaly
// every half second) into one session per interval.
// Every strategy: no network, nothing to do (sync = false, "offline"); a
// backoff in force (retry_not_before_ms in the future) also waits. A
// decision is to start a sync session: the caller then sends batches until
// nothing is pending or a batch fails (then it backs off).
//
// Bandwidth: SyncLedger counts bytes up and down per strategy, in memory; the
// buffer (agent/buffer.h, AddBytesSent) keeps the persistent total.
//
// Threads: pure functions and plain values; SyncLedger is not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "agent/platform/power.h"
#include "common/error.h"

namespace edgefleet::agent {

enum class StrategyKind : std::uint8_t { kPeriodic, kEvent, kOpportunistic, kBatched, kAdaptive };
inline constexpr std::size_t kStrategyCount = 5;

// "periodic", "event", "opportunistic", "batched", "adaptive" (the names of
// --strategy and of bytes_sent in sync messages).
const char* ToString(StrategyKind kind);
// Also accepts "event_driven" and "event-driven" (the seeds' spelling).
common::Expected<StrategyKind> ParseStrategy(std::string_view text);

struct StrategyConfig {
  std::int64_t periodic_interval_ms = 5 * 60'000;
  std::int64_t event_max_pending = 10'000;
  std::int64_t critical_min_interval_ms = 0;  // event and adaptive: 0 = every critical row at once
  int opportunistic_min_battery = 20;  // percent; strictly above
  std::int64_t opportunistic_min_interval_ms = 15 * 60'000;
  int batched_hour = 2;                // 0..23, local hour of the nightly sync
  int utc_offset_minutes = 0;          // local time = UTC + this
  std::int64_t adaptive_wifi_pending = 100;  // strictly more than this
  std::int64_t adaptive_max_interval_ms = 60 * 60'000;
};

struct SyncInputs {
  std::int64_t now_ms = 0;                   // Unix epoch milliseconds
  std::int64_t pending = 0;                  // rows pending, all kinds
  std::int64_t critical_pending = 0;         // pending rows that are critical events
  std::optional<std::int64_t> last_sync_ms;  // last successful sync session; unset: never
  std::optional<std::int64_t> retry_not_before_ms;  // backoff after a failure
  PowerState power;
};

struct SyncDecision {
  bool sync = false;
  const char* reason = "";  // a short static text for logs: "critical", "interval", "offline", ...
};

SyncDecision ShouldSync(StrategyKind kind, const StrategyConfig& config, const SyncInputs& in);

// Bytes per strategy and direction.
class SyncLedger {
 public:
  void Add(StrategyKind kind, std::int64_t bytes_up, std::int64_t bytes_down) {
    auto& e = entries_[static_cast<std::size_t>(kind)];
    e.up += bytes_up;
    e.down += bytes_down;
    ++e.sessions;
  }
  struct Entry {
    std::int64_t up = 0;
    std::int64_t down = 0;
    std::int64_t sessions = 0;
  };
  const Entry& at(StrategyKind kind) const { return entries_[static_cast<std::size_t>(kind)]; }

 private:
  std::array<Entry, kStrategyCount> entries_{};
};

}  // namespace edgefleet::agent
