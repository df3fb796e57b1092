// The server's MQTT bridge: fed directly (parsing, counting, the store), and
// end to end through a real Mosquitto with a SQLite store.
#include "server/bridge.h"

#include <atomic>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "common/crypto.h"
#include "common/telemetry.h"
#include "server/broker/broker.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_inbox.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::bridge {
namespace {

using mqtt::Message;
using mqtt::Qos;
using telemetry::Channel;
using testsupport::WaitUntil;

constexpr std::int64_t kT0 = 1'800'000'000'000;  // a fixed "now", ms since the epoch

TEST(RateWindow, CountsTheLastMinute) {
  RateWindow w(60'000, 60);
  w.Add(kT0, 30);
  w.Add(kT0 + 30'000, 30);
  EXPECT_DOUBLE_EQ(w.PerMinute(kT0 + 30'000), 60.0);
  EXPECT_EQ(w.Total(kT0 + 59'999), 60);
  EXPECT_EQ(w.Total(kT0 + 60'000), 30);  // the first bucket has left the window
  EXPECT_EQ(w.Total(kT0 + 200'000), 0);
  w.Add(kT0 + 200'000, 5);
  w.Add(kT0 + 100'000, 7);  // older than the window: ignored
  EXPECT_EQ(w.Total(kT0 + 200'000), 5);

  RateWindow ten_s(10'000, 10);  // a shorter window is scaled to a minute
  ten_s.Add(kT0, 10);
  EXPECT_DOUBLE_EQ(ten_s.PerMinute(kT0), 60.0);
}

class BridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenStore("sqlite:" + (dir_.path() / "edgefleet.db").string());
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = std::move(s).value();
    for (const char* id : {"fan-1", "fan-2"}) {
      auto hash = common::Sha256Hex(std::string("token-") + id);
      ASSERT_TRUE(hash.ok());
      ASSERT_TRUE(store_->AddDevice(id, *hash, kT0 - 1000).ok());
    }
  }

  BridgeOptions Options(int port = 1) {
    BridgeOptions o;
    o.mqtt.port = port;
    o.mqtt.client_id = "edgefleet-bridge-test";
    o.mqtt.reconnect_initial = std::chrono::milliseconds(20);
    o.mqtt.reconnect_max = std::chrono::milliseconds(200);
    o.now_ms = [this] { return now_.load(); };
    return o;
  }

  // A bridge whose link points at a port where nothing listens: messages
  // are fed with Handle().
  std::unique_ptr<Bridge> Offline() {
    auto b = Bridge::Start(*store_, Options(closed_.port()));
    EXPECT_TRUE(b.ok()) << b.error().ToString();
    return std::move(b).value();
  }

  static telemetry::StatusMessage Online(std::int64_t ts) {
    telemetry::StatusMessage s;
    s.ts_ms = ts;
    s.model_version = 4;
    s.uptime_s = 120;
    s.buffer_depth = 17;
    s.backoff = telemetry::BackoffInfo{2, 120'000};
    s.dropped_rows = 3;
    s.health_json = R"({"cpu":0.25,"mem_mb":12})";
    s.firmware_version = "1.4.0";
    return s;
  }

  static telemetry::InferenceMessage Decision(const std::string& decision, const std::string& zone,
                                              bool fallback = false) {
    telemetry::InferenceMessage m;
    m.ts_ms = kT0;
    m.model_version = 4;
    m.mse = 0.1;
    m.decision = decision;
    m.confidence = 0.9;
    m.latency_us = 100;
    m.zone = zone;
    m.fallback = fallback;
    return m;
  }

  TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::atomic<std::int64_t> now_{kT0};
  testsupport::ClosedPort closed_;
};

TEST_F(BridgeTest, StatusUpdatesTheStore) {
  auto bridge = Offline();
  bridge->Handle(Message{telemetry::Topic("fan-1", Channel::kStatus), telemetry::ToJson(Online(kT0 - 5)),
                         Qos::kAtLeastOnce, false});
  auto d = store_->GetDevice("fan-1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->reported_model_version, 4);
  EXPECT_EQ(d->buffer_depth, 17);
  EXPECT_EQ(d->backoff, (store::BackoffState{2, 120'000}));
  EXPECT_EQ(d->counters.dropped_rows, 3);
  EXPECT_EQ(d->health_json, R"({"cpu":0.25,"mem_mb":12})");
  EXPECT_EQ(d->firmware_version, "1.4.0");
  EXPECT_EQ(d->last_seen_ms, kT0);  // a live message: the bridge's clock
  auto a = bridge->Device("fan-1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->online, true);
  EXPECT_EQ(bridge->stats().status_updates, 1u);

  // The last will: offline, same version; health and counters are kept.
  now_ += 1000;
  bridge->Handle(Message{telemetry::Topic("fan-1", Channel::kStatus),
                         telemetry::ToJson(telemetry::OfflineStatus(kT0 - 100'000, 4)), Qos::kAtLeastOnce, false});
  d = store_->GetDevice("fan-1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->health_json, R"({"cpu":0.25,"mem_mb":12})");
  EXPECT_EQ(d->buffer_depth, 17);
  EXPECT_EQ(d->last_seen_ms, kT0 + 1000);
  EXPECT_EQ(bridge->Device("fan-1")->online, false);
}

TEST_F(BridgeTest, ARetainedStatusIsAsOldAsItSays) {
  auto bridge = Offline();
  bridge->Handle(Message{telemetry::Topic("fan-2", Channel::kStatus), telemetry::ToJson(Online(kT0 - 60'000)),
                         Qos::kAtLeastOnce, true});
  auto d = store_->GetDevice("fan-2");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->last_seen_ms, kT0 - 60'000);
  // One from the future (a device clock ahead) is capped at now.
  bridge->Handle(Message{telemetry::Topic("fan-2", Channel::kStatus), telemetry::ToJson(Online(kT0 + 999'999)),
                         Qos::kAtLeastOnce, true});
  EXPECT_EQ(store_->GetDevice("fan-2")->last_seen_ms, kT0);
}

TEST_F(BridgeTest, InferenceAndEscalationCountersAndRates) {
  auto bridge = Offline();
  const std::string inference = telemetry::Topic("fan-1", Channel::kInference);
  bridge->Handle(Message{inference, telemetry::ToJson(Decision("normal", "normal")), Qos::kAtMostOnce, false});
  bridge->Handle(Message{inference, telemetry::ToJson(Decision("anomaly", "anomaly")), Qos::kAtMostOnce, false});
  auto sampled = Decision("normal", "ambiguous", /*fallback=*/true);
  sampled.count = 10;
  bridge->Handle(Message{inference, telemetry::ToJson(sampled), Qos::kAtMostOnce, false});
  telemetry::InferenceSummary sum;
  sum.ts_ms = kT0;
  sum.model_version = 5;
  sum.period_start_ms = kT0 - 10'000;
  sum.count = 20;
  sum.normal = 18;
  sum.anomaly = 2;
  sum.ambiguous = 3;
  sum.fallbacks = 1;
  bridge->Handle(Message{inference, telemetry::ToJson(sum), Qos::kAtMostOnce, false});
  const std::string escalation = telemetry::Topic("fan-1", Channel::kEscalation);
  telemetry::EscalationMessage cloud{kT0, 5, 0.3, telemetry::CloudResult{"normal", 0, 0.8, 0.2, 90}};
  telemetry::EscalationMessage fallback{kT0, 5, 0.3, telemetry::Fallback{"anomaly", "timeout"}};
  bridge->Handle(Message{escalation, telemetry::ToJson(cloud), Qos::kAtMostOnce, false});
  bridge->Handle(Message{escalation, telemetry::ToJson(fallback), Qos::kAtMostOnce, false});
  telemetry::OtaMessage ota{kT0, 5, "downloading", 6, ""};
  bridge->Handle(Message{telemetry::Topic("fan-1", Channel::kOta), telemetry::ToJson(ota), Qos::kAtLeastOnce,
                         false});

  auto a = bridge->Device("fan-1");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->inferences, 32);
  EXPECT_EQ(a->anomalies, 3);
  EXPECT_EQ(a->ambiguous, 13);
  EXPECT_EQ(a->inference_fallbacks, 11);
  EXPECT_EQ(a->escalations, 2);
  EXPECT_EQ(a->escalation_fallbacks, 1);
  EXPECT_DOUBLE_EQ(a->inference_rate_per_min, 32.0);
  EXPECT_DOUBLE_EQ(a->escalation_rate_per_min, 2.0);
  EXPECT_EQ(a->model_version, 5);
  ASSERT_TRUE(a->last_ota.has_value());
  EXPECT_EQ(*a->last_ota, ota);
  EXPECT_FALSE(a->online.has_value());  // no status seen yet
  EXPECT_EQ(store_->GetDevice("fan-1")->last_seen_ms, kT0);

  // A minute later the rate has decayed; the totals stay.
  now_ += 61'000;
  a = bridge->Device("fan-1");
  EXPECT_DOUBLE_EQ(a->inference_rate_per_min, 0.0);
  EXPECT_EQ(a->inferences, 32);
}

TEST_F(BridgeTest, LastSeenIsWrittenAtMostOncePerInterval) {
  auto bridge = Offline();
  const std::string inference = telemetry::Topic("fan-1", Channel::kInference);
  const std::string payload = telemetry::ToJson(Decision("normal", "normal"));
  bridge->Handle(Message{inference, payload, Qos::kAtMostOnce, false});
  now_ += 5'000;
  bridge->Handle(Message{inference, payload, Qos::kAtMostOnce, false});
  EXPECT_EQ(store_->GetDevice("fan-1")->last_seen_ms, kT0);
  now_ += 5'000;
  bridge->Handle(Message{inference, payload, Qos::kAtMostOnce, false});
  EXPECT_EQ(store_->GetDevice("fan-1")->last_seen_ms, kT0 + 10'000);
  EXPECT_EQ(bridge->Device("fan-1")->inferences, 3);
}

TEST_F(BridgeTest, BadTopicsPayloadsAndUnknownDevicesAreCountedAndIgnored) {
  auto bridge = Offline();
  bridge->Handle(Message{"edge-ai/device/fan-1/other", "{}", Qos::kAtMostOnce, false});
  bridge->Handle(Message{"edge-ai/device/fan-1/status", "{not json", Qos::kAtMostOnce, false});
  bridge->Handle(Message{"edge-ai/device/fan-1/status", R"({"ts":1,"model_version":-3,"state":"online"})",
                         Qos::kAtMostOnce, false});
  bridge->Handle(Message{"edge-ai/device/fan-1/inference", R"({"kind":"decision"})", Qos::kAtMostOnce, false});
  EXPECT_EQ(bridge->stats().rejected, 4u);
  bridge->Handle(Message{telemetry::Topic("ghost", Channel::kStatus), telemetry::ToJson(Online(kT0)),
                         Qos::kAtLeastOnce, false});
  bridge->Handle(Message{telemetry::Topic("ghost", Channel::kInference),
                         telemetry::ToJson(Decision("normal", "normal")), Qos::kAtMostOnce, false});
  const auto st = bridge->stats();
  EXPECT_EQ(st.unknown_device, 2u);
  EXPECT_EQ(st.messages, 6u);
  EXPECT_EQ(st.status_updates, 0u);
  EXPECT_TRUE(bridge->Devices().empty());  // nothing kept for bad input
  auto d = store_->GetDevice("fan-1");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->reported_model_version.has_value());
  EXPECT_FALSE(d->last_seen_ms.has_value());
  EXPECT_FALSE(store_->GetDevice("ghost").ok());
}

// End to end: a device publishes through a real broker with its own
// credential; the bridge, as the bridge user, updates the SQLite store.
TEST_F(BridgeTest, EndToEndThroughARealBroker) {
  auto b = testsupport::MosquittoBroker::Start(dir_.path());
  ASSERT_TRUE(b.ok()) << b.error().ToString();
  auto& broker = *b.value();
  ASSERT_TRUE(broker::AddDeviceCredential(dir_.path(), "fan-1", "token-fan-1").ok());
  ASSERT_TRUE(broker.Reload().ok());

  auto device_link = mqtt::MqttLink::Create(testsupport::DeviceOptions(broker, "fan-1", "token-fan-1"));
  ASSERT_TRUE(device_link.ok());
  auto& device = *device_link.value();
  ASSERT_TRUE(device.Start().ok());
  ASSERT_TRUE(device.WaitConnected(std::chrono::seconds(10))) << broker.log();
  // Retained before the bridge exists: read at subscription.
  ASSERT_TRUE(device.Publish(telemetry::Topic("fan-1", Channel::kStatus), telemetry::ToJson(Online(kT0 - 30'000)),
                             Qos::kAtLeastOnce, true)
                  .ok());

  auto from_dir = BridgeOptionsFromDataDir(dir_.path(), "127.0.0.1", broker.port());
  ASSERT_TRUE(from_dir.ok()) << from_dir.error().ToString();
  BridgeOptions options = Options(broker.port());
  options.mqtt.username = from_dir->mqtt.username;
  options.mqtt.password = from_dir->mqtt.password;
  EXPECT_EQ(from_dir->mqtt.username, broker.bridge().username);
  auto started = Bridge::Start(*store_, options);
  ASSERT_TRUE(started.ok()) << started.error().ToString();
  auto& bridge = *started.value();
  ASSERT_TRUE(WaitUntil([&] { return bridge.stats().status_updates >= 1; })) << broker.log();
  auto d = store_->GetDevice("fan-1");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->reported_model_version, 4);
  EXPECT_EQ(d->buffer_depth, 17);
  EXPECT_EQ(d->last_seen_ms, kT0 - 30'000);

  ASSERT_TRUE(WaitUntil([&] { return bridge.link_stats().subscriptions_acked >= 1; }));
  const std::string inference = telemetry::Topic("fan-1", Channel::kInference);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(device.Publish(inference, telemetry::ToJson(Decision("normal", "normal")), Qos::kAtLeastOnce, false)
                    .ok());
  }
  ASSERT_TRUE(WaitUntil([&] {
    auto a = bridge.Device("fan-1");
    return a && a->inferences == 5;
  }));
  EXPECT_EQ(store_->GetDevice("fan-1")->last_seen_ms, kT0);

  // Shutting down cleanly publishes "offline", which the bridge records.
  ASSERT_TRUE(device.Close(Message{telemetry::Topic("fan-1", Channel::kStatus),
                                   telemetry::ToJson(telemetry::OfflineStatus(kT0, 4)), Qos::kAtLeastOnce, true})
                  .ok());
  ASSERT_TRUE(WaitUntil([&] {
    auto a = bridge.Device("fan-1");
    return a && a->online == false;
  }));
  EXPECT_TRUE(bridge.Close().ok());
}

}  // namespace
}  // namespace edgefleet::bridge
