#include "agent/sync_strategy.h"

namespace edgefleet::agent {

using common::Error;
using common::ErrorCode;

const char* ToString(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::kPeriodic: return "periodic";
    case StrategyKind::kEvent: return "event";
    case StrategyKind::kOpportunistic: return "opportunistic";
    case StrategyKind::kBatched: return "batched";
    case StrategyKind::kAdaptive: return "adaptive";
  }
  return "adaptive";
}

common::Expected<StrategyKind> ParseStrategy(std::string_view text) {
  for (const StrategyKind k : {StrategyKind::kPeriodic, StrategyKind::kEvent, StrategyKind::kOpportunistic,
                               StrategyKind::kBatched, StrategyKind::kAdaptive}) {
    if (text == ToString(k)) return k;
  }
  if (text == "event_driven" || text == "event-driven") return StrategyKind::kEvent;
  return Error(ErrorCode::kInvalidArgument,
               "unknown sync strategy '" + std::string(text) +
                   "' (periodic, event, opportunistic, batched or adaptive)");
}

namespace {

constexpr std::int64_t kDayMs = 24 * 60 * 60'000;

std::int64_t FloorDiv(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The most recent moment at or before now that was batched_hour:00 local time.
std::int64_t LastNightly(const StrategyConfig& c, std::int64_t now_ms) {
  const std::int64_t offset_ms = static_cast<std::int64_t>(c.utc_offset_minutes) * 60'000;
  const std::int64_t hour_ms = static_cast<std::int64_t>(c.batched_hour) * 3'600'000;
  const std::int64_t local = now_ms + offset_ms;
  return FloorDiv(local - hour_ms, kDayMs) * kDayMs + hour_ms - offset_ms;
}

bool Elapsed(const SyncInputs& in, std::int64_t interval_ms) {
  return !in.last_sync_ms || in.now_ms - *in.last_sync_ms >= interval_ms;
}

}  // namespace

SyncDecision ShouldSync(StrategyKind kind, const StrategyConfig& c, const SyncInputs& in) {
  if (in.power.network == NetworkType::kNone) return {false, "offline"};
  if (in.retry_not_before_ms && in.now_ms < *in.retry_not_before_ms) return {false, "backing off"};
  if (in.pending <= 0) return {false, "nothing pending"};
  switch (kind) {
    case StrategyKind::kPeriodic:
      return Elapsed(in, c.periodic_interval_ms) ? SyncDecision{true, "interval"} : SyncDecision{false, "waiting"};
    case StrategyKind::kEvent:
      if (in.critical_pending > 0 && Elapsed(in, c.critical_min_interval_ms)) return {true, "critical"};
      if (in.pending >= c.event_max_pending) return {true, "full batch"};
      return {false, "no critical event"};
    case StrategyKind::kOpportunistic: {
      if (!in.power.unmetered()) return {false, "metered link"};
      const bool power_ok = !in.power.battery_percent || in.power.charging ||
                            *in.power.battery_percent > c.opportunistic_min_battery;
      if (!power_ok) return {false, "battery low"};
      return Elapsed(in, c.opportunistic_min_interval_ms) ? SyncDecision{true, "unmetered link"}
                                                         : SyncDecision{false, "waiting"};
    }
    case StrategyKind::kBatched: {
      const std::int64_t nightly = LastNightly(c, in.now_ms);
      return !in.last_sync_ms || *in.last_sync_ms < nightly ? SyncDecision{true, "nightly"}
                                                             : SyncDecision{false, "waiting for the night"};
    }
    case StrategyKind::kAdaptive:
      if (in.critical_pending > 0 && Elapsed(in, c.critical_min_interval_ms)) return {true, "critical"};
      if (in.power.unmetered() && in.pending > c.adaptive_wifi_pending) return {true, "unmetered link, pending"};
      if (Elapsed(in, c.adaptive_max_interval_ms)) return {true, "interval"};
      return {false, "waiting"};
  }
  return {false, "unknown strategy"};
}

}  // namespace edgefleet::agent
