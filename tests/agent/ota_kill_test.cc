// Real kill -9 of the OTA driver (edgefleet-ota-drive: the engine on POSIX
// files, libcurl and the system clock) at random moments of an update,
// served over real HTTP on loopback. After each kill a probe process opens
// the device's directory as the agent would at boot: a device is bricked if
// it cannot start a valid model. Then the driver runs again until the
// attempt ends, and the server's last report must match what it runs.
//
// The server here is the in-memory OTA server of fake_server.h behind the
// project's real HTTP transport (server/http), with a few milliseconds per
// download request so that kills land in every state. CI runs
// EDGEFLEET_OTA_KILLS (default 12) kills; bench/ota_kill.sh runs 200.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "agent/ota/platform/posix_filesystem.h"
#include "ota_harness.h"
#include "server/http/server.h"
#include "tests/agent/process.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace edgefleet::ota::testing {
namespace {

namespace http = server::http;
using agent::testing::LastLine;
using agent::testing::SpawnWithStdoutTo;
using agent::testing::Wait;

// The fake server's logic behind a real HTTP listener.
class LoopbackServer {
 public:
  LoopbackServer() {
    http::Routes routes;
    const auto handler = [this](const http::Request& r) { return Handle(r); };
    routes.Add(http::Method::kGet, "/api/updates/check", handler);
    routes.Add(http::Method::kPost, "/api/updates/status", handler);
    routes.Add(http::Method::kGet, "/model/download", handler);
    routes.Add(http::Method::kGet, "/model/thresholds", handler);
    http::ServerOptions options;
    options.threads = 2;
    server_ = std::make_unique<http::HttpServer>(options, routes);
  }
  common::Expected<void> Start() { return server_->Start(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  template <typename F>
  auto With(F&& f) {
    std::lock_guard lock(mutex_);
    return f(fake_);
  }

 private:
  http::Response Handle(const http::Request& r) {
    if (r.path == "/model/download") std::this_thread::sleep_for(std::chrono::milliseconds(8));
    HttpRequest req;
    req.method = r.method == http::Method::kPost ? "POST" : "GET";
    req.url = "http://127.0.0.1" + std::string(r.target);
    for (const auto& h : r.headers) req.headers.push_back({std::string(h.name), std::string(h.value)});
    req.body = std::string(r.body);
    std::lock_guard lock(mutex_);
    auto answer = fake_.Send(req);
    http::Response out;
    if (!answer.ok()) return http::Response::Error(503, "unavailable", answer.error().message());
    out.status = static_cast<unsigned>(answer.value().status);
    out.body = answer.value().body;
    out.content_type = r.path == "/model/download" ? "application/octet-stream" : "application/json";
    for (const auto& h : answer.value().headers) {
      if (h.name != "Content-Type") out.headers.emplace_back(h.name, h.value);
    }
    return out;
  }

  std::mutex mutex_;
  FakeServer fake_;
  std::unique_ptr<http::HttpServer> server_;
};

TEST(OtaKill, RandomKill9DuringUpdatesBricksNoDevice) {
  int kills = 12;
  if (const char* env = std::getenv("EDGEFLEET_OTA_KILLS")) kills = std::max(1, std::atoi(env));
  TempDir root;
  const auto key = Key(1);
  ASSERT_TRUE(common::WritePublicKeyPem(key.public_key(), root.path() / "trusted.pem").ok());
  LoopbackServer server;
  ASSERT_TRUE(server.Start().ok());
  const std::string v2 = ArtifactV(2);
  const std::string v3 = ArtifactV(3);
  common::Manifest manifest = ManifestFor(3, v3);
  manifest.url = server.url() + "/model/download?version=3";
  server.With([&](FakeServer& f) {
    f.Put(3, {v3, Sign(key, v3)});
    f.Offer(manifest, key);
    return 0;
  });

  std::mt19937 rng(20261206);
  int bricked = 0;
  std::map<std::string, int> killed_in;
  PosixFilesystem fs;
  for (int trial = 0; trial < kills; ++trial) {
    const std::string id = "dev-" + std::to_string(trial);
    const auto dir = root.path() / id;
    ASSERT_TRUE(fs.CreateDirectories(dir).ok());
    ASSERT_TRUE(fs.WriteFileAtomically(dir / kCurrentFile, v2).ok());
    const std::vector<std::string> base = {EDGEFLEET_OTA_DRIVE, "--dir", dir.string(), "--server", server.url(),
                                           "--device-id", id, "--trusted-key", (root.path() / "trusted.pem").string(),
                                           "--chunk-bytes", "1024", "--health-ms", "150"};
    // 1. Run, and kill -9 at a random moment.
    const pid_t pid = SpawnWithStdoutTo(base, dir / "run.log");
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 500));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    const std::string at = LastLine(dir / "run.log");
    ++killed_in[at.substr(0, at.find(' '))];
    // 2. Boot as the agent would: is there a valid model to run?
    std::vector<std::string> probe = base;
    probe.push_back("--probe");
    const int probe_status = Wait(SpawnWithStdoutTo(probe, dir / "probe.log"), std::chrono::seconds(20));
    if (probe_status != 0) {
      ++bricked;
      ADD_FAILURE() << id << " is bricked after a kill in " << at << ": " << LastLine(dir / "probe.log");
      continue;
    }
    // 3. Let the attempt end; the server must end up with the device's view.
    std::vector<std::string> finish = base;
    finish.push_back("--until-terminal");
    ASSERT_EQ(Wait(SpawnWithStdoutTo(finish, dir / "finish.log"), std::chrono::seconds(30)), 0)
        << id << " did not finish";
    const std::string final_line = LastLine(dir / "finish.log");
    const bool committed = final_line.rfind("state=committed version=3", 0) == 0;
    const bool rolled_back = final_line.rfind("state=rolled_back version=2", 0) == 0;
    EXPECT_TRUE(committed || rolled_back) << id << " killed in " << at << " ended " << final_line;
    const auto last = server.With([&](FakeServer& f) {
      nlohmann::json found;
      for (const auto& s : f.statuses()) {
        if (s.at("device_id") == id) found = s;
      }
      return found;
    });
    ASSERT_FALSE(last.is_null()) << id;
    EXPECT_EQ(last.at("status"), committed ? "active" : "rolled_back") << id;
    EXPECT_EQ(last.at("version"), committed ? 3 : 2) << id;
  }
  std::string histogram;
  for (const auto& [state, n] : killed_in) histogram += state + ":" + std::to_string(n) + " ";
  std::printf("%d kills, %d bricked; killed in %s\n", kills, bricked, histogram.c_str());
  EXPECT_EQ(bricked, 0);
}

}  // namespace
}  // namespace edgefleet::ota::testing
