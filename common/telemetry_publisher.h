// DevicePublisher: a device's telemetry, from structs to MQTT messages with
// the topics, QoS and retain flags of docs/mqtt.md, through the Telemetry
// interface (common/mqtt.h). The agent's runtime calls it; it owns no
// network and no clock, so the runtime's tests pass a fake Telemetry.
//
//   decisions   -> the inference topic through an InferenceReporter (every,
//                  sampled or aggregated by policy), QoS 0, not retained;
//                  Tick(now) emits a due summary when no decision came
//   escalations -> QoS 1, not retained
//   status      -> QoS 1, retained (the retained status is the device's
//                  current state; the last will replaces it when the device
//                  dies)
//   ota         -> QoS 1, not retained
// StatusWill()/OfflineMessage() give the retained "offline" status for
// MqttOptions::will and for MqttLink::Close.
//
// Errors: a publish the sink refuses (kInvalidArgument for a bad topic)
// is returned; an outcome of "queued" or "dropped" is not an error (the
// sink counts drops).
//
// Ownership and threads: borrows the sink (which must outlive it). Not
// thread-safe: one per device, used from the agent's loop (the will function
// it returns is safe to call from the MQTT network thread: it copies the
// device id and calls the caller's functions).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/mqtt.h"
#include "common/telemetry.h"

namespace edgefleet::telemetry {

class DevicePublisher {
 public:
  // `device_id` must be IsValidDeviceId (kInvalidArgument from Create otherwise).
  static Expected<DevicePublisher> Create(mqtt::Telemetry& sink, std::string device_id,
                                          InferencePolicy policy = {});

  // One decision; publishes what the reporter says is due.
  Expected<void> Decision(const InferenceMessage& decision);
  // Emits an aggregated summary whose period has ended by now_ms.
  Expected<void> Tick(std::int64_t now_ms);
  // At shutdown: whatever the reporter still holds (sampled decisions not
  // yet published, the open summary).
  Expected<void> FlushAll(std::int64_t now_ms);

  Expected<void> Escalation(const EscalationMessage& message);
  Expected<void> Status(const StatusMessage& message);
  Expected<void> Ota(const OtaMessage& message);

  // The retained "offline" status (docs/mqtt.md), for MqttLink::Close.
  mqtt::Message OfflineMessage(std::int64_t ts_ms, std::int64_t model_version) const;
  // For MqttOptions::will: builds OfflineMessage from the clock and the model
  // version at each connection attempt.
  static std::function<std::optional<mqtt::Message>()> StatusWill(
      std::string device_id, std::function<std::int64_t()> now_ms, std::function<std::int64_t()> model_version);

  const std::string& device_id() const { return device_id_; }

 private:
  DevicePublisher(mqtt::Telemetry& sink, std::string device_id, InferencePolicy policy);
  Expected<void> Send(Channel channel, const std::string& payload, mqtt::Qos qos, bool retain);
  Expected<void> SendReport(const std::optional<InferenceReport>& report);

  mqtt::Telemetry* sink_;
  std::string device_id_;
  InferenceReporter reporter_;
};

}  // namespace edgefleet::telemetry
