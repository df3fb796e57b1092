// Helpers for MQTT tests: an Inbox that records what a subscription
// received, and MqttOptions for a device or the bridge of a test broker.
//
// Threads: Inbox's handler runs on an MqttLink's network thread; every
// method is thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/mqtt.h"
#include "tests/support/mosquitto_broker.h"

namespace edgefleet::testsupport {

class Inbox {
 public:
  mqtt::MessageHandler Handler() {
    return [this](const mqtt::Message& m) {
      std::lock_guard lock(mu_);
      messages_.push_back(m);
    };
  }

  std::vector<mqtt::Message> Messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }

  std::size_t Count(const std::function<bool(const mqtt::Message&)>& match) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& m : messages_) n += match(m) ? 1u : 0u;
    return n;
  }

  std::size_t CountPayload(std::string_view topic, std::string_view payload) const {
    return Count([&](const mqtt::Message& m) { return m.topic == topic && m.payload == payload; });
  }

  // Waits (bounded) until some message matches.
  bool WaitFor(const std::function<bool(const mqtt::Message&)>& match,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return WaitUntil([&] { return Count(match) > 0; }, timeout);
  }

  bool WaitForPayload(std::string_view topic, std::string_view payload,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return WaitFor([&](const mqtt::Message& m) { return m.topic == topic && m.payload == payload; }, timeout);
  }

 private:
  mutable std::mutex mu_;
  std::vector<mqtt::Message> messages_;
};

inline mqtt::MqttOptions ClientOptions(int port, std::string client_id, std::string username,
                                       std::string password) {
  mqtt::MqttOptions o;
  o.host = "127.0.0.1";
  o.port = port;
  o.client_id = std::move(client_id);
  o.username = std::move(username);
  o.password = std::move(password);
  o.reconnect_initial = std::chrono::milliseconds(20);
  o.reconnect_max = std::chrono::milliseconds(200);
  return o;
}

inline mqtt::MqttOptions DeviceOptions(const MosquittoBroker& broker, const std::string& id,
                                       const std::string& token) {
  return ClientOptions(broker.port(), id, id, token);
}

inline mqtt::MqttOptions BridgeOptions(const MosquittoBroker& broker, std::string client_id = "bridge") {
  return ClientOptions(broker.port(), std::move(client_id), broker.bridge().username, broker.bridge().password);
}

}  // namespace edgefleet::testsupport
