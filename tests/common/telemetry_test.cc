#include "common/telemetry.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace edgefleet::telemetry {
namespace {

using Json = nlohmann::json;

InferenceMessage Decision(std::int64_t ts, const std::string& decision, const std::string& zone = "normal") {
  InferenceMessage m;
  m.ts_ms = ts;
  m.model_version = 3;
  m.mse = 0.25;
  m.decision = decision;
  m.confidence = zone == "ambiguous" ? 0.6 : 0.9;
  m.latency_us = 120;
  m.zone = zone;
  return m;
}

std::int64_t CountOf(const InferenceReport& r) {
  if (const auto* m = std::get_if<InferenceMessage>(&r)) return m->count;
  return std::get<InferenceSummary>(r).count;
}

TEST(Topics, NamesAndParsing) {
  EXPECT_EQ(Topic("fan-01", Channel::kInference), "edge-ai/device/fan-01/inference");
  EXPECT_EQ(Topic("fan-01", Channel::kEscalation), "edge-ai/device/fan-01/escalation");
  EXPECT_EQ(Topic("fan-01", Channel::kStatus), "edge-ai/device/fan-01/status");
  EXPECT_EQ(Topic("fan-01", Channel::kOta), "edge-ai/device/fan-01/ota");
  EXPECT_EQ(DeviceFilter("fan-01"), "edge-ai/device/fan-01/#");
  auto p = ParseTopic("edge-ai/device/fan-01/ota");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->device_id, "fan-01");
  EXPECT_EQ(p->channel, Channel::kOta);
  for (const char* bad : {"edge-ai/device/fan-01", "edge-ai/device/fan-01/other", "edge-ai/device//status",
                          "edge-ai/device/a/b/status", "x/device/a/status", "edge-ai/device/a/status/extra"}) {
    EXPECT_FALSE(ParseTopic(bad).ok()) << bad;
  }
}

TEST(Topics, DeviceIds) {
  EXPECT_TRUE(IsValidDeviceId("fan-01"));
  EXPECT_TRUE(IsValidDeviceId("A.b_c-9"));
  EXPECT_TRUE(IsValidDeviceId(std::string(128, 'a')));
  for (const std::string& bad : std::vector<std::string>{"", "-x", ".x", "a/b", "a+b", "a#b", "a b", "a:b", "é", std::string(129, 'a'),
                                std::string("a\0b", 3)}) {
    EXPECT_FALSE(IsValidDeviceId(bad)) << bad;
  }
}

TEST(Payloads, InferenceRoundTripsWithEveryField) {
  InferenceMessage m = Decision(1700000000123, "anomaly", "ambiguous");
  m.fallback = true;
  m.count = 5;
  const std::string json = ToJson(m);
  const Json j = Json::parse(json);
  for (const char* field : {"kind", "ts", "model_version", "mse", "decision", "confidence", "latency_us", "zone",
                            "fallback", "count"}) {
    EXPECT_TRUE(j.contains(field)) << field;
  }
  EXPECT_EQ(j["kind"], "decision");
  auto parsed = ParseInference(json);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(std::get<InferenceMessage>(*parsed), m);
}

TEST(Payloads, EscalationCloudAndFallback) {
  EscalationMessage cloud{10, 2, 0.5, CloudResult{"anomaly", 1, 0.93, 0.8, 140}};
  auto p = ParseEscalation(ToJson(cloud));
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(*p, cloud);
  EXPECT_EQ(Json::parse(ToJson(cloud))["outcome"], "cloud");
  EscalationMessage fb{11, 2, 0.4, Fallback{"normal", "timeout"}};
  p = ParseEscalation(ToJson(fb));
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(*p, fb);
  EXPECT_EQ(Json::parse(ToJson(fb))["fallback"]["reason"], "timeout");
}

TEST(Payloads, StatusOnlineAndOffline) {
  StatusMessage s;
  s.ts_ms = 99;
  s.model_version = 4;
  s.uptime_s = 3600;
  s.buffer_depth = 12;
  s.backoff = BackoffInfo{2, 120000};
  s.dropped_rows = 7;
  s.health_json = R"({"cpu":0.5})";
  s.firmware_version = "1.2.0";
  const Json j = Json::parse(ToJson(s));
  EXPECT_EQ(j["state"], "online");
  EXPECT_EQ(j["backoff"]["delay_ms"], 120000);
  auto p = ParseStatus(ToJson(s));
  ASSERT_TRUE(p.ok()) << p.error().ToString();
  EXPECT_EQ(*p, s);

  const StatusMessage offline = OfflineStatus(100, 4);
  const Json o = Json::parse(ToJson(offline));
  EXPECT_EQ(o["state"], "offline");
  EXPECT_FALSE(o.contains("uptime_s"));
  p = ParseStatus(ToJson(offline));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, offline);

  s.health_json = "not json";  // a bug upstream still gives a valid payload
  EXPECT_TRUE(ParseStatus(ToJson(s)).ok());
}

TEST(Payloads, Ota) {
  OtaMessage m{5, 3, "rolled_back", 4, "health check failed"};
  auto p = ParseOta(ToJson(m));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p, m);
  m.state = "exploded";
  EXPECT_FALSE(ParseOta(ToJson(m)).ok());
}

TEST(Payloads, ParsersRejectBadInput) {
  const std::vector<std::string> bad = {
      "", "[]", "null", "{", "\"x\"", R"({"kind":"decision"})",
      R"({"kind":"decision","ts":-1,"model_version":1,"mse":0,"decision":"normal","confidence":0.9,"latency_us":1,"zone":"normal","fallback":false})",
      R"({"kind":"decision","ts":1,"model_version":1,"mse":0,"decision":"maybe","confidence":0.9,"latency_us":1,"zone":"normal","fallback":false})",
      R"({"kind":"decision","ts":1,"model_version":1,"mse":0,"decision":"normal","confidence":1.5,"latency_us":1,"zone":"normal","fallback":false})",
      R"({"kind":"decision","ts":1,"model_version":1,"mse":0,"decision":"normal","confidence":0.9,"latency_us":1,"zone":"normal","fallback":"no"})",
      R"({"kind":"decision","ts":1,"model_version":1,"mse":0,"decision":"normal","confidence":0.9,"latency_us":1,"zone":"normal","fallback":false,"count":0})",
      R"({"kind":"summary","ts":1,"model_version":1,"period_start":0,"count":2,"normal":1,"anomaly":0,"ambiguous":0,"fallbacks":0,"mse_mean":0,"mse_max":0,"confidence_min":0,"latency_us_mean":0,"latency_us_max":0})",
      R"({"kind":"other"})",
      std::string(kMaxPayloadBytes + 1, ' '),
  };
  for (const auto& payload : bad) EXPECT_FALSE(ParseInference(payload).ok()) << payload;
  EXPECT_FALSE(ParseStatus(R"({"ts":1,"model_version":1,"state":"sleeping"})").ok());
  EXPECT_FALSE(ParseStatus(R"({"ts":1,"model_version":1,"state":"online","health":[]})").ok());
  EXPECT_FALSE(ParseStatus(R"({"ts":1,"model_version":1,"state":"online","backoff":{"failures":1}})").ok());
  EXPECT_FALSE(ParseStatus(R"({"ts":18446744073709551615,"model_version":1,"state":"online"})").ok());
  EXPECT_FALSE(ParseEscalation(R"({"ts":1,"model_version":1,"edge_mse":0.1,"outcome":"cloud"})").ok());
  EXPECT_FALSE(ParseStatus("{\"ts\":1,\"model_version\":1,\"state\":\"online\",\"x\":\"\xff\"}").ok());
  EXPECT_TRUE(ParseStatus(R"({"ts":1,"model_version":1,"state":"online","future_field":[1,2]})").ok());
}

TEST(InferenceReporter, EveryPublishesEachDecision) {
  InferenceReporter r(InferencePolicy{});
  for (int i = 0; i < 5; ++i) {
    auto out = r.OnDecision(Decision(i, "normal"));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(CountOf(*out), 1);
  }
  EXPECT_FALSE(r.Flush(100, true).has_value());
}

TEST(InferenceReporter, SamplePublishesEveryNthAndAnomaliesAndCountsAdd) {
  InferencePolicy p;
  p.mode = InferencePolicy::Mode::kSample;
  p.sample_every = 4;
  InferenceReporter r(p);
  std::int64_t published = 0;
  int messages = 0;
  for (int i = 0; i < 11; ++i) {
    auto out = r.OnDecision(Decision(i, i == 5 ? "anomaly" : "normal"));
    if (out) {
      ++messages;
      published += CountOf(*out);
      if (i == 5) {
        EXPECT_EQ(CountOf(*out), 1);
      }
    }
  }
  // 10 normal decisions: messages at the 4th and 8th; the anomaly at once.
  EXPECT_EQ(messages, 3);
  EXPECT_EQ(published, 9);
  EXPECT_FALSE(r.Flush(100).has_value());
  auto rest = r.Flush(100, /*force=*/true);
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(CountOf(*rest), 2);
  EXPECT_EQ(std::get<InferenceMessage>(*rest).ts_ms, 10);
  EXPECT_FALSE(r.Flush(100, true).has_value());
}

TEST(InferenceReporter, AggregateSummarisesEachPeriod) {
  InferencePolicy p;
  p.mode = InferencePolicy::Mode::kAggregate;
  p.period_ms = 1000;
  InferenceReporter r(p);
  EXPECT_FALSE(r.OnDecision(Decision(0, "normal")).has_value());
  auto amb = Decision(300, "anomaly", "ambiguous");
  amb.fallback = true;
  amb.mse = 0.75;
  amb.latency_us = 300;
  EXPECT_FALSE(r.OnDecision(amb).has_value());
  EXPECT_FALSE(r.OnDecision(Decision(999, "normal")).has_value());
  auto out = r.OnDecision(Decision(1000, "normal"));  // starts the next period
  ASSERT_TRUE(out.has_value());
  const auto& s = std::get<InferenceSummary>(*out);
  EXPECT_EQ(s.period_start_ms, 0);
  EXPECT_EQ(s.ts_ms, 1000);
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(s.normal, 2);
  EXPECT_EQ(s.anomaly, 1);
  EXPECT_EQ(s.ambiguous, 1);
  EXPECT_EQ(s.fallbacks, 1);
  EXPECT_DOUBLE_EQ(s.mse_max, 0.75);
  EXPECT_NEAR(s.mse_mean, (0.25 + 0.75 + 0.25) / 3, 1e-12);
  EXPECT_DOUBLE_EQ(s.confidence_min, 0.6);
  EXPECT_EQ(s.latency_us_max, 300);
  EXPECT_EQ(s.model_version, 3);
  auto parsed = ParseInference(ToJson(*out));
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(std::get<InferenceSummary>(*parsed).count, 3);

  // A quiet device still reports when its period ends.
  EXPECT_FALSE(r.Flush(1500).has_value());
  auto quiet = r.Flush(2000);
  ASSERT_TRUE(quiet.has_value());
  EXPECT_EQ(CountOf(*quiet), 1);
  EXPECT_FALSE(r.Flush(5000).has_value());  // nothing open, nothing to say
}

TEST(InferenceReporter, CountsAddUpOverALongRun) {
  for (auto mode : {InferencePolicy::Mode::kEvery, InferencePolicy::Mode::kSample, InferencePolicy::Mode::kAggregate}) {
    InferencePolicy p;
    p.mode = mode;
    p.sample_every = 7;
    p.period_ms = 250;
    InferenceReporter r(p);
    std::int64_t total = 0;
    for (int i = 0; i < 1000; ++i) {
      auto out = r.OnDecision(Decision(i * 13, i % 17 == 0 ? "anomaly" : "normal"));
      if (out) total += CountOf(*out);
    }
    if (auto rest = r.Flush(1000 * 13, true)) total += CountOf(*rest);
    EXPECT_EQ(total, 1000) << ToString(mode);
  }
}

TEST(InferenceReporter, ModeNames) {
  for (auto mode : {InferencePolicy::Mode::kEvery, InferencePolicy::Mode::kSample, InferencePolicy::Mode::kAggregate}) {
    auto parsed = ParseInferenceMode(ToString(mode));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, mode);
  }
  EXPECT_FALSE(ParseInferenceMode("sometimes").ok());
}

}  // namespace
}  // namespace edgefleet::telemetry
