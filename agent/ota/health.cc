#include "agent/ota/health.h"

#include <algorithm>
#include <cstdio>

namespace edgefleet::ota {
namespace {

std::string Format(const char* fmt, double a, double b) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), fmt, a, b);
  return buf;
}

}  // namespace

Judgement Judge(const HealthStats& s, double baseline_latency_ms, double baseline_escalation,
                std::int64_t elapsed_ms, const HealthCriteria& c) {
  if (s.errors >= c.min_errors_for_early && s.error_rate() > c.max_error_rate) {
    return {Verdict::kUnhealthy, Format("error rate %.3f above %.3f", s.error_rate(), c.max_error_rate)};
  }
  if (elapsed_ms < c.period_ms) return {};
  if (s.inferences < c.min_inferences && elapsed_ms < c.period_ms + c.grace_ms) return {};
  if (s.error_rate() > c.max_error_rate) {
    return {Verdict::kUnhealthy, Format("error rate %.3f above %.3f", s.error_rate(), c.max_error_rate)};
  }
  if (baseline_latency_ms > 0 && s.inferences > s.errors &&
      s.mean_latency_ms() > c.max_latency_ratio * baseline_latency_ms) {
    return {Verdict::kUnhealthy,
            Format("mean latency %.3f ms above 1.2x the previous model's %.3f ms", s.mean_latency_ms(), baseline_latency_ms)};
  }
  const double escalation_bound = std::max(c.max_escalation_rate, c.escalation_growth * baseline_escalation);
  if (s.escalation_rate() > escalation_bound) {
    return {Verdict::kUnhealthy, Format("escalation rate %.3f above %.3f", s.escalation_rate(), escalation_bound)};
  }
  return {Verdict::kHealthy, {}};
}

void HealthMonitor::Record(double latency_ms, core::Zone zone, bool error) {
  std::lock_guard lock(mutex_);
  ++stats_.inferences;
  if (error) {
    ++stats_.errors;
    return;
  }
  stats_.latency_sum_ms += latency_ms;
  if (zone == core::Zone::kAmbiguous) ++stats_.escalations;
}

HealthStats HealthMonitor::Snapshot() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void HealthMonitor::Reset() {
  std::lock_guard lock(mutex_);
  stats_ = {};
}

}  // namespace edgefleet::ota
