// MqttTelemetrySink: the agent's TelemetrySink over an MQTT link (SPEC
// section 5), with the payloads and the inference policy of
// common/telemetry.h.
//
// What it is for: each decision goes through a telemetry::InferenceReporter
// (every / sample / aggregate, by configuration) to
// edge-ai/device/{id}/inference (QoS 0); each escalation to .../escalation
// (QoS 1); each status to .../status (retained, QoS 1). Connection, last will
// and the offline queue are the link's (common/mqtt.h). A publish the link
// refuses is counted, never fatal: the buffer, not the broker, is the record
// of truth.
//
// Ownership: borrows the link (mqtt::Telemetry), which must outlive it.
// Threads: the agent's loop thread (the link itself is thread-safe).
#pragma once

#include <cstdint>
#include <string>

#include "agent/telemetry_sink.h"
#include "common/mqtt.h"
#include "common/telemetry.h"

namespace edgefleet::agent {

class MqttTelemetrySink final : public TelemetrySink {
 public:
  MqttTelemetrySink(mqtt::Telemetry& link, std::string device_id, telemetry::InferencePolicy policy,
                    std::string firmware_version = "");

  void Inference(const InferenceEvent& event) override;
  void Escalation(const EscalationEvent& event) override;
  void Status(const StatusReport& report) override;
  void Tick(std::int64_t now_wall_ms) override;
  // Publishes what the inference reporter still holds (at shutdown).
  void Flush(std::int64_t now_wall_ms);

  std::uint64_t publish_errors() const { return publish_errors_; }

  // The JSON of a status report, as published (also for the final "offline"
  // message the binary hands to MqttLink::Close).
  static telemetry::StatusMessage ToMessage(const StatusReport& report, const std::string& firmware_version);

 private:
  void Publish(telemetry::Channel channel, const std::string& payload, mqtt::Qos qos, bool retain);
  void PublishReport(const std::optional<telemetry::InferenceReport>& report);

  mqtt::Telemetry& link_;
  std::string device_id_;
  telemetry::InferenceReporter reporter_;
  std::string firmware_version_;
  std::uint64_t publish_errors_ = 0;
};

}  // namespace edgefleet::agent
