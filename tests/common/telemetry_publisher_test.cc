#include "common/telemetry_publisher.h"

#include <gtest/gtest.h>

#include "tests/support/fake_telemetry.h"

namespace edgefleet::telemetry {
namespace {

using testsupport::FakeTelemetry;

InferenceMessage Decision(std::int64_t ts, const std::string& label) {
  InferenceMessage m;
  m.ts_ms = ts;
  m.model_version = 2;
  m.mse = 0.1;
  m.decision = label;
  m.confidence = 0.9;
  m.latency_us = 50;
  m.zone = label;
  return m;
}

TEST(DevicePublisher, TopicsQosAndRetainPerChannel) {
  FakeTelemetry sink;
  auto pub = DevicePublisher::Create(sink, "fan-7");
  ASSERT_TRUE(pub.ok());
  ASSERT_TRUE(pub->Decision(Decision(1, "normal")).ok());
  ASSERT_TRUE(pub->Escalation(EscalationMessage{2, 2, 0.4, Fallback{"normal", "backoff"}}).ok());
  StatusMessage status;
  status.ts_ms = 3;
  status.model_version = 2;
  status.uptime_s = 1;
  ASSERT_TRUE(pub->Status(status).ok());
  ASSERT_TRUE(pub->Ota(OtaMessage{4, 2, "downloading", 3, ""}).ok());
  const auto m = sink.messages();
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].topic, "edge-ai/device/fan-7/inference");
  EXPECT_EQ(m[0].qos, mqtt::Qos::kAtMostOnce);
  EXPECT_FALSE(m[0].retain);
  EXPECT_TRUE(ParseInference(m[0].payload).ok());
  EXPECT_EQ(m[1].topic, "edge-ai/device/fan-7/escalation");
  EXPECT_EQ(m[1].qos, mqtt::Qos::kAtLeastOnce);
  EXPECT_TRUE(ParseEscalation(m[1].payload).ok());
  EXPECT_EQ(m[2].topic, "edge-ai/device/fan-7/status");
  EXPECT_EQ(m[2].qos, mqtt::Qos::kAtLeastOnce);
  EXPECT_TRUE(m[2].retain);
  EXPECT_EQ(ParseStatus(m[2].payload).value(), status);
  EXPECT_EQ(m[3].topic, "edge-ai/device/fan-7/ota");
  EXPECT_EQ(ParseOta(m[3].payload).value().target_version, 3);
}

TEST(DevicePublisher, AggregatesByPolicyAndFlushes) {
  FakeTelemetry sink;
  InferencePolicy policy;
  policy.mode = InferencePolicy::Mode::kAggregate;
  policy.period_ms = 1000;
  auto pub = DevicePublisher::Create(sink, "fan-7", policy);
  ASSERT_TRUE(pub.ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(pub->Decision(Decision(i * 100, "normal")).ok());
  EXPECT_TRUE(sink.messages().empty());
  ASSERT_TRUE(pub->Tick(999).ok());
  EXPECT_TRUE(sink.messages().empty());
  ASSERT_TRUE(pub->Tick(1000).ok());
  ASSERT_EQ(sink.messages().size(), 1u);
  auto summary = ParseInference(sink.messages()[0].payload);
  ASSERT_TRUE(summary.ok());
  EXPECT_EQ(std::get<InferenceSummary>(*summary).count, 5);
  ASSERT_TRUE(pub->Decision(Decision(1500, "anomaly")).ok());
  ASSERT_TRUE(pub->FlushAll(1600).ok());
  ASSERT_EQ(sink.messages().size(), 2u);
  EXPECT_EQ(std::get<InferenceSummary>(ParseInference(sink.messages()[1].payload).value()).anomaly, 1);
}

TEST(DevicePublisher, OfflineMessagesAndWill) {
  FakeTelemetry sink;
  auto pub = DevicePublisher::Create(sink, "fan-7");
  ASSERT_TRUE(pub.ok());
  const mqtt::Message offline = pub->OfflineMessage(42, 9);
  EXPECT_EQ(offline.topic, "edge-ai/device/fan-7/status");
  EXPECT_TRUE(offline.retain);
  EXPECT_EQ(offline.qos, mqtt::Qos::kAtLeastOnce);
  EXPECT_EQ(ParseStatus(offline.payload).value(), OfflineStatus(42, 9));

  std::int64_t now = 100, version = 3;
  auto will = DevicePublisher::StatusWill("fan-7", [&] { return now; }, [&] { return version; });
  auto first = will();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(ParseStatus(first->payload).value(), OfflineStatus(100, 3));
  now = 200;
  version = 4;  // a reconnection after an update carries the new version
  EXPECT_EQ(ParseStatus(will()->payload).value(), OfflineStatus(200, 4));
}

TEST(DevicePublisher, RejectsBadIdsAndReportsSinkErrors) {
  FakeTelemetry sink;
  EXPECT_FALSE(DevicePublisher::Create(sink, "a/b").ok());
  EXPECT_FALSE(DevicePublisher::Create(sink, "").ok());
  auto pub = DevicePublisher::Create(sink, "fan-7");
  ASSERT_TRUE(pub.ok());
  sink.set_outcome(mqtt::PublishOutcome::kDropped);  // the sink counts drops; not an error here
  EXPECT_TRUE(pub->Ota(OtaMessage{1, 1, "failed", 2, "sha256 mismatch"}).ok());
}

}  // namespace
}  // namespace edgefleet::telemetry
