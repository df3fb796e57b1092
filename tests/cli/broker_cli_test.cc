// `edgefleet broker config` as an operator runs it: the files it writes
// start a real Mosquitto that lets the bridge and a device in, and nobody
// else; bad usage gets exit status 2.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/mqtt.h"
#include "server/broker/broker.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_inbox.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace edgefleet {
namespace {

namespace fs = std::filesystem;

const fs::path kBinary = fs::path(EDGEFLEET_BINARY_DIR) / "bin" / "edgefleet";

int RunCli(const std::string& args) {
  const int raw = std::system((kBinary.string() + " " + args + " >/dev/null 2>&1").c_str());
  return WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

TEST(BrokerCli, WritesAConfigMosquittoRunsWith) {
  TempDir dir;
  auto port = testsupport::FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  std::string args = "broker config --data-dir " + dir.path().string() + " --port " + std::to_string(*port);
  if (::geteuid() == 0) args += " --user root";  // else Mosquitto drops to `mosquitto`, who cannot read the temp dir
  ASSERT_EQ(RunCli(args), 0);
  const auto files = broker::FilesFor(dir.path());
  for (const auto& f : {files.config, files.password_file, files.acl_file, files.bridge_credential}) {
    EXPECT_TRUE(fs::exists(f)) << f;
  }
  ASSERT_TRUE(broker::AddDeviceCredential(dir.path(), "fan-1", "token-1").ok());  // what `device add` does

  const std::string config = files.config.string();
  const char* argv[] = {"/usr/sbin/mosquitto", "-c", config.c_str(), nullptr};
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char* const*>(argv), environ), 0);
  struct Killer {
    pid_t pid;
    ~Killer() {
      ::kill(pid, SIGTERM);
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  } killer{pid};

  auto bridge_credential = broker::ReadBridgeCredential(dir.path());
  ASSERT_TRUE(bridge_credential.ok());
  auto bridge = mqtt::MqttLink::Create(testsupport::ClientOptions(*port, "bridge", bridge_credential->username,
                                                                 bridge_credential->password));
  auto device = mqtt::MqttLink::Create(testsupport::ClientOptions(*port, "fan-1", "fan-1", "token-1"));
  auto stranger = mqtt::MqttLink::Create(testsupport::ClientOptions(*port, "x", "fan-1", "token-2"));
  ASSERT_TRUE(bridge.ok() && device.ok() && stranger.ok());
  testsupport::Inbox inbox;
  ASSERT_TRUE((*bridge)->Subscribe("edge-ai/device/+/#", mqtt::Qos::kAtLeastOnce, inbox.Handler()).ok());
  for (auto* link : {bridge->get(), device->get(), stranger->get()}) ASSERT_TRUE(link->Start().ok());
  ASSERT_TRUE((*bridge)->WaitConnected(std::chrono::seconds(10)));
  ASSERT_TRUE((*device)->WaitConnected(std::chrono::seconds(10)));
  ASSERT_TRUE(testsupport::WaitUntil([&] { return (*bridge)->stats().subscriptions_acked >= 1; }));
  ASSERT_TRUE((*device)->Publish("edge-ai/device/fan-1/status", "hello", mqtt::Qos::kAtLeastOnce, false).ok());
  EXPECT_TRUE(inbox.WaitForPayload("edge-ai/device/fan-1/status", "hello"));
  ASSERT_TRUE(testsupport::WaitUntil([&] { return (*stranger)->stats().last_connack == 5; }));  // not authorised
  EXPECT_EQ((*stranger)->stats().connects, 0u);
}

TEST(BrokerCli, BadUsage) {
  EXPECT_EQ(RunCli("broker config"), 2);
  EXPECT_EQ(RunCli("broker config --data-dir /tmp --port 0"), 2);
  EXPECT_EQ(RunCli("broker"), 2);
  EXPECT_EQ(RunCli("broker config --data-dir /proc/no-such-dir"), 1);
}

}  // namespace
}  // namespace edgefleet
