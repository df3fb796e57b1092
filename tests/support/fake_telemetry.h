// A Telemetry (common/mqtt.h) that records what is published, for tests of
// code that publishes (the agent's runtime, DevicePublisher) without a
// broker. `outcome` sets what Publish reports; topics are checked as the
// real MqttLink checks them.
//
// Threads: every method is thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "common/mqtt.h"

namespace edgefleet::testsupport {

class FakeTelemetry final : public mqtt::Telemetry {
 public:
  common::Expected<mqtt::PublishOutcome> Publish(std::string_view topic, std::string_view payload, mqtt::Qos qos,
                                                 bool retain) override {
    if (!mqtt::IsValidPublishTopic(topic)) {
      return common::Error(common::ErrorCode::kInvalidArgument, "invalid MQTT topic");
    }
    std::lock_guard lock(mu_);
    messages_.push_back(mqtt::Message{std::string(topic), std::string(payload), qos, retain});
    return outcome_;
  }

  void set_outcome(mqtt::PublishOutcome outcome) {
    std::lock_guard lock(mu_);
    outcome_ = outcome;
  }

  std::vector<mqtt::Message> messages() const {
    std::lock_guard lock(mu_);
    return messages_;
  }

  void clear() {
    std::lock_guard lock(mu_);
    messages_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::vector<mqtt::Message> messages_;
  mqtt::PublishOutcome outcome_ = mqtt::PublishOutcome::kSent;
};

}  // namespace edgefleet::testsupport
