// A device process for the last-will test (mqtt_test.cc): connects as
// device <id> with a last will (status "offline", health {"cause":"will"}),
// publishes its retained "online" status, then waits to be killed.
//   mqtt_will_client PORT ID TOKEN
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/mqtt.h"
#include "common/telemetry.h"

using namespace edgefleet;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: mqtt_will_client PORT ID TOKEN\n");
    return 2;
  }
  const std::string id = argv[2];
  mqtt::MqttOptions o;
  o.port = std::atoi(argv[1]);
  o.client_id = id;
  o.username = id;
  o.password = argv[3];
  o.reconnect_initial = std::chrono::milliseconds(20);
  o.reconnect_max = std::chrono::milliseconds(200);
  o.will = [id]() -> std::optional<mqtt::Message> {
    telemetry::StatusMessage s = telemetry::OfflineStatus(1000, 7);
    s.health_json = R"({"cause":"will"})";
    return mqtt::Message{telemetry::Topic(id, telemetry::Channel::kStatus), telemetry::ToJson(s),
                         mqtt::Qos::kAtLeastOnce, true};
  };
  auto link = mqtt::MqttLink::Create(o);
  if (!link.ok() || !(*link)->Start().ok()) return 1;
  if (!(*link)->WaitConnected(std::chrono::seconds(10))) return 1;
  telemetry::StatusMessage online;
  online.ts_ms = 2000;
  online.model_version = 7;
  online.uptime_s = 1;
  online.buffer_depth = 0;
  online.backoff = telemetry::BackoffInfo{};
  online.dropped_rows = 0;
  if (!(*link)->Publish(telemetry::Topic(id, telemetry::Channel::kStatus), telemetry::ToJson(online),
                        mqtt::Qos::kAtLeastOnce, true).ok()) {
    return 1;
  }
  for (;;) ::pause();
}
