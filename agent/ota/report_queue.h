// The OTA status reports, kept until delivered (SPEC sections 4, 5 and 6).
//
// What it is for: every state change of an update is reported to the server
// (POST /api/updates/status) and to the MQTT `ota` topic. A device is often
// offline when it changes state (that is when rollbacks happen), so reports
// are queued in a file (ota-reports.json, replaced atomically), each with a
// sequence number, and delivered strictly in order per sink once it is
// reachable; a report leaves the queue when both sinks took it. The server's
// view thus ends up equal to the device's: the last report it receives is
// the device's last state. A crash between a delivery and the queue's
// rewrite re-sends that report (same seq); the status endpoint is idempotent.
//
// Bounds: at most kMaxQueuedReports; beyond, the oldest is dropped and
// counted (dropped()), never the newest, which carries the current state.
//
// Threads: not thread-safe; the OTA engine's worker owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "common/error.h"

namespace edgefleet::ota {

inline constexpr std::size_t kMaxQueuedReports = 256;

struct Report {
  std::uint64_t seq = 0;
  std::string status;               // SPEC section 4: pending, downloading, ...
  std::string state;                // the engine's own state name (state.h)
  std::int64_t version = 0;         // the model version running when it was made
  std::int64_t target_version = 0;  // the version the attempt installs
  std::string error;                // empty: none
  std::int64_t time_ms = 0;
  bool http_done = false;
  bool mqtt_done = false;
};

// The JSON bodies: {"device_id","status","version","error"} as SPEC section 4
// names them (error null when empty), plus "seq", "target_version", "state"
// and "timestamp" (seconds, for MQTT; SPEC section 5).
std::string ReportToJson(const Report& report, const std::string& device_id);

// The MQTT `ota` payload of docs/mqtt.md: {"ts" (ms), "model_version",
// "state" (the status above), "target_version", "error" ("" when none)},
// plus "seq" and "ota_state" (the engine's own state name).
std::string ReportToMqttJson(const Report& report);

// A sink takes one report and says whether it was accepted.
using ReportSink = std::function<bool(const Report&)>;

class ReportQueue {
 public:
  // The queue as JSON, and back (kCorrupt if it does not parse).
  std::string Serialize() const;
  common::Expected<void> Parse(std::string_view json);

  // Appends a report with the next sequence number (the caller persists).
  void Push(Report report);

  // Delivers undelivered reports in order to each sink (a null sink counts as
  // accepting), stopping at a sink's first refusal. True if anything changed
  // (the caller persists).
  bool Deliver(const ReportSink& http, const ReportSink& mqtt);

  const std::deque<Report>& pending() const { return reports_; }
  std::uint64_t dropped() const { return dropped_; }

 private:
  std::deque<Report> reports_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t dropped_ = 0;
};

}  // namespace edgefleet::ota
