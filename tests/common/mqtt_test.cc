// MqttLink against a real Mosquitto configured as deployed (passwords, ACLs):
// round trip, ACL enforcement, refused credentials, the last will after
// kill -9, clean close, the offline queue and reconnection.
#include "common/mqtt.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/file.h"
#include "common/telemetry.h"
#include "server/broker/broker.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_inbox.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace edgefleet {
namespace {

using mqtt::MqttLink;
using mqtt::PublishOutcome;
using mqtt::Qos;
using testsupport::BridgeOptions;
using testsupport::DeviceOptions;
using testsupport::Inbox;
using testsupport::MosquittoBroker;
using testsupport::WaitUntil;
using telemetry::Channel;

std::unique_ptr<MqttLink> Connect(mqtt::MqttOptions options) {
  auto link = MqttLink::Create(std::move(options));
  EXPECT_TRUE(link.ok()) << link.error().ToString();
  if (!link.ok()) return nullptr;
  EXPECT_TRUE((*link)->Start().ok());
  return std::move(link).value();
}

class MqttTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = MosquittoBroker::Start(dir_.path());
    ASSERT_TRUE(b.ok()) << b.error().ToString();
    broker_ = std::move(b).value();
    ASSERT_TRUE(broker::AddDeviceCredential(dir_.path(), "dev-a", "token-a").ok());
    ASSERT_TRUE(broker::AddDeviceCredential(dir_.path(), "dev-b", "token-b").ok());
    ASSERT_TRUE(broker_->Reload().ok());
  }

  // A bridge link subscribed to every device's telemetry, connected.
  std::unique_ptr<MqttLink> Bridge(Inbox& inbox) {
    auto link = Connect(BridgeOptions(*broker_));
    EXPECT_TRUE(link->Subscribe(telemetry::kAllDevicesFilter, Qos::kAtLeastOnce, inbox.Handler()).ok());
    EXPECT_TRUE(link->WaitConnected(std::chrono::seconds(10))) << broker_->log();
    // Connected is not subscribed: wait for the SUBACK.
    EXPECT_TRUE(WaitUntil([&] { return link->stats().subscriptions_acked >= 1; }));
    return link;
  }

  TempDir dir_;
  std::unique_ptr<MosquittoBroker> broker_;
};

TEST(MqttPure, ReconnectDelayGrowsIsCappedAndJittered) {
  using std::chrono::milliseconds;
  const milliseconds initial(100), max(1000);
  EXPECT_EQ(mqtt::ReconnectDelay(1, initial, max, 1.0), milliseconds(100));
  EXPECT_EQ(mqtt::ReconnectDelay(1, initial, max, 0.0), milliseconds(50));
  EXPECT_EQ(mqtt::ReconnectDelay(2, initial, max, 1.0), milliseconds(200));
  EXPECT_EQ(mqtt::ReconnectDelay(4, initial, max, 1.0), milliseconds(800));
  EXPECT_EQ(mqtt::ReconnectDelay(5, initial, max, 1.0), milliseconds(1000));
  EXPECT_EQ(mqtt::ReconnectDelay(1000, initial, max, 1.0), milliseconds(1000));
  for (double u : {0.0, 0.25, 0.5, 0.99}) {
    const auto d = mqtt::ReconnectDelay(3, initial, max, u);
    EXPECT_GE(d, milliseconds(200));
    EXPECT_LE(d, milliseconds(400));
  }
  EXPECT_LT(mqtt::ReconnectDelay(3, initial, max, 0.1), mqtt::ReconnectDelay(3, initial, max, 0.9));
}

TEST(MqttPure, TopicChecksAndOptions) {
  EXPECT_TRUE(mqtt::IsValidPublishTopic("edge-ai/device/a/status"));
  EXPECT_FALSE(mqtt::IsValidPublishTopic(""));
  EXPECT_FALSE(mqtt::IsValidPublishTopic("edge-ai/+/x"));
  EXPECT_FALSE(mqtt::IsValidPublishTopic("edge-ai/#"));
  EXPECT_FALSE(mqtt::IsValidPublishTopic(std::string("a\0b", 3)));
  EXPECT_FALSE(mqtt::IsValidPublishTopic("\xff"));

  mqtt::MqttOptions o;
  EXPECT_FALSE(MqttLink::Create(o).ok());  // no client id
  o.client_id = "x";
  o.port = 0;
  EXPECT_FALSE(MqttLink::Create(o).ok());
  o.port = 1883;
  auto link = MqttLink::Create(o);
  ASSERT_TRUE(link.ok());
  EXPECT_EQ((*link)->Publish("a/+", "x", Qos::kAtMostOnce, false).error().code(),
            common::ErrorCode::kInvalidArgument);
  EXPECT_EQ((*link)->Subscribe("a/#/b", Qos::kAtMostOnce, [](const mqtt::Message&) {}).error().code(),
            common::ErrorCode::kInvalidArgument);
}

TEST_F(MqttTest, RoundTripWithRealCredentials) {
  Inbox inbox;
  auto bridge = Bridge(inbox);
  auto device = Connect(DeviceOptions(*broker_, "dev-a", "token-a"));
  ASSERT_TRUE(device->WaitConnected(std::chrono::seconds(10))) << broker_->log();
  const std::string topic = telemetry::Topic("dev-a", Channel::kInference);
  auto outcome = device->Publish(topic, R"({"hello":1})", Qos::kAtLeastOnce, false);
  ASSERT_TRUE(outcome.ok());
  EXPECT_EQ(*outcome, PublishOutcome::kSent);
  EXPECT_TRUE(inbox.WaitForPayload(topic, R"({"hello":1})")) << broker_->log();
  EXPECT_EQ(device->stats().sent, 1u);
  EXPECT_EQ(device->stats().connects, 1u);
  EXPECT_GE(bridge->stats().received, 1u);

  // The device may read its own subtree too.
  Inbox own;
  ASSERT_TRUE(device->Subscribe(telemetry::DeviceFilter("dev-a"), Qos::kAtLeastOnce, own.Handler()).ok());
  ASSERT_TRUE(WaitUntil([&] {
    (void)device->Publish(topic, "mine", Qos::kAtMostOnce, false);
    return own.CountPayload(topic, "mine") > 0;
  }));
}

// The forged message goes first on the same connection, the marker after it:
// the broker handles one client's messages in order, so once the marker has
// arrived, the forged message would have too, had the ACL let it through.
void ExpectForgeryBlocked(MqttLink& device, const Inbox& inbox, bool expect_blocked) {
  const std::string forged_topic = telemetry::Topic("dev-b", Channel::kStatus);
  const std::string marker_topic = telemetry::Topic("dev-a", Channel::kStatus);
  ASSERT_TRUE(device.Publish(forged_topic, "forged", Qos::kAtLeastOnce, false).ok());
  ASSERT_TRUE(device.Publish(marker_topic, "marker", Qos::kAtLeastOnce, false).ok());
  ASSERT_TRUE(inbox.WaitForPayload(marker_topic, "marker"));
  EXPECT_EQ(inbox.CountPayload(forged_topic, "forged"), expect_blocked ? 0u : 1u);
}

TEST_F(MqttTest, DeviceCannotPublishUnderAnotherDevicesTopic) {
  Inbox inbox;
  auto bridge = Bridge(inbox);
  auto device = Connect(DeviceOptions(*broker_, "dev-a", "token-a"));
  ASSERT_TRUE(device->WaitConnected(std::chrono::seconds(10)));
  ExpectForgeryBlocked(*device, inbox, /*expect_blocked=*/true);
}

// The same scenario under a weakened ACL (any device anywhere under
// edge-ai/): the forged message now arrives. This is what shows that the test
// above can fail.
TEST_F(MqttTest, WeakenedAclLetsTheForgeryThrough) {
  const auto files = broker::FilesFor(dir_.path());
  ASSERT_TRUE(common::WriteFileAtomically(files.acl_file, broker::AclText() + "pattern readwrite edge-ai/#\n",
                                          std::filesystem::perms::owner_all)
                  .ok());
  ASSERT_TRUE(broker_->Restart().ok());
  Inbox inbox;
  auto bridge = Bridge(inbox);
  auto device = Connect(DeviceOptions(*broker_, "dev-a", "token-a"));
  ASSERT_TRUE(device->WaitConnected(std::chrono::seconds(10)));
  ExpectForgeryBlocked(*device, inbox, /*expect_blocked=*/false);
}

TEST_F(MqttTest, DeviceCannotReadAnotherDevicesTopic) {
  Inbox spy;
  auto device_a = Connect(DeviceOptions(*broker_, "dev-a", "token-a"));
  ASSERT_TRUE(device_a->Subscribe(telemetry::DeviceFilter("dev-b"), Qos::kAtLeastOnce, spy.Handler()).ok());
  ASSERT_TRUE(device_a->Subscribe(telemetry::DeviceFilter("dev-a"), Qos::kAtLeastOnce, spy.Handler()).ok());
  ASSERT_TRUE(device_a->WaitConnected(std::chrono::seconds(10)));
  auto device_b = Connect(DeviceOptions(*broker_, "dev-b", "token-b"));
  ASSERT_TRUE(device_b->WaitConnected(std::chrono::seconds(10)));
  const std::string b_topic = telemetry::Topic("dev-b", Channel::kInference);
  const std::string a_topic = telemetry::Topic("dev-a", Channel::kInference);
  // Repeat until dev-a's own marker arrives (its subscription is then in place).
  ASSERT_TRUE(WaitUntil([&] {
    (void)device_b->Publish(b_topic, "secret", Qos::kAtLeastOnce, false);
    (void)device_a->Publish(a_topic, "marker", Qos::kAtLeastOnce, false);
    return spy.CountPayload(a_topic, "marker") > 0;
  }));
  // One more round after the subscription is certainly active.
  ASSERT_TRUE(device_b->Publish(b_topic, "secret", Qos::kAtLeastOnce, false).ok());
  const std::size_t markers = spy.CountPayload(a_topic, "marker");
  ASSERT_TRUE(device_a->Publish(a_topic, "marker", Qos::kAtLeastOnce, false).ok());
  ASSERT_TRUE(WaitUntil([&] { return spy.CountPayload(a_topic, "marker") > markers; }));
  EXPECT_EQ(spy.CountPayload(b_topic, "secret"), 0u);
}

TEST_F(MqttTest, WrongPasswordUnknownUserAndAnonymousAreRefused) {
  for (const auto& [user, password] : std::vector<std::pair<std::string, std::string>>{
           {"dev-a", "wrong"}, {"dev-a", "token-b"}, {"nobody", "x"}, {"", ""}}) {
    auto link = Connect(testsupport::ClientOptions(broker_->port(), "c-" + user, user, password));
    ASSERT_TRUE(WaitUntil([&] { return link->stats().connect_failures >= 2; })) << user;
    EXPECT_FALSE(link->connected()) << user;
    EXPECT_EQ(link->stats().connects, 0u) << user;
    EXPECT_EQ(link->stats().last_connack, 5) << user;  // not authorised
    // Its messages stay in the offline queue; none was sent.
    ASSERT_TRUE(link->Publish(telemetry::Topic("dev-a", Channel::kStatus), "x", Qos::kAtMostOnce, false).ok());
    EXPECT_EQ(link->stats().sent, 0u);
  }
}

TEST_F(MqttTest, LastWillMarksTheDeviceOfflineAfterKill9) {
  Inbox inbox;
  auto bridge = Bridge(inbox);
  const std::string topic = telemetry::Topic("dev-a", Channel::kStatus);
  const std::string port = std::to_string(broker_->port());
  const char* argv[] = {MQTT_WILL_CLIENT, port.c_str(), "dev-a", "token-a", nullptr};
  pid_t child = -1;
  ASSERT_EQ(::posix_spawn(&child, MQTT_WILL_CLIENT, nullptr, nullptr, const_cast<char* const*>(argv), environ),
            0);
  auto is_state = [&](const mqtt::Message& m, bool online) {
    if (m.topic != topic) return false;
    auto s = telemetry::ParseStatus(m.payload);
    return s.ok() && s->online == online;
  };
  const bool came_online = inbox.WaitFor([&](const mqtt::Message& m) { return is_state(m, true); });
  ::kill(child, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(came_online) << broker_->log();
  ASSERT_TRUE(WIFSIGNALED(status));

  ASSERT_TRUE(inbox.WaitFor([&](const mqtt::Message& m) { return is_state(m, false); })) << broker_->log();
  // The will is retained: a subscriber arriving later reads "offline".
  Inbox later;
  auto reader = Connect(BridgeOptions(*broker_, "late-reader"));
  ASSERT_TRUE(reader->Subscribe(topic, Qos::kAtLeastOnce, later.Handler()).ok());
  ASSERT_TRUE(reader->WaitConnected(std::chrono::seconds(10)));
  ASSERT_TRUE(later.WaitFor([](const mqtt::Message& m) { return m.retain; })) << broker_->log();
  const auto retained = later.Messages().front();
  auto parsed = telemetry::ParseStatus(retained.payload);
  ASSERT_TRUE(parsed.ok()) << retained.payload;
  EXPECT_FALSE(parsed->online);
  EXPECT_EQ(parsed->model_version, 7);
  EXPECT_EQ(parsed->health_json, R"({"cause":"will"})");
}

TEST_F(MqttTest, CleanCloseSendsTheFinalStatusAndNotTheWill) {
  Inbox inbox;
  auto bridge = Bridge(inbox);
  const std::string topic = telemetry::Topic("dev-a", Channel::kStatus);
  auto options = DeviceOptions(*broker_, "dev-a", "token-a");
  options.will = [topic]() -> std::optional<mqtt::Message> {
    return mqtt::Message{topic, "will", Qos::kAtLeastOnce, true};
  };
  auto device = Connect(options);
  ASSERT_TRUE(device->WaitConnected(std::chrono::seconds(10)));
  const std::string offline = telemetry::ToJson(telemetry::OfflineStatus(5, 3));
  auto closed = device->Close(mqtt::Message{topic, offline, Qos::kAtLeastOnce, true});
  ASSERT_TRUE(closed.ok()) << closed.error().ToString();
  EXPECT_FALSE(device->connected());
  ASSERT_TRUE(inbox.WaitForPayload(topic, offline));
  // The bridge's marker after the close: the will would have come before it.
  auto marker_device = Connect(DeviceOptions(*broker_, "dev-b", "token-b"));
  const std::string marker_topic = telemetry::Topic("dev-b", Channel::kStatus);
  ASSERT_TRUE(WaitUntil([&] {
    (void)marker_device->Publish(marker_topic, "marker", Qos::kAtLeastOnce, false);
    return inbox.CountPayload(marker_topic, "marker") > 0;
  }));
  EXPECT_EQ(inbox.CountPayload(topic, "will"), 0u);
  EXPECT_TRUE(device->Close().ok());  // idempotent
}

TEST(MqttOffline, PublishWithTheBrokerDownReturnsAtOnceAndCountsDrops) {
  auto port = testsupport::FreeLoopbackPort();  // nothing listens there
  ASSERT_TRUE(port.ok());
  auto options = testsupport::ClientOptions(*port, "lonely", "dev-a", "token-a");
  options.max_queued = 4;
  auto link = Connect(options);
  std::vector<PublishOutcome> outcomes;
  for (int i = 0; i < 10; ++i) {
    auto r = link->Publish("edge-ai/device/dev-a/inference", std::to_string(i), Qos::kAtMostOnce, false);
    ASSERT_TRUE(r.ok());
    outcomes.push_back(*r);
  }
  EXPECT_EQ(std::count(outcomes.begin(), outcomes.end(), PublishOutcome::kQueued), 10);
  EXPECT_EQ(link->stats().queued, 4u);
  EXPECT_EQ(link->stats().dropped, 6u);
  EXPECT_EQ(link->stats().sent, 0u);
  // A retained message replaces the queued retained message of its topic.
  ASSERT_TRUE(link->Publish("edge-ai/device/dev-a/status", "s1", Qos::kAtLeastOnce, true).ok());
  ASSERT_TRUE(link->Publish("edge-ai/device/dev-a/status", "s2", Qos::kAtLeastOnce, true).ok());
  EXPECT_EQ(link->stats().queued, 4u);
  EXPECT_EQ(link->stats().dropped, 8u);  // the oldest inference message, then s1

  options.client_id = "no-queue";
  options.max_queued = 0;
  auto dropping = Connect(options);
  auto r = dropping->Publish("edge-ai/device/dev-a/inference", "x", Qos::kAtLeastOnce, false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, PublishOutcome::kDropped);
  EXPECT_EQ(dropping->stats().dropped, 1u);
  // Closing a link that never connected does not hang and reports the final
  // message as unsent.
  auto closed = link->Close(mqtt::Message{"edge-ai/device/dev-a/status", "bye", Qos::kAtLeastOnce, true});
  EXPECT_EQ(closed.error().code(), common::ErrorCode::kUnavailable);
}

// Messages published while the broker is away are sent, in order, when the
// link reconnects; subscriptions are renewed on reconnection.
TEST_F(MqttTest, ReconnectsFlushesTheQueueAndResubscribes) {
  Inbox inbox;
  auto bridge = Bridge(inbox);
  auto device = Connect(DeviceOptions(*broker_, "dev-a", "token-a"));
  ASSERT_TRUE(device->WaitConnected(std::chrono::seconds(10)));
  ASSERT_TRUE(broker_->Stop().ok());
  ASSERT_TRUE(WaitUntil([&] { return !device->connected() && !bridge->connected(); }));
  // Retained, on distinct topics of the device's subtree: the bridge reads
  // them whether it resubscribes before or after the device flushes.
  for (int i = 0; i < 3; ++i) {
    auto r = device->Publish("edge-ai/device/dev-a/q" + std::to_string(i), "queued-" + std::to_string(i),
                             Qos::kAtLeastOnce, true);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, PublishOutcome::kQueued);
  }
  ASSERT_TRUE(broker_->Restart().ok());
  ASSERT_TRUE(device->WaitConnected(std::chrono::seconds(10))) << broker_->log();
  ASSERT_TRUE(bridge->WaitConnected(std::chrono::seconds(10))) << broker_->log();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(inbox.WaitForPayload("edge-ai/device/dev-a/q" + std::to_string(i), "queued-" + std::to_string(i)))
        << i;
  }
  EXPECT_EQ(device->stats().queued, 0u);
  EXPECT_EQ(device->stats().connects, 2u);
  EXPECT_GE(device->stats().disconnects, 1u);
  // A live message reaches the bridge through its renewed subscription.
  ASSERT_TRUE(WaitUntil([&] {
    const auto st = bridge->stats();
    return st.connects == 2 && st.subscriptions_acked >= 1;
  }));
  const std::string topic = telemetry::Topic("dev-a", Channel::kInference);
  ASSERT_TRUE(device->Publish(topic, "live", Qos::kAtLeastOnce, false).ok());
  EXPECT_TRUE(inbox.WaitForPayload(topic, "live"));
}

TEST_F(MqttTest, ADeviceAddedWhileTheBrokerRunsConnectsAfterReload) {
  auto device = Connect(DeviceOptions(*broker_, "dev-c", "token-c"));
  ASSERT_TRUE(WaitUntil([&] { return device->stats().connect_failures >= 1; }));
  EXPECT_FALSE(device->connected());
  ASSERT_TRUE(broker_->AddDevice("dev-c", "token-c").ok());
  EXPECT_TRUE(device->WaitConnected(std::chrono::seconds(10))) << broker_->log();
}

}  // namespace
}  // namespace edgefleet
