#include "cli/broker.h"

#include <cstdio>

#include "cli/common.h"
#include "server/broker/broker.h"

namespace edgefleet::cli {

int BrokerConfig(const BrokerConfigArgs& args) {
  broker::BrokerConfigOptions options;
  options.port = args.port;
  options.bind_address = args.bind;
  options.persistence = args.persistence;
  if (!args.user.empty()) options.run_as_user = args.user;
  auto files = broker::WriteBrokerConfig(args.data_dir, options);
  if (!files.ok()) return Fail("writing the broker configuration: " + files.error().message());
  std::printf("config:    %s\npasswd:    %s\nacl:       %s\nbridge:    %s (the server's MQTT credential)\n",
              files->config.c_str(), files->password_file.c_str(), files->acl_file.c_str(),
              files->bridge_credential.c_str());
  std::printf("start:     mosquitto -c %s\n", files->config.c_str());
  std::printf("devices:   `edgefleet device add ID` adds each device's credential; then reload the broker (SIGHUP)\n");
  return 0;
}

}  // namespace edgefleet::cli
