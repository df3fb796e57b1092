// MqttTelemetrySink: what the agent's events become on the MQTT topics
// (parsed back with common/telemetry.h's parsers, as the server's bridge does).
#include <gtest/gtest.h>

#include "agent/mqtt_telemetry.h"

namespace edgefleet::agent {
namespace {

struct Published {
  std::string topic, payload;
  mqtt::Qos qos;
  bool retain;
};

class RecordingLink : public mqtt::Telemetry {
 public:
  common::Expected<mqtt::PublishOutcome> Publish(std::string_view topic, std::string_view payload, mqtt::Qos qos,
                                                 bool retain) override {
    messages.push_back({std::string(topic), std::string(payload), qos, retain});
    return mqtt::PublishOutcome::kSent;
  }
  std::vector<Published> messages;
};

TEST(MqttTelemetrySink, StatusIsRetainedQos1AndCarriesBackoffAndBuffer) {
  RecordingLink link;
  MqttTelemetrySink sink(link, "dev-1", telemetry::InferencePolicy{}, "fw-2");
  StatusReport r;
  r.ts_ms = 1000;
  r.model_version = 4;
  r.uptime_s = 60;
  r.buffer_depth = 17;
  r.dropped_rows = 2;
  r.backoff = BackoffState{true, 3, 240'000, 1000};
  r.health_json = R"({"windows":5})";
  sink.Status(r);
  ASSERT_EQ(link.messages.size(), 1u);
  EXPECT_EQ(link.messages[0].topic, "edge-ai/device/dev-1/status");
  EXPECT_TRUE(link.messages[0].retain);
  EXPECT_EQ(link.messages[0].qos, mqtt::Qos::kAtLeastOnce);
  auto parsed = telemetry::ParseStatus(link.messages[0].payload);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_TRUE(parsed.value().online);
  EXPECT_EQ(parsed.value().buffer_depth, 17);
  EXPECT_EQ(parsed.value().backoff->failures, 3);
  EXPECT_EQ(parsed.value().backoff->delay_ms, 240'000);
  EXPECT_EQ(parsed.value().firmware_version, "fw-2");
  r.state = "offline";
  sink.Status(r);
  parsed = telemetry::ParseStatus(link.messages[1].payload);
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed.value().online);
}

TEST(MqttTelemetrySink, EscalationsCarryTheCloudResultOrTheFallback) {
  RecordingLink link;
  MqttTelemetrySink sink(link, "dev-1", telemetry::InferencePolicy{});
  sink.Escalation(EscalationEvent{1, 2, 1.5, "cloud", "anomaly", 0.9, 2.5, 40, ""});
  sink.Escalation(EscalationEvent{2, 2, 1.4, "timeout", "normal", 0.6, 0, 0, "deadline"});
  ASSERT_EQ(link.messages.size(), 2u);
  EXPECT_EQ(link.messages[0].topic, "edge-ai/device/dev-1/escalation");
  auto cloud = telemetry::ParseEscalation(link.messages[0].payload);
  ASSERT_TRUE(cloud.ok()) << cloud.error().ToString();
  const auto& result = std::get<telemetry::CloudResult>(cloud.value().outcome);
  EXPECT_EQ(result.classification, "anomaly");
  EXPECT_EQ(result.latency_ms, 40);
  auto fallback = telemetry::ParseEscalation(link.messages[1].payload);
  ASSERT_TRUE(fallback.ok()) << fallback.error().ToString();
  EXPECT_EQ(std::get<telemetry::Fallback>(fallback.value().outcome).reason, "timeout");
  EXPECT_EQ(std::get<telemetry::Fallback>(fallback.value().outcome).decision, "normal");
}

TEST(MqttTelemetrySink, InferencesAreSampledByPolicyWithExactCounts) {
  RecordingLink link;
  telemetry::InferencePolicy policy;
  policy.mode = telemetry::InferencePolicy::Mode::kSample;
  policy.sample_every = 10;
  MqttTelemetrySink sink(link, "dev-1", policy);
  for (int i = 0; i < 95; ++i) {
    sink.Inference(InferenceEvent{i, 1, 0.5, i % 19 == 0 ? "anomaly" : "normal",
                                  i % 19 == 0 ? "anomaly" : "normal", 0.9, 10, false});
  }
  sink.Flush(1000);
  std::int64_t count = 0;
  for (const auto& m : link.messages) {
    EXPECT_EQ(m.topic, "edge-ai/device/dev-1/inference");
    auto parsed = telemetry::ParseInference(m.payload);
    ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
    count += std::get<telemetry::InferenceMessage>(parsed.value()).count;
  }
  EXPECT_EQ(count, 95);
  EXPECT_LT(link.messages.size(), 20u);
}

}  // namespace
}  // namespace edgefleet::agent
