// TelemetrySink: the agent's MQTT telemetry (SPEC section 5) as events.
//
// What it is for: Agent reports what it decides here; the MQTT adapter
// (mqtt_telemetry.h) turns each event into a JSON message on
// edge-ai/device/{id}/{inference,escalation,status}. The broker is not the
// record of truth (the buffer is): a sink may drop messages when offline.
//
// Ownership: the caller owns the sink. Threads: the agent's loop thread.
#pragma once

#include <cstdint>
#include <string>

namespace edgefleet::agent {

// One decision, final: a clear-zone window at once, an escalated one when
// the cloud answered or the fallback was taken. Sampling and aggregation are
// the sink's business (the MQTT adapter applies the configured policy).
struct InferenceEvent {
  std::int64_t ts_ms = 0;
  std::int64_t model_version = 0;
  double mse = 0;
  std::string decision;  // "normal" or "anomaly"
  std::string zone;      // "normal", "ambiguous" or "anomaly"
  double confidence = 0;
  std::int64_t latency_us = 0;
  bool fallback = false;
};

struct EscalationEvent {
  std::int64_t ts_ms = 0;
  std::int64_t model_version = 0;
  double edge_mse = 0;
  std::string outcome;         // "cloud", or the fallback's reason: "timeout", "unreachable", "backoff", "error"
  std::string decision;        // final decision
  double confidence = 0;
  double cloud_mse = 0;        // when outcome == "cloud"
  std::int64_t latency_ms = 0; // the request's round trip, when outcome == "cloud"
  std::string error;           // when a fallback
};

struct BackoffState {
  bool backing_off = false;
  std::uint32_t failures = 0;
  std::int64_t delay_ms = 0;
  std::int64_t next_attempt_in_ms = 0;
};

struct StatusReport {
  std::int64_t ts_ms = 0;
  std::string state = "online";  // "online" or "offline"
  std::int64_t model_version = 0;
  std::int64_t uptime_s = 0;
  std::int64_t buffer_depth = 0;
  std::int64_t dropped_rows = 0;
  BackoffState backoff;
  std::uint64_t windows = 0;
  std::uint64_t escalations = 0;
  std::uint64_t fallbacks = 0;
  std::uint64_t sync_bytes = 0;
  std::string strategy;
  std::string health_json = "{}";  // the current health period so far
};

class TelemetrySink {
 public:
  virtual ~TelemetrySink() = default;
  virtual void Inference(const InferenceEvent& event) = 0;
  virtual void Escalation(const EscalationEvent& event) = 0;
  virtual void Status(const StatusReport& report) = 0;
  // Called from Agent::Poll: a sink that aggregates may publish a period
  // that ended (wall time).
  virtual void Tick(std::int64_t /*now_wall_ms*/) {}
};

}  // namespace edgefleet::agent
