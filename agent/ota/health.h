// The health check after a new model is activated (SPEC section 6): the
// agent feeds one observation per inference (RecordInference on the engine),
// and at the end of the configured period the new model is judged against
// the previous model's figures, measured the same way before the update.
//
// Criteria (all configurable, HealthCriteria below):
//   - no crash: an unclean restart during activation or the health check
//     rolls back (the engine sees it at Open; not judged here);
//   - error rate (inferences whose core call failed) <= max_error_rate
//     (1%); judged early as soon as at least min_errors_for_early (5) errors
//     break it, so a broken model does not run the whole period;
//   - mean latency <= max_latency_ratio (1.2) x the previous model's mean,
//     when the previous mean is known (>= min_inferences observations);
//   - escalation rate (ambiguous-zone windows) <= max(max_escalation_rate
//     (0.5), escalation_growth (2) x the previous model's rate);
//   - at least min_inferences (20) observations; if the period ends with
//     fewer, the check waits up to grace_ms more, then judges on what it
//     has (nothing observed and no crash: healthy; the agent was idle).
//
// Threads: HealthMonitor is thread-safe: the inference thread records, the
// OTA worker takes snapshots.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "core/decision.h"

namespace edgefleet::ota {

struct HealthCriteria {
  std::int64_t period_ms = 10 * 60'000;
  std::int64_t grace_ms = 10 * 60'000;
  std::uint32_t min_inferences = 20;
  double max_error_rate = 0.01;
  std::uint32_t min_errors_for_early = 5;
  double max_latency_ratio = 1.2;
  double max_escalation_rate = 0.5;
  double escalation_growth = 2.0;
};

struct HealthStats {
  std::uint64_t inferences = 0;
  std::uint64_t errors = 0;
  std::uint64_t escalations = 0;
  double latency_sum_ms = 0;

  double error_rate() const { return inferences == 0 ? 0 : static_cast<double>(errors) / static_cast<double>(inferences); }
  double escalation_rate() const {
    const std::uint64_t ok = inferences - errors;
    return ok == 0 ? 0 : static_cast<double>(escalations) / static_cast<double>(ok);
  }
  double mean_latency_ms() const {
    const std::uint64_t ok = inferences - errors;
    return ok == 0 ? 0 : latency_sum_ms / static_cast<double>(ok);
  }
};

enum class Verdict : std::uint8_t { kPending = 0, kHealthy, kUnhealthy };

struct Judgement {
  Verdict verdict = Verdict::kPending;
  std::string reason;  // for kUnhealthy: which criterion, with the figures
};

// `elapsed_ms` since activation; baseline figures 0 when unknown.
Judgement Judge(const HealthStats& stats, double baseline_latency_ms, double baseline_escalation,
                std::int64_t elapsed_ms, const HealthCriteria& criteria);

class HealthMonitor {
 public:
  void Record(double latency_ms, core::Zone zone, bool error);
  HealthStats Snapshot() const;
  // Starts a new count (at activation, and for the baseline after an attempt).
  void Reset();

 private:
  mutable std::mutex mutex_;
  HealthStats stats_;
};

}  // namespace edgefleet::ota
