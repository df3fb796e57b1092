// `edgefleet broker config --data-dir DIR [--port N] ...`: writes the
// Mosquitto 2.0 configuration, ACL and password file of server/broker/broker.h
// under DIR/mosquitto/ and prints how to start the broker. Returns the
// process exit status.
#pragma once

#include <optional>
#include <string>

namespace edgefleet::cli {

struct BrokerConfigArgs {
  std::string data_dir;
  int port = 1883;
  std::string bind = "127.0.0.1";
  bool persistence = false;
  std::string user;  // Mosquitto's `user` option; "" not written
};

int BrokerConfig(const BrokerConfigArgs& args);

}  // namespace edgefleet::cli
