// The agent with its OTA engine against the real cloud: `edgefleet keys
// generate`, `edgefleet device add`, `edgefleet model publish` (v1 and v2,
// the shipped model with its version field raised: ota::WithVersion),
// `edgefleet server` on 127.0.0.1:0, and the real `edgefleet-agent` reading
// recorded windows (a CSV replay, or its stdin fed by the test). The agent
// starts on v1, updates to v2 through every state while windows flow, and the
// server's update history, its reported version for the device and the
// agent's synced rows (no seq gap; model_version 1 then 2) say so; the MQTT
// `ota` topic got every report and the status the new version. A v2 whose
// signature header is wrong is refused: `failed`, v1 still runs.
//
// The update and the windows run on different threads of the agent, so a
// test that needs windows on both sides of the swap does not race a
// fixed-length replay against the update (which takes from tens of ms on a
// quiet machine to seconds under load): it feeds the agent's stdin itself,
// publishes v2 only once v1 windows reached the server, and keeps feeding
// until the server records the update `active` (FeedUntil).
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <functional>
#include <fstream>
#include <random>
#include <thread>

#include "agent/ota/model.h"
#include <nlohmann/json.hpp>

#include "common/telemetry.h"
#include "ml/dataset.h"
#include "tests/agent/fakes.h"
#include "tests/agent/process.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_inbox.h"
#include "tests/support/sqlite_query.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::agent {
namespace {

using testsupport::QueryRows;
using testsupport::QueryText;
using testing::Capture;
using testing::Child;
using testing::ReadText;
using testing::Spawn;
using testing::Wait;

const char* const kAgent = EDGEFLEET_AGENT_BINARY;
const char* const kCli = EDGEFLEET_CLI_BINARY;

void WriteBytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

class AgentOta : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = dir_.path() / "data";
    std::filesystem::create_directories(data_dir_);
    q_ = " 2>>" + (dir_.path() / "cli.log").string();
    Capture(std::string(kCli) + " keys generate --data-dir " + data_dir_.string() + " >/dev/null" + q_);
    token_ = Capture(std::string(kCli) + " device add fan-ota --data-dir " + data_dir_.string() + q_);
    while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r')) token_.pop_back();
    ASSERT_FALSE(token_.empty()) << ReadText(dir_.path() / "cli.log");
    auto broker = testsupport::MosquittoBroker::Start(dir_.path() / "broker");
    ASSERT_TRUE(broker.ok()) << broker.error().ToString();
    broker_ = std::move(broker).value();
    ASSERT_TRUE(broker_->AddDevice("fan-ota", token_).ok());
    auto watcher = mqtt::MqttLink::Create(testsupport::BridgeOptions(*broker_, "watcher"));
    ASSERT_TRUE(watcher.ok());
    watcher_ = std::move(watcher).value();
    ASSERT_TRUE(watcher_->Subscribe("edge-ai/device/fan-ota/#", mqtt::Qos::kAtLeastOnce, inbox_.Handler()).ok());
    ASSERT_TRUE(watcher_->Start().ok());
    ASSERT_TRUE(testsupport::WaitUntil([&] { return watcher_->connected(); }, std::chrono::seconds(10)));
    const auto golden = testing::GoldenModel();
    const std::string_view shipped(reinterpret_cast<const char*>(golden.data()), golden.size());
    for (std::uint32_t v : {1u, 2u}) {
      auto bytes = ota::WithVersion(shipped, v);
      ASSERT_TRUE(bytes.ok());
      WriteBytes(dir_.path() / ("v" + std::to_string(v) + ".efm"), bytes.value());
    }
    // 200 windows of normal and anomalous fan data.
    const auto data = ml::LoadPacked(testing::SourceDir() / "data" / "ceiling-fan.efr");
    ASSERT_TRUE(data.ok());
    std::FILE* f = std::fopen((dir_.path() / "replay.csv").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fprintf(f, "x,y,z\n");
    for (const char* name : {"normal_low", "anomaly_med_weight"}) {
      const ml::Recording* r = data.value.Find(name);
      ASSERT_NE(r, nullptr);
      for (std::size_t i = 0; i < 10000; ++i) {
        char line[96];
        const int n = std::snprintf(line, sizeof line, "%.6f,%.6f,%.6f\n", r->counts[i * 3] / 2048.0,
                                    r->counts[i * 3 + 1] / 2048.0, r->counts[i * 3 + 2] / 2048.0);
        std::fputs(line, f);
        if (i % 100 == 0) windows_.emplace_back();
        windows_.back().append(line, static_cast<std::size_t>(n));
      }
    }
    std::fclose(f);
    ::signal(SIGPIPE, SIG_IGN);  // an agent that stopped reading fails FeedWindow, not the test binary
  }

  void Publish(int version) {
    Capture(std::string(kCli) + " model publish " + (dir_.path() / ("v" + std::to_string(version) + ".efm")).string() +
            " --data-dir " + data_dir_.string() + " >/dev/null" + q_);
  }

  // Starts `edgefleet server` on 127.0.0.1:0 (server_pid_, port_).
  void StartServer() {
    const auto port_file = dir_.path() / "port";
    server_pid_ = Spawn(kCli,
                        {"server", "--data-dir", data_dir_.string(), "--port", "0", "--bind", "127.0.0.1",
                         "--port-file", port_file.string()},
                        dir_.path() / "server.log", false)
                      .pid;
    ASSERT_GT(server_pid_, 0);
    ASSERT_TRUE(testsupport::WaitUntil([&] { return !ReadText(port_file).empty(); }, std::chrono::seconds(30)))
        << ReadText(dir_.path() / "server.log");
    port_ = ReadText(port_file);
    while (!port_.empty() && port_.back() == '\n') port_.pop_back();
  }

  // Stops the server (SIGTERM; it must exit 0).
  void StopServer() {
    ::kill(server_pid_, SIGTERM);
    const int status = Wait(server_pid_, std::chrono::seconds(30));
    server_pid_ = -1;
    EXPECT_EQ(status, 0) << ReadText(dir_.path() / "server.log");
  }

  // Waits for the agent's exit (it must be 0), stops the server, opens its database.
  void FinishRun() {
    agent_exit_ = Wait(agent_pid_, std::chrono::seconds(60));
    agent_pid_ = -1;
    StopServer();
    ASSERT_EQ(agent_exit_, 0) << ReadText(dir_.path() / "agent.log");
    ASSERT_EQ(sqlite3_open_v2((data_dir_ / "edgefleet.db").c_str(), &db_, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  }

  std::vector<std::string> AgentArgs(const std::string& source) const {
    return {"--device-id", "fan-ota", "--token", token_, "--server", "http://127.0.0.1:" + port_, "--broker",
            "127.0.0.1:" + std::to_string(broker_->port()), "--source", source, "--buffer",
            (dir_.path() / "buffer.db").string(), "--model", (dir_.path() / "v1.efm").string(), "--strategy",
            "periodic", "--periodic-interval-ms", "500", "--power", "none", "--shutdown-sync-timeout-ms", "20000",
            "--trusted-key", (data_dir_ / "keys" / "server.pub").string(), "--ota-dir", (dir_.path() / "ota").string(),
            "--ota-chunk-bytes", "2048", "--ota-retry-initial-ms", "50", "--ota-retry-max-ms", "500",
            "--ota-report-retry-ms", "100", "--ota-health-period-ms", "500", "--ota-health-grace-ms", "500",
            "--ota-health-min-inferences", "5", "--ota-health-max-escalation-rate", "1",
            "--ota-health-max-latency-ratio", "1000", "--firmware-version", "1.0.0"};
  }

  // Starts the agent reading its stdin (agent.log), which the test feeds;
  // it checks for updates every 200 ms, so a v2 published while it runs is
  // found at once. Returns the stdin pipe.
  int StartFedAgent(bool fast_checks = true) {
    auto args = AgentArgs("stdin");
    if (fast_checks) args.insert(args.end(), {"--ota-check-interval-ms", "200"});
    const Child agent = Spawn(kAgent, args, dir_.path() / "agent.log", true);
    agent_pid_ = agent.pid;
    return agent.stdin_fd;
  }

  // Writes the next recorded window (the 200 in turn) to the agent's stdin;
  // false when the agent does not take it within 30 s or stopped reading.
  bool FeedWindow(int fd) {
    const std::string& w = windows_[sent_ % windows_.size()];
    std::size_t off = 0;
    while (off < w.size()) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, 30'000) != 1 || (p.revents & POLLOUT) == 0) return false;
      const ssize_t n = ::write(fd, w.data() + off, w.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    ++sent_;
    return true;
  }

  // Feeds windows (pacing them by 10 ms: a sensor, not a flood) until `done`
  // holds. False when `timeout` passed first or the agent stopped reading.
  bool FeedUntil(int fd, const std::function<bool()>& done, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline || !FeedWindow(fd)) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // One number from the running server's database (-1 if it cannot be read now).
  std::int64_t ServerCount(const std::string& sql) {
    sqlite3* db = nullptr;
    std::int64_t n = -1;
    if (sqlite3_open_v2((data_dir_ / "edgefleet.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
      sqlite3_busy_timeout(db, 1000);
      const std::string text = QueryText(db, sql);
      if (!text.empty()) n = std::stoll(text);
    }
    sqlite3_close(db);
    return n;
  }

  void TearDown() override {
    // A test that stopped early: its processes are stopped by their pid.
    for (pid_t* pid : {&agent_pid_, &server_pid_}) {
      if (*pid > 0) {
        ::kill(*pid, SIGKILL);
        Wait(*pid, std::chrono::seconds(10));
        *pid = -1;
      }
    }
    if (db_ != nullptr) sqlite3_close(db_);
    if (watcher_) (void)watcher_->Close(std::nullopt);
  }

  // The JSON payloads received on one channel, in order.
  std::vector<nlohmann::json> Payloads(telemetry::Channel channel) {
    std::vector<nlohmann::json> out;
    for (const auto& m : inbox_.Messages()) {
      if (m.topic == telemetry::Topic("fan-ota", channel)) out.push_back(nlohmann::json::parse(m.payload, nullptr, false));
    }
    return out;
  }

  std::vector<std::string> History() {
    std::vector<std::string> out;
    const std::string sql = "SELECT status, version FROM update_status WHERE device_id = 'fan-ota' ORDER BY id";
    for (const auto& r : QueryRows(db_, sql)) {
      out.push_back(r[0] + ":" + r[1]);
    }
    return out;
  }

  TempDir dir_;
  std::filesystem::path data_dir_;
  std::string q_;
  std::string token_;
  std::string port_;
  pid_t server_pid_ = -1;
  pid_t agent_pid_ = -1;
  std::vector<std::string> windows_;  // the replay's 200 windows, 100 CSV lines each
  std::size_t sent_ = 0;              // windows written to the agent's stdin
  int agent_exit_ = -1;
  std::unique_ptr<testsupport::MosquittoBroker> broker_;
  std::unique_ptr<mqtt::MqttLink> watcher_;
  testsupport::Inbox inbox_;
  sqlite3* db_ = nullptr;
};

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

// v1 runs until its windows reach the server; then v2 is published, and
// windows keep flowing through the whole update until the server records it
// active; then 20 more. Every window is a row (seq 1..N, no gap), the version
// switches once, from 1 to 2, and the server saw every state.
TEST_F(AgentOta, UpdatesToV2WithoutLosingAWindow) {
  Publish(1);
  StartServer();
  const int fd = StartFedAgent();
  ASSERT_GT(agent_pid_, 0);
  const auto log_text = [&] { return ReadText(dir_.path() / "agent.log"); };
  // Only v1 is published: these windows all run on it.
  ASSERT_TRUE(FeedUntil(fd, [&] {
    return ServerCount("SELECT COUNT(*) FROM inference_rows WHERE device_id = 'fan-ota'") >= 20;
  }, std::chrono::seconds(60))) << "sent " << sent_ << "\n" << log_text();
  Publish(2);
  // The check, the download, validation, the swap and the health check, all
  // while windows flow; however long the machine makes them take.
  ASSERT_TRUE(FeedUntil(fd, [&] {
    return ServerCount("SELECT COUNT(*) FROM update_status WHERE device_id = 'fan-ota' AND status = 'active'") >= 1;
  }, std::chrono::seconds(90))) << "sent " << sent_ << "\n" << log_text();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(FeedWindow(fd)) << log_text();
  ::close(fd);  // the end of the input stops the agent cleanly (final sync)
  FinishRun();
  const std::string log = log_text();
  const auto history = History();
  // Every state, in order, ending active with version 2.
  const std::vector<std::string> expected = {"pending:1", "downloading:1", "validating:1", "applying:1", "active:2"};
  ASSERT_GE(history.size(), expected.size()) << Join(history) << log;
  std::size_t at = 0;
  for (const auto& h : history) {
    if (at < expected.size() && h == expected[at]) ++at;
  }
  EXPECT_EQ(at, expected.size()) << Join(history) << log;
  EXPECT_EQ(history.back(), "active:2") << Join(history) << log;
  EXPECT_EQ(QueryText(db_, "SELECT reported_model_version FROM devices WHERE id = 'fan-ota'"), "2");
  // The rows: one per window sent, seq 1..N with no gap, version 1 then 2.
  const auto rows =
      QueryRows(db_, "SELECT seq, model_version FROM inference_rows WHERE device_id = 'fan-ota' ORDER BY seq");
  ASSERT_EQ(rows.size(), sent_) << log;
  std::int64_t last_v = 0, switches = 0;
  std::size_t on_v1 = 0, on_v2 = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(std::stoll(rows[i][0]), static_cast<std::int64_t>(i + 1));
    const std::int64_t v = std::stoll(rows[i][1]);
    EXPECT_GE(v, last_v) << "seq " << rows[i][0];
    if (last_v != 0 && v != last_v) ++switches;
    last_v = v;
    on_v1 += v == 1;
    on_v2 += v == 2;
  }
  EXPECT_EQ(std::stoll(rows.front()[1]), 1) << log;
  EXPECT_EQ(std::stoll(rows.back()[1]), 2) << log;
  EXPECT_EQ(switches, 1);
  EXPECT_EQ(on_v1 + on_v2, rows.size());
  EXPECT_GE(on_v1, 20u);  // what reached the server before v2 was published
  EXPECT_GE(on_v2, 20u);  // at least the windows sent after `active`
  EXPECT_NE(log.find("now running model version 2"), std::string::npos) << log;
  // Informational (never asserted): how long the update took here, pending to active, by the server's clock.
  const std::string took = QueryText(db_, "SELECT MAX(reported_ms) - MIN(reported_ms) FROM update_status "
                                    "WHERE device_id = 'fan-ota'");
  std::printf("%zu windows: %zu on v1, %zu on v2; history %s; pending to active in %s ms\n", rows.size(), on_v1,
              on_v2, Join(history).c_str(), took.c_str());
  // MQTT: every report on the `ota` topic, in order, ending active with 2;
  // the status after the swap carries version 2 (the last one: "offline").
  ASSERT_TRUE(inbox_.WaitFor([](const mqtt::Message& m) { return m.payload.find("\"offline\"") != std::string::npos; }));
  std::vector<std::string> ota;
  for (const auto& j : Payloads(telemetry::Channel::kOta)) {
    ota.push_back(j.value("state", "?") + ":" + std::to_string(j.value("model_version", -1)));
  }
  std::size_t seen = 0;
  for (const auto& h : ota) {
    if (seen < expected.size() && h == expected[seen]) ++seen;
  }
  EXPECT_EQ(seen, expected.size()) << Join(ota);
  const auto status = Payloads(telemetry::Channel::kStatus);
  ASSERT_FALSE(status.empty());
  EXPECT_EQ(status.front().value("model_version", -1), 1);
  EXPECT_EQ(status.back().value("model_version", -1), 2);
}

// kill -9 of edgefleet-agent at random moments of the update (three times),
// then a run to the end: every start found a valid model (none bricked), the
// server's last report says what the device runs, and the rows of all runs
// reached the server with no seq gap.
TEST_F(AgentOta, Kill9OfTheAgentDuringTheUpdateBricksNothing) {
  Publish(1);
  Publish(2);
  StartServer();
  // Three runs replaying the recording, each killed at a random moment.
  const auto replay = AgentArgs("csv:" + (dir_.path() / "replay.csv").string() + "@4000");
  std::mt19937 rng(20261206);
  for (int k = 0; k < 3; ++k) {
    const Child victim = Spawn(kAgent, replay, dir_.path() / ("agent-kill-" + std::to_string(k) + ".log"), false);
    ASSERT_GT(victim.pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 1500));
    ::kill(victim.pid, SIGKILL);
    Wait(victim.pid, std::chrono::seconds(10));
  }
  // The last run is fed until the attempt it resumed (or starts at its one
  // check) has ended on the server and 200 rows are in, however long the
  // machine makes that take; it checks only at start, so no new attempt
  // begins after.
  const int fd = StartFedAgent(/*fast_checks=*/false);
  ASSERT_GT(agent_pid_, 0);
  ASSERT_TRUE(FeedUntil(fd, [&] {
    return ServerCount("SELECT COUNT(*) FROM inference_rows WHERE device_id = 'fan-ota'") >= 200 &&
           ServerCount("SELECT COUNT(*) FROM update_status WHERE device_id = 'fan-ota' AND status IN "
                       "('active', 'rolled_back', 'failed') AND id = (SELECT MAX(id) FROM update_status "
                       "WHERE device_id = 'fan-ota')") == 1;
  }, std::chrono::seconds(120))) << ReadText(dir_.path() / "agent.log");
  ::close(fd);  // the end of the input stops the agent cleanly (final sync)
  FinishRun();
  int bricked = 0;
  std::string starts;
  for (const std::string name : {"agent-kill-0.log", "agent-kill-1.log", "agent-kill-2.log", "agent.log"}) {
    const std::string log = ReadText(dir_.path() / name);
    const auto at = log.find("OTA: startup model version ");
    if (at == std::string::npos) {
      // Killed before it logged anything at all is not a brick; a start that logged an error is.
      if (log.find("error") != std::string::npos) ++bricked;
      starts += name + ":- ";
      continue;
    }
    starts += name + ":" + log.substr(at + 27, 1) + " ";
  }
  EXPECT_EQ(bricked, 0) << starts;
  const std::string log = ReadText(dir_.path() / "agent.log");
  EXPECT_NE(log.find("OTA: startup model version "), std::string::npos) << log;
  const auto rows =
      QueryRows(db_, "SELECT seq, model_version FROM inference_rows WHERE device_id = 'fan-ota' ORDER BY seq");
  ASSERT_GE(rows.size(), 200u) << log;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    ASSERT_EQ(std::stoll(rows[i][0]), static_cast<std::int64_t>(i + 1)) << "a gap in the seqs";
  }
  const std::string running = rows.back()[1];
  const auto history = History();
  ASSERT_FALSE(history.empty());
  if (running == "2") {
    EXPECT_EQ(history.back(), "active:2") << Join(history) << starts;
  } else {
    EXPECT_TRUE(history.back() == "rolled_back:1" || history.back() == "failed:1") << Join(history) << starts;
  }
  std::printf("3 kills of edgefleet-agent; starts (log:startup version) %s; runs v%s; history %s\n", starts.c_str(),
              running.c_str(), Join(history).c_str());
}

// The last will is set at connection time: after the swap the agent renews
// it (MqttLink::RenewWill), so a kill -9 after the update makes the broker
// publish "offline" with the new version.
TEST_F(AgentOta, TheLastWillCarriesTheNewVersion) {
  Publish(1);
  Publish(2);
  StartServer();
  const int fd = StartFedAgent();
  ASSERT_GT(agent_pid_, 0);
  // Windows flow until the new version's status went out (so the link
  // reconnected with the renewed will); then kill -9.
  EXPECT_TRUE(FeedUntil(fd, [&] {
    return inbox_.Count([](const mqtt::Message& m) {
      return m.topic == telemetry::Topic("fan-ota", telemetry::Channel::kStatus) &&
             m.payload.find("\"online\"") != std::string::npos &&
             nlohmann::json::parse(m.payload, nullptr, false).value("model_version", -1) == 2;
    }) > 0;
  }, std::chrono::seconds(60))) << ReadText(dir_.path() / "agent.log");
  ::kill(agent_pid_, SIGKILL);
  Wait(agent_pid_, std::chrono::seconds(10));
  agent_pid_ = -1;
  ::close(fd);
  StopServer();
  EXPECT_TRUE(inbox_.WaitFor([](const mqtt::Message& m) {
    const auto j = nlohmann::json::parse(m.payload, nullptr, false);
    return m.topic == telemetry::Topic("fan-ota", telemetry::Channel::kStatus) && j.value("state", "") == "offline" &&
           j.value("model_version", -1) == 2;
  }, std::chrono::seconds(30))) << ReadText(dir_.path() / "agent.log");
}

TEST_F(AgentOta, WronglySignedArtifactIsRefusedAndV1KeepsRunning) {
  Publish(1);
  Publish(2);
  {  // The artifact's signature header now carries v1's signature: v2's bytes do not verify.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((data_dir_ / "edgefleet.db").c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db, "UPDATE models SET signature = (SELECT signature FROM models WHERE version = 1) "
                               "WHERE version = 2", nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_close(db);
  }
  StartServer();
  const int fd = StartFedAgent();
  ASSERT_GT(agent_pid_, 0);
  // Windows flow until the refusal reached the server (however long the
  // download takes), then 20 more (the refused v2 is not offered again).
  ASSERT_TRUE(FeedUntil(fd, [&] {
    return ServerCount("SELECT COUNT(*) FROM update_status WHERE device_id = 'fan-ota' AND status = 'failed'") >= 1;
  }, std::chrono::seconds(90))) << ReadText(dir_.path() / "agent.log");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(FeedWindow(fd));
  ::close(fd);
  FinishRun();
  const std::string log = ReadText(dir_.path() / "agent.log");
  const auto history = History();
  ASSERT_FALSE(history.empty()) << log;
  EXPECT_EQ(history.back(), "failed:1") << Join(history) << log;
  EXPECT_NE(QueryText(db_, "SELECT error FROM update_status WHERE device_id = 'fan-ota' ORDER BY id DESC LIMIT 1")
                .find("signature"), std::string::npos);
  EXPECT_EQ(QueryText(db_, "SELECT COUNT(*) FROM update_status WHERE device_id = 'fan-ota' AND status = 'active'"),
            "0");
  EXPECT_EQ(QueryText(db_, "SELECT COUNT(*) FROM inference_rows WHERE device_id = 'fan-ota' AND model_version = 1"),
            std::to_string(sent_));
  EXPECT_EQ(QueryText(db_, "SELECT COUNT(*) FROM inference_rows WHERE device_id = 'fan-ota'"), std::to_string(sent_));
  EXPECT_EQ(log.find("now running model version 2"), std::string::npos) << log;
}

}  // namespace
}  // namespace edgefleet::agent
