// The OTA engine against the real `edgefleet server` (server/api over
// loopback, its registry, SQLite store and signing key):
//
// - OtaServerResume: the server is stopped (SIGKILL) in the middle of a
//   download and started again on the same port; the engine resumes from
//   its download.part and commits, and the bytes the server sent twice are
//   at most one chunk (counted by an HttpClient that wraps the real libcurl
//   client and sums the download bodies it received).
// - OtaServerKill: real kill -9 of `edgefleet-ota-drive` at random moments
//   of an update served by the real server; after each kill a probe boots
//   the device's directory as the agent would (bricked = no valid model),
//   then the driver runs the attempt to its end and the server's update
//   history must end with what the device runs. EDGEFLEET_OTA_KILLS
//   (default 8) kills; bench/ota_kill_server.sh runs 200.
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <thread>

#include "agent/ota/engine.h"
#include "agent/ota/platform/curl_http_client.h"
#include "agent/ota/platform/posix_filesystem.h"
#include "tests/agent/real_ota_server.h"

extern char** environ;

namespace edgefleet::agent {
namespace {

using testing::RealOtaServer;

const char* const kCli = EDGEFLEET_CLI_BINARY;

std::string ArtifactV(std::uint32_t version) { return ota::WithVersion(ota::BuiltinModelBytes(), version).value(); }

// The real client, counting what the downloads received; it stops the
// server before the `stop_before`-th download request and starts it again
// after `down_for` failed requests.
class CountingHttp final : public ota::HttpClient {
 public:
  CountingHttp(RealOtaServer& server, int stop_before, int down_for)
      : server_(server), stop_before_(stop_before), down_for_(down_for) {}

  common::Expected<ota::HttpResponse> Send(const ota::HttpRequest& request) override {
    const bool download = request.url.find("/model/download") != std::string::npos;
    if (download && ++downloads_ == stop_before_) {
      EXPECT_EQ(server_.Stop(SIGKILL), -1);
      stopped_ = true;
    }
    auto response = real_.Send(request);
    if (stopped_ && !response.ok() && ++failures_while_down_ == down_for_) {
      EXPECT_TRUE(server_.Start()) << server_.log();
      stopped_ = false;
    }
    if (download && response.ok() && (response.value().status == 200 || response.value().status == 206)) {
      received_ += response.value().body.size();
    }
    return response;
  }
  std::uint64_t received() const { return received_; }
  int failures_while_down() const { return failures_while_down_; }

 private:
  RealOtaServer& server_;
  ota::CurlHttpClient real_;
  int stop_before_, down_for_;
  int downloads_ = 0, failures_while_down_ = 0;
  bool stopped_ = false;
  std::uint64_t received_ = 0;
};

TEST(OtaServerResume, ServerStoppedMidDownloadResumesWithAtMostOneChunkTwice) {
  TempDir root;
  RealOtaServer server(kCli, root.path());
  const std::string token = server.AddDevice("dev-resume");
  ASSERT_FALSE(token.empty()) << server.cli_log();
  const std::string v3 = ArtifactV(3);
  server.Publish(v3, 3);
  ASSERT_TRUE(server.Start()) << server.log();

  ota::OtaConfig config;
  config.device_id = "dev-resume";
  config.token = token;
  config.server_url = server.url();
  config.model_dir = root.path() / "device";
  config.trusted_keys = {common::ReadPublicKeyPem(server.public_key()).value()};
  config.device_ram_mb = 512;
  config.firmware_version = "1.0.0";
  config.chunk_bytes = 1024;
  config.retry_initial_ms = 20;
  config.retry_max_ms = 100;
  config.report_retry_ms = 50;
  config.download_retries = 1000;
  config.health.period_ms = 100;
  config.health.grace_ms = 100;
  config.http_timeout = std::chrono::milliseconds(2000);
  ota::PosixFilesystem fs;
  ASSERT_TRUE(fs.CreateDirectories(config.model_dir).ok());
  ASSERT_TRUE(fs.WriteFileAtomically(config.model_dir / ota::kCurrentFile, ArtifactV(2)).ok());
  const std::uint64_t chunks = (v3.size() + config.chunk_bytes - 1) / config.chunk_bytes;
  ASSERT_GE(chunks, 4u);
  CountingHttp http(server, static_cast<int>(chunks / 2) + 1, 3);  // stopped after half the chunks
  ota::SystemClock clock;
  auto engine = ota::OtaEngine::Open(config, {fs, http, clock, nullptr});
  ASSERT_TRUE(engine.ok()) << engine.error().ToString();
  ota::OtaEngine& e = *engine.value();
  ASSERT_EQ(e.StartupModel()->version(), 2);
  e.SetActivateCallback([](std::shared_ptr<const ota::Model>) -> common::Expected<void> { return common::Ok(); });
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!(e.record().attempt > 0 && ota::IsTerminal(e.state()) && e.reports().pending().empty())) {
    ASSERT_LT(std::chrono::steady_clock::now(), end) << "stuck in " << ota::ToString(e.state());
    const std::int64_t due = e.Tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(std::clamp<std::int64_t>(due - clock.NowMs(), 0, 20)));
  }
  e.Shutdown();
  EXPECT_EQ(e.state(), ota::State::kCommitted) << e.record().last_error;
  EXPECT_EQ(e.active_model()->version(), 3);
  EXPECT_EQ(http.failures_while_down(), 3);
  EXPECT_GE(http.received(), v3.size());
  EXPECT_LE(http.received() - v3.size(), config.chunk_bytes)
      << "received " << http.received() << " bytes for a " << v3.size() << "-byte artifact";
  std::printf("artifact %zu bytes in %llu chunks of %llu; received %llu bytes (%llu twice) across a server restart\n",
              v3.size(), static_cast<unsigned long long>(chunks),
              static_cast<unsigned long long>(config.chunk_bytes), static_cast<unsigned long long>(http.received()),
              static_cast<unsigned long long>(http.received() - v3.size()));
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

TEST(OtaServerKill, RandomKill9OfTheDriverBricksNoDevice) {
  int kills = 8;
  if (const char* env = std::getenv("EDGEFLEET_OTA_KILLS")) kills = std::max(1, std::atoi(env));
  TempDir root;
  RealOtaServer server(kCli, root.path());
  server.Publish(ArtifactV(3), 3);
  std::vector<std::string> tokens;
  for (int i = 0; i < kills; ++i) {
    tokens.push_back(server.AddDevice("dev-" + std::to_string(i)));
    ASSERT_FALSE(tokens.back().empty()) << server.cli_log();
  }
  ASSERT_TRUE(server.Start()) << server.log();
  const std::string v2 = ArtifactV(2);

  std::mt19937 rng(20261206);
  int bricked = 0;
  std::map<std::string, int> killed_in;
  std::map<std::string, std::string> expected_last;  // device -> "status:version"
  ota::PosixFilesystem fs;
  for (int trial = 0; trial < kills; ++trial) {
    const std::string id = "dev-" + std::to_string(trial);
    const auto dir = root.path() / id;
    ASSERT_TRUE(fs.CreateDirectories(dir).ok());
    ASSERT_TRUE(fs.WriteFileAtomically(dir / ota::kCurrentFile, v2).ok());
    const std::vector<std::string> base = {EDGEFLEET_OTA_DRIVE, "--dir", dir.string(), "--server", server.url(),
                                           "--device-id", id, "--token", tokens[static_cast<std::size_t>(trial)],
                                           "--trusted-key", server.public_key().string(), "--chunk-bytes", "512",
                                           "--health-ms", "150"};
    const pid_t pid = testing::SpawnWithStdoutTo(base, dir / "run.log");
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 400));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    const std::string at = testing::LastLine(dir / "run.log");
    ++killed_in[at.empty() ? "(before the first state line)" : at.substr(6, at.find(' ') - 6)];
    std::vector<std::string> probe = base;
    probe.push_back("--probe");
    if (testing::Wait(testing::SpawnWithStdoutTo(probe, dir / "probe.log"), std::chrono::seconds(20)) != 0) {
      ++bricked;
      ADD_FAILURE() << id << " is bricked after a kill in " << at << ": " << testing::LastLine(dir / "probe.log");
      continue;
    }
    std::vector<std::string> finish = base;
    finish.push_back("--until-terminal");
    ASSERT_EQ(testing::Wait(testing::SpawnWithStdoutTo(finish, dir / "finish.log"), std::chrono::seconds(30)), 0) << id;
    const std::string final_line = testing::LastLine(dir / "finish.log");
    const bool committed = final_line.rfind("state=committed version=3", 0) == 0;
    const bool rolled_back = final_line.rfind("state=rolled_back version=2", 0) == 0;
    EXPECT_TRUE(committed || rolled_back) << id << " killed in " << at << " ended " << final_line;
    expected_last[id] = committed ? "active:3" : "rolled_back:2";
  }
  EXPECT_EQ(server.Stop(), 0) << server.log();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((server.data_dir() / "edgefleet.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  for (const auto& [id, want] : expected_last) {
    sqlite3_stmt* stmt = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT status, version FROM update_status WHERE device_id = ? ORDER BY id DESC LIMIT 1",
                                 -1, &stmt, nullptr), SQLITE_OK);
    sqlite3_bind_text(stmt, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    std::string got = "(none)";
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      got = std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))) + ":" +
            std::to_string(sqlite3_column_int64(stmt, 1));
    }
    sqlite3_finalize(stmt);
    EXPECT_EQ(got, want) << id;
  }
  sqlite3_close(db);
  std::string histogram;
  for (const auto& [state, n] : killed_in) histogram += state + ":" + std::to_string(n) + " ";
  std::printf("%d kills of edgefleet-ota-drive against the real server, %d bricked; killed in %s\n", kills, bricked,
              histogram.c_str());
  EXPECT_EQ(bricked, 0);
}

}  // namespace
}  // namespace edgefleet::agent
