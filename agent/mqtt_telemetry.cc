#include "agent/mqtt_telemetry.h"

namespace edgefleet::agent {

MqttTelemetrySink::MqttTelemetrySink(mqtt::Telemetry& link, std::string device_id,
                                     telemetry::InferencePolicy policy, std::string firmware_version)
    : link_(link), device_id_(std::move(device_id)), reporter_(policy), firmware_version_(std::move(firmware_version)) {}

void MqttTelemetrySink::Publish(telemetry::Channel channel, const std::string& payload, mqtt::Qos qos, bool retain) {
  const auto outcome = link_.Publish(telemetry::Topic(device_id_, channel), payload, qos, retain);
  if (!outcome.ok() || outcome.value() == mqtt::PublishOutcome::kDropped) ++publish_errors_;
}

void MqttTelemetrySink::PublishReport(const std::optional<telemetry::InferenceReport>& report) {
  if (report) Publish(telemetry::Channel::kInference, telemetry::ToJson(*report), mqtt::Qos::kAtMostOnce, false);
}

void MqttTelemetrySink::Inference(const InferenceEvent& e) {
  telemetry::InferenceMessage m;
  m.ts_ms = e.ts_ms;
  m.model_version = e.model_version;
  m.mse = e.mse;
  m.decision = e.decision;
  m.confidence = e.confidence;
  m.latency_us = e.latency_us;
  m.zone = e.zone;
  m.fallback = e.fallback;
  PublishReport(reporter_.OnDecision(m));
}

void MqttTelemetrySink::Escalation(const EscalationEvent& e) {
  telemetry::EscalationMessage m;
  m.ts_ms = e.ts_ms;
  m.model_version = e.model_version;
  m.edge_mse = e.edge_mse;
  if (e.outcome == "cloud") {
    telemetry::CloudResult r;
    r.classification = e.decision;
    r.label = e.decision == "anomaly" ? 1 : 0;
    r.confidence = e.confidence;
    r.mse = e.cloud_mse;
    r.latency_ms = e.latency_ms;
    m.outcome = r;
  } else {
    m.outcome = telemetry::Fallback{e.decision, e.outcome};
  }
  Publish(telemetry::Channel::kEscalation, telemetry::ToJson(m), mqtt::Qos::kAtLeastOnce, false);
}

telemetry::StatusMessage MqttTelemetrySink::ToMessage(const StatusReport& r, const std::string& firmware_version) {
  if (r.state != "online") return telemetry::OfflineStatus(r.ts_ms, r.model_version);
  telemetry::StatusMessage m;
  m.ts_ms = r.ts_ms;
  m.model_version = r.model_version;
  m.online = true;
  m.uptime_s = r.uptime_s;
  m.buffer_depth = r.buffer_depth;
  m.backoff = telemetry::BackoffInfo{r.backoff.failures, r.backoff.delay_ms};
  m.dropped_rows = r.dropped_rows;
  m.health_json = r.health_json;
  m.firmware_version = firmware_version;
  return m;
}

void MqttTelemetrySink::Status(const StatusReport& report) {
  Publish(telemetry::Channel::kStatus, telemetry::ToJson(ToMessage(report, firmware_version_)),
          mqtt::Qos::kAtLeastOnce, true);
}

void MqttTelemetrySink::Tick(std::int64_t now_wall_ms) { PublishReport(reporter_.Flush(now_wall_ms)); }

void MqttTelemetrySink::Flush(std::int64_t now_wall_ms) { PublishReport(reporter_.Flush(now_wall_ms, true)); }

}  // namespace edgefleet::agent
