#include "common/telemetry_publisher.h"

#include <utility>

namespace edgefleet::telemetry {

Expected<DevicePublisher> DevicePublisher::Create(mqtt::Telemetry& sink, std::string device_id,
                                                  InferencePolicy policy) {
  if (!IsValidDeviceId(device_id)) {
    return common::Error(common::ErrorCode::kInvalidArgument, "invalid device id for telemetry topics");
  }
  return DevicePublisher(sink, std::move(device_id), policy);
}

DevicePublisher::DevicePublisher(mqtt::Telemetry& sink, std::string device_id, InferencePolicy policy)
    : sink_(&sink), device_id_(std::move(device_id)), reporter_(policy) {}

Expected<void> DevicePublisher::Send(Channel channel, const std::string& payload, mqtt::Qos qos, bool retain) {
  EDGEFLEET_RETURN_IF_ERROR(sink_->Publish(Topic(device_id_, channel), payload, qos, retain));
  return common::Ok();
}

Expected<void> DevicePublisher::SendReport(const std::optional<InferenceReport>& report) {
  if (!report) return common::Ok();
  return Send(Channel::kInference, ToJson(*report), mqtt::Qos::kAtMostOnce, false);
}

Expected<void> DevicePublisher::Decision(const InferenceMessage& decision) {
  return SendReport(reporter_.OnDecision(decision));
}

Expected<void> DevicePublisher::Tick(std::int64_t now_ms) { return SendReport(reporter_.Flush(now_ms)); }

Expected<void> DevicePublisher::FlushAll(std::int64_t now_ms) {
  return SendReport(reporter_.Flush(now_ms, /*force=*/true));
}

Expected<void> DevicePublisher::Escalation(const EscalationMessage& message) {
  return Send(Channel::kEscalation, ToJson(message), mqtt::Qos::kAtLeastOnce, false);
}

Expected<void> DevicePublisher::Status(const StatusMessage& message) {
  return Send(Channel::kStatus, ToJson(message), mqtt::Qos::kAtLeastOnce, true);
}

Expected<void> DevicePublisher::Ota(const OtaMessage& message) {
  return Send(Channel::kOta, ToJson(message), mqtt::Qos::kAtLeastOnce, false);
}

mqtt::Message DevicePublisher::OfflineMessage(std::int64_t ts_ms, std::int64_t model_version) const {
  return mqtt::Message{Topic(device_id_, Channel::kStatus), ToJson(OfflineStatus(ts_ms, model_version)),
                       mqtt::Qos::kAtLeastOnce, true};
}

std::function<std::optional<mqtt::Message>()> DevicePublisher::StatusWill(
    std::string device_id, std::function<std::int64_t()> now_ms, std::function<std::int64_t()> model_version) {
  return [id = std::move(device_id), now = std::move(now_ms),
          version = std::move(model_version)]() -> std::optional<mqtt::Message> {
    if (!IsValidDeviceId(id)) return std::nullopt;
    return mqtt::Message{Topic(id, Channel::kStatus),
                         ToJson(OfflineStatus(now ? now() : 0, version ? version() : 0)), mqtt::Qos::kAtLeastOnce,
                         true};
  };
}

}  // namespace edgefleet::telemetry
