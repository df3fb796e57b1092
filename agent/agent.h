// Agent: the device runtime of one edge device (SPEC sections 3, 5, 7).
//
// What it is for: it turns each sensor window into a decision in real time,
// whatever the network does, and never loses what it collected. For every
// window it runs the int8 detector (core/), decides the clear zones locally,
// escalates ambiguous windows to the cloud without waiting for the answer,
// falls back to the closer threshold when the cloud fails or while it backs
// off (1, 2, 4 ... 30 minutes, core/backoff.h), records every decision in the
// store (AgentStore) and reports it as telemetry. Poll() runs its timers: the
// sync scheduler (strategy decides when; batch under a byte budget; marked
// synced exactly as acknowledged), escalation deadlines, status and health.
//
// The agent is a library object without threads or OS calls of its own:
// every effect goes through the interfaces in Deps, passed in at
// construction. The binary (agent/main.cc) drives one from an Asio loop;
// the simulator drives thousands the same way, and tests drive one with a
// SimClock and fakes.
//
// Ownership: the caller owns every object in Deps and keeps them alive longer
// than the Agent; the agent owns its model bytes and detector arena. A
// callback the agent gave to CloudClient/SyncSink may arrive after the agent
// is destroyed: it is then ignored. Threads: not thread-safe; call
// everything, and deliver every callback, on one thread (the loop's).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "agent/agent_store.h"
#include "agent/cloud_client.h"
#include "agent/platform/clock.h"
#include "agent/platform/power.h"
#include "agent/sync_strategy.h"
#include "agent/telemetry_sink.h"
#include "common/error.h"
#include "core/backoff.h"
#include "core/detector.h"

namespace edgefleet::agent {

struct AgentConfig {
  std::string device_id;
  std::int64_t escalation_timeout_ms = 5000;
  core::BackoffConfig backoff;                  // 1 min doubling to 30 min
  std::int64_t sync_check_interval_ms = 1000;   // how often the strategy is asked
  std::int64_t sync_retry_ms = 60'000;          // after a failed sync
  std::size_t sync_budget_bytes = 256 * 1024;   // per batch
  std::int64_t status_interval_ms = 60'000;
  std::int64_t health_interval_ms = 300'000;
  StrategyKind strategy = StrategyKind::kAdaptive;  // agent/sync_strategy.h decides when
  StrategyConfig strategy_config;
};

struct AgentDeps {
  Clock* clock = nullptr;
  AgentStore* store = nullptr;
  CloudClient* cloud = nullptr;
  SyncSink* sync = nullptr;
  TelemetrySink* telemetry = nullptr;  // may be null: no telemetry
  PowerProvider* power = nullptr;      // may be null: mains powered on ethernet
};

struct WindowResult {
  core::Zone zone = core::Zone::kNormal;
  std::string decision;  // provisional for an escalated window until the cloud answers
  double confidence = 0;
  double score = 0;
  bool escalated = false;       // a request went to the cloud
  bool fallback = false;        // decided by the closer threshold without a request (backoff)
  std::int64_t seq = 0;         // the inference row's seq in the store
  std::int64_t latency_us = 0;  // the detector's time on this window (the OTA health check's input)
};

struct AgentStats {
  std::uint64_t windows = 0;
  std::uint64_t normal = 0, ambiguous = 0, anomaly = 0;
  std::uint64_t escalations = 0;      // requests sent
  std::uint64_t cloud_answers = 0;
  std::uint64_t fallbacks = 0;        // ambiguous windows decided locally
  std::uint64_t store_errors = 0;
  std::uint64_t syncs_ok = 0, syncs_failed = 0;
  std::uint64_t rows_synced = 0;      // rows the server acknowledged
  std::uint64_t sync_bytes = 0;       // bytes uploaded
};

class Agent {
 public:
  // Parses and validates the model (a window must be 300 values), then
  // releases provisional rows a previous process left in the store.
  static common::Expected<std::unique_ptr<Agent>> Create(AgentConfig config, AgentDeps deps,
                                                         std::vector<std::uint8_t> model_bytes);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Decides one window (300 values, interleaved x,y,z, in g) and records it.
  // Never waits on the network. An error means the window was rejected (bad
  // values) or could not be stored; the agent goes on either way.
  common::Expected<WindowResult> OnWindow(std::span<const float> window);

  // Runs what is due at the clock's current time. Call it often (the binary
  // every 100 ms; tests after advancing the SimClock).
  void Poll();

  // Starts one sync now whatever the strategy says; false when one is in
  // flight or nothing is pending.
  bool SyncNow();
  bool sync_in_flight() const { return sync_in_flight_; }

  // Replaces the model (OTA activation); the next window uses it, and the
  // next status message carries its version.
  common::Expected<void> LoadModel(std::vector<std::uint8_t> model_bytes);

  // Stopping: decides every escalation still in flight by its fallback,
  // writes the health period and publishes the "offline" status.
  void Shutdown();

  const AgentStats& stats() const { return stats_; }
  const core::Backoff& backoff() const { return backoff_; }
  std::int64_t model_version() const { return model_.model_version; }
  std::size_t pending_escalations() const { return pending_.size(); }

 private:
  struct Pending {
    std::int64_t deadline_ms = 0;
    std::uint64_t epoch = 0;  // the backoff epoch the request was sent in
    core::Label fallback = core::Label::kNormal;
    double edge_confidence = 0;
    double edge_mse = 0;
    std::int64_t latency_us = 0;
    std::int64_t sent_ms = 0;
  };
  struct Health {
    std::int64_t start_ms = 0;  // wall
    std::uint64_t windows = 0, normal = 0, ambiguous = 0, anomaly = 0;
    std::uint64_t escalations = 0, cloud_answers = 0, fallbacks = 0, agreements = 0;
    std::int64_t latency_sum_us = 0, latency_max_us = 0;
    std::vector<std::int64_t> latencies_us;
    std::uint64_t errors = 0;  // rejected windows and store failures
    double score_sum = 0;
  };

  Agent(AgentConfig config, AgentDeps deps);
  void Escalate(std::int64_t seq, std::span<const float> window, const core::Inference& inference,
                std::int64_t latency_us);
  void OnClassified(std::int64_t seq, common::Expected<ClassifyAnswer> answer);
  void Resolve(std::int64_t seq, const Pending& pending, const char* outcome, const std::string& error);
  std::string HealthJson() const;
  void PublishStatus(const char* state);
  void WriteHealth();
  void MaybeSync(std::int64_t now_ms);
  void StartSync();
  BackoffState CurrentBackoff() const;

  AgentConfig config_;
  AgentDeps deps_;
  std::vector<std::uint64_t> model_bytes_;  // 8-byte aligned copy the view points into
  core::ModelView model_;
  std::vector<std::uint64_t> arena_;
  core::Detector detector_;
  core::Backoff backoff_;
  std::uint64_t backoff_epoch_ = 0;
  std::map<std::int64_t, Pending> pending_;  // by inference seq
  AgentStats stats_;
  Health health_;
  std::int64_t start_ms_ = 0;
  std::int64_t last_sync_wall_ms_ = 0;   // the last successful sync session (agent start at first)
  std::optional<std::int64_t> retry_not_before_wall_ms_;  // after a failed sync
  std::int64_t next_sync_check_ms_ = 0;
  std::int64_t next_status_ms_ = 0;
  std::int64_t next_health_ms_ = 0;
  bool sync_in_flight_ = false;
  bool drain_ = false;  // a sync succeeded with rows: send the next batch at once
  bool last_backing_off_ = false;
  std::shared_ptr<bool> alive_;    // callbacks check it: the agent may be gone
};

}  // namespace edgefleet::agent
