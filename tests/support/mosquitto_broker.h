// A real Mosquitto broker for one test (STYLE.md practice 7: never a mock,
// never one someone else started).
//
// What it is for: MQTT integration tests (common/mqtt.h, the server's
// bridge) run against /usr/sbin/mosquitto configured exactly as deployed:
// MosquittoBroker::Start writes the files of server/broker/broker.h into the
// given data dir (listener on 127.0.0.1 and a port that was free a moment
// before, anonymous clients refused, the passwd and ACL files, the bridge
// credential), starts `mosquitto -c <config>`, and returns once the broker
// accepts TCP connections. Its log goes to <data_dir>/mosquitto/broker.log
// (log() returns it, for failure messages).
//
// Stop() sends SIGTERM to the broker's pid, waits up to 5 s, then SIGKILL;
// the destructor calls it. The child is started with PR_SET_PDEATHSIG, so it
// dies with the test process even if the test crashes (start brokers from
// the test's main thread: the signal follows the thread that forked).
// When the test runs as root, the broker is told to stay root (Mosquitto
// otherwise switches to the `mosquitto` user, which cannot read the test's
// files). The binary is $EDGEFLEET_MOSQUITTO, else /usr/sbin/mosquitto.
//
// Threads: not thread-safe; use from the test's thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"
#include "server/broker/broker.h"

namespace edgefleet::testsupport {

class MosquittoBroker {
 public:
  // `port` 0: a free port. kNotFound if the mosquitto binary is missing.
  static common::Expected<std::unique_ptr<MosquittoBroker>> Start(const std::filesystem::path& data_dir,
                                                                  int port = 0);

  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;
  ~MosquittoBroker();

  common::Expected<void> Stop();
  // Starts the broker again on the same port with the same files (after Stop).
  common::Expected<void> Restart();
  // SIGHUP: the broker re-reads passwd and acl.
  common::Expected<void> Reload();

  // Adds a device's credential (broker::AddDeviceCredential) and reloads.
  common::Expected<void> AddDevice(std::string_view id, std::string_view token);

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  const broker::Credential& bridge() const { return bridge_; }
  std::string log() const;

 private:
  MosquittoBroker() = default;
  common::Expected<void> Launch();

  std::filesystem::path data_dir_;
  std::filesystem::path binary_;
  broker::BrokerFiles files_;
  broker::Credential bridge_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A loopback TCP port that was free when asked (bind port 0, read, close).
common::Expected<int> FreeLoopbackPort();

// Waits up to `timeout` for `done()`, polling every few milliseconds. For
// waiting on asynchronous effects (messages, connections) in tests; a bound,
// never an assertion about speed.
bool WaitUntil(const std::function<bool()>& done,
               std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace edgefleet::testsupport
