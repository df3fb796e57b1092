// The edge agent never loses a row, proved with real kill -9 (SPEC section 7):
// the real `edgefleet server` on 127.0.0.1:0 (with a trained cloud model, so
// ambiguous windows are escalated and wait in the buffer as provisional
// rows) and the real `edgefleet-agent` replaying a CSV at 200 times real
// time with a small sync budget, so it syncs all the time, killed with
// SIGKILL at seeded random moments EDGEFLEET_AGENT_KILLS times (default 50;
// bench/agent_kill.sh runs more) and restarted on the same buffer; then a
// clean run drains everything. Every seq the agent ever assigned (the
// buffer's AUTOINCREMENT counter says how many) is on the server exactly
// once, with the buffer's final decision and fallback flag; nothing is
// pending or provisional; the server counted each row once. Every fifth kill
// lands while the server is frozen (SIGSTOP), so escalations are in flight:
// those provisional rows must reach the server as fallbacks.
//
// And the disk budget: an agent offline with a buffer over its budget drops
// rows by the documented policy, reports the counts (ReportState, the device
// state of every sync message, the MQTT status) and the server shows them
// after the next sync.
#include <signal.h>
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "agent/buffer.h"
#include "common/mqtt.h"
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

namespace fs = std::filesystem;
using testsupport::QueryInt;
using testing::Capture;
using testing::Child;
using testing::ReadText;
using testing::Spawn;
using testing::Wait;

const char* const kAgent = EDGEFLEET_AGENT_BINARY;
const char* const kCli = EDGEFLEET_CLI_BINARY;
const char* const kDevice = "fan-kill";

// seq -> "decision/fallback" for every row of a query (seq, decision, fallback).
std::map<std::int64_t, std::string> Rows(sqlite3* db, const std::string& sql) {
  std::map<std::int64_t, std::string> out;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return out;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
    out[sqlite3_column_int64(stmt, 0)] =
        std::string(text ? text : "") + "/" + std::to_string(sqlite3_column_int64(stmt, 2));
  }
  sqlite3_finalize(stmt);
  return out;
}

sqlite3* OpenReadOnly(const fs::path& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return nullptr;
  }
  return db;
}

// The real cloud: a data dir with one device (and the cloud model when
// asked), `edgefleet server` on 127.0.0.1:0; stopped by pid with SIGTERM.
class RealCloud {
 public:
  void Start(const fs::path& dir, bool with_cloud_model) {
    dir_ = dir;
    data_dir_ = dir / "data";
    fs::create_directories(data_dir_);
    const std::string q = " 2>>" + (dir / "cli.log").string();
    if (with_cloud_model) {
      Capture(std::string(kCli) + " train --out " + (dir / "models").string() + " --seed 1 --quiet >/dev/null" + q);
      ASSERT_TRUE(fs::exists(dir / "models" / "cloud.efcm")) << ReadText(dir / "cli.log");
      fs::copy_file(dir / "models" / "cloud.efcm", data_dir_ / "cloud.efcm");
    }
    Capture(std::string(kCli) + " keys generate --data-dir " + data_dir_.string() + " >/dev/null" + q);
    token_ = Capture(std::string(kCli) + " device add " + kDevice + " --data-dir " + data_dir_.string() + q);
    while (!token_.empty() && (token_.back() == '\n' || token_.back() == '\r')) token_.pop_back();
    ASSERT_FALSE(token_.empty()) << ReadText(dir / "cli.log");
    const fs::path port_file = dir / "port";
    server_ = Spawn(kCli,
                    {"server", "--data-dir", data_dir_.string(), "--port", "0", "--bind", "127.0.0.1",
                     "--port-file", port_file.string()},
                    dir / "server.log", false);
    ASSERT_GT(server_.pid, 0);
    ASSERT_TRUE(testsupport::WaitUntil([&] { return !ReadText(port_file).empty(); }, std::chrono::seconds(30)))
        << ReadText(dir / "server.log");
    port_ = ReadText(port_file);
    while (!port_.empty() && port_.back() == '\n') port_.pop_back();
  }
  // Stops the server; its exit status.
  int Stop() {
    if (server_.pid <= 0) return 0;
    ::kill(server_.pid, SIGTERM);
    const int status = Wait(server_.pid, std::chrono::seconds(30));
    server_.pid = -1;
    return status;
  }
  // Stops or resumes the server process (a cloud that does not answer for a while).
  void Freeze(bool frozen) const {
    if (server_.pid > 0) ::kill(server_.pid, frozen ? SIGSTOP : SIGCONT);
  }
  ~RealCloud() { Stop(); }

  std::string url() const { return "http://127.0.0.1:" + port_; }
  const std::string& token() const { return token_; }
  fs::path db_path() const { return data_dir_ / "edgefleet.db"; }
  std::string server_log() const { return ReadText(dir_ / "server.log"); }

 private:
  fs::path dir_, data_dir_;
  std::string token_, port_;
  Child server_;
};

// A CSV of `repeat` passes over normal, anomalous and high-speed fan data
// (150 windows a pass), the model file, in `dir`.
void WriteInputs(const fs::path& dir, int repeat) {
  const auto data = ml::LoadPacked(testing::SourceDir() / "data" / "ceiling-fan.efr");
  ASSERT_TRUE(data.ok());
  std::FILE* f = std::fopen((dir / "replay.csv").c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fprintf(f, "x,y,z\n");
  for (int pass = 0; pass < repeat; ++pass) {
    for (const char* name : {"normal_low", "anomaly_med_weight", "normal_high"}) {
      const ml::Recording* r = data.value.Find(name);
      ASSERT_NE(r, nullptr);
      for (std::size_t i = 0; i < 5000; ++i) {
        std::fprintf(f, "%.6f,%.6f,%.6f\n", r->counts[i * 3] / 2048.0, r->counts[i * 3 + 1] / 2048.0,
                     r->counts[i * 3 + 2] / 2048.0);
      }
    }
  }
  std::fclose(f);
  const auto model = testing::GoldenModel();
  std::ofstream(dir / "model.efm", std::ios::binary)
      .write(reinterpret_cast<const char*>(model.data()), static_cast<std::streamsize>(model.size()));
}

std::vector<std::string> AgentArgs(const fs::path& dir, const RealCloud& cloud, const std::string& server_url,
                                   const std::string& source, const std::string& budget) {
  return {"--device-id", kDevice, "--token", cloud.token(), "--server", server_url, "--broker", "",
          "--source", source, "--buffer", (dir / "buffer.db").string(), "--model", (dir / "model.efm").string(),
          "--strategy", "periodic", "--periodic-interval-ms", "1", "--sync-check-interval-ms", "10",
          "--sync-retry-ms", "100", "--sync-budget-bytes", "4096", "--health-interval-ms", "1000",
          "--buffer-disk-budget-bytes", budget, "--power", "none", "--shutdown-sync-timeout-ms", "20000"};
}

TEST(AgentKill, Sigkill50TimesDuringSyncLosesNoRowAndStoresNoneTwice) {
  int kills = 50;
  if (const char* env = std::getenv("EDGEFLEET_AGENT_KILLS")) kills = std::max(1, std::atoi(env));
  TempDir dir;
  RealCloud cloud;
  ASSERT_NO_FATAL_FAILURE(cloud.Start(dir.path(), true));
  ASSERT_NO_FATAL_FAILURE(WriteInputs(dir.path(), 1));
  // 200 times real time: a pass of 150 windows takes 0.75 s, longer than any kill delay.
  const std::string source = "csv:" + (dir.path() / "replay.csv").string() + "@20000";
  const auto args = AgentArgs(dir.path(), cloud, cloud.url(), source, "67108864");

  std::mt19937 rng(20261206);
  int frozen_rounds = 0;
  for (int round = 0; round < kills; ++round) {
    const Child agent = Spawn(kAgent, args, dir.path() / "agent.log", false);
    ASSERT_GT(agent.pid, 0);
    const int delay_ms = 30 + static_cast<int>(rng() % 470);
    // Every fifth round the cloud is slow: the server is frozen (SIGSTOP) for
    // the last 150 ms before the kill, so escalations (and a sync) are in
    // flight when it lands; it resumes after, and may then store a batch the
    // dead agent never saw acknowledged.
    const bool slow_cloud = round % 5 == 4;
    if (slow_cloud) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      cloud.Freeze(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
      ++frozen_rounds;
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    }
    ASSERT_EQ(::kill(agent.pid, SIGKILL), 0);
    if (slow_cloud) cloud.Freeze(false);
    int status = 0;
    ASSERT_EQ(::waitpid(agent.pid, &status, 0), agent.pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round << ": the agent exited by itself\n"
                                     << ReadText(dir.path() / "agent.log");
  }
  // A clean run: replays once more, stops at the end of the source and drains.
  const Child last = Spawn(kAgent, args, dir.path() / "agent.log", false);
  ASSERT_EQ(Wait(last.pid, std::chrono::seconds(60)), 0) << ReadText(dir.path() / "agent.log");
  const std::string agent_log = ReadText(dir.path() / "agent.log");
  EXPECT_NE(agent_log.find(" 0 pending"), std::string::npos) << agent_log;
  EXPECT_EQ(cloud.Stop(), 0) << cloud.server_log();

  sqlite3* buffer = OpenReadOnly(dir.path() / "buffer.db");
  ASSERT_NE(buffer, nullptr);
  sqlite3* server = OpenReadOnly(cloud.db_path());
  ASSERT_NE(server, nullptr);
  // Every seq the buffer ever assigned is still in it (nothing was dropped)...
  const std::int64_t assigned = QueryInt(buffer, "SELECT seq FROM sqlite_sequence WHERE name = 'inferences'");
  const auto agent_rows = Rows(buffer, "SELECT seq, decision, fallback FROM inferences");
  EXPECT_EQ(static_cast<std::int64_t>(agent_rows.size()), assigned);
  EXPECT_EQ(QueryInt(buffer, "SELECT count(*) FROM inferences WHERE synced = 0 OR provisional = 1"), 0);
  EXPECT_EQ(QueryInt(buffer, "SELECT count(*) FROM hard_samples WHERE synced = 0 OR provisional = 1"), 0);
  EXPECT_EQ(QueryInt(buffer, "SELECT count(*) FROM health WHERE synced = 0"), 0);
  EXPECT_EQ(QueryInt(buffer, "SELECT coalesce(sum(value), 0) FROM counters WHERE name LIKE 'dropped%'"), 0);
  // ... and on the server exactly once, as the buffer decided it.
  const std::string dev = " WHERE device_id = '" + std::string(kDevice) + "'";
  const auto server_rows = Rows(server, "SELECT seq, decision, fallback FROM inference_rows" + dev);
  std::size_t lost = 0;
  std::size_t differ = 0;
  for (const auto& [seq, row] : agent_rows) {
    const auto it = server_rows.find(seq);
    if (it == server_rows.end()) {
      ++lost;
      ADD_FAILURE() << "inference seq " << seq << " is not on the server";
    } else if (it->second != row) {
      ++differ;
      ADD_FAILURE() << "inference seq " << seq << ": server " << it->second << ", agent " << row;
    }
  }
  // Stored twice would be a row the agent has under two seqs, or a seq the
  // agent never assigned (the key (device, seq) holds each seq once).
  std::size_t extra = 0;
  for (const auto& [seq, row] : server_rows) extra += agent_rows.contains(seq) ? 0u : 1u;
  EXPECT_EQ(extra, 0u) << "rows on the server the agent does not have";
  EXPECT_EQ(Rows(server, "SELECT seq, decision, fallback FROM hard_samples" + dev),
            Rows(buffer, "SELECT seq, decision, fallback FROM hard_samples"));
  EXPECT_EQ(Rows(server, "SELECT seq, '', 0 FROM health_stats" + dev), Rows(buffer, "SELECT seq, '', 0 FROM health"));
  // The server counted every row once: newly stored rows, all kinds, equal what it holds.
  const std::int64_t held = QueryInt(server, "SELECT (SELECT count(*) FROM inference_rows" + dev +
                                            ") + (SELECT count(*) FROM hard_samples" + dev +
                                            ") + (SELECT count(*) FROM health_stats" + dev + ")");
  EXPECT_EQ(QueryInt(server, "SELECT rows_synced FROM devices WHERE id = '" + std::string(kDevice) + "'"), held);
  const std::int64_t released = QueryInt(buffer, "SELECT coalesce(max(value), 0) FROM counters "
                                            "WHERE name = 'released_provisional'");
  const std::int64_t unclean = QueryInt(buffer, "SELECT value FROM counters WHERE name = 'unclean_restarts'");
  const std::int64_t escalated = QueryInt(server, "SELECT count(*) FROM escalations" + dev);
  EXPECT_GT(escalated, 0) << "no window was escalated: the provisional path was not exercised";
  EXPECT_GT(unclean, kills / 2);
  // Kills with escalations in flight happened, and those rows went up as fallbacks.
  if (frozen_rounds >= 5) {
    EXPECT_GT(released, 0) << "no kill landed on an escalation in flight";
  }
  std::printf("agent kill -9: %d kills, %lld unclean restarts, %zu inference rows (%lld hard samples, %lld health), "
              "%lld escalations answered, %d kills with the cloud frozen, %lld in-flight escalations released as fallbacks, lost %zu, "
              "duplicates %zu, changed %zu\n",
              kills, static_cast<long long>(unclean), agent_rows.size(),
              static_cast<long long>(QueryInt(buffer, "SELECT count(*) FROM hard_samples")),
              static_cast<long long>(QueryInt(buffer, "SELECT count(*) FROM health")),
              static_cast<long long>(escalated),
              frozen_rounds, static_cast<long long>(released), lost, extra, differ);
  sqlite3_close(buffer);
  sqlite3_close(server);
}

TEST(AgentKill, OverTheDiskBudgetDropCountsAreReportedAndReachTheServer) {
  TempDir dir;
  RealCloud cloud;
  ASSERT_NO_FATAL_FAILURE(cloud.Start(dir.path(), false));
  ASSERT_NO_FATAL_FAILURE(WriteInputs(dir.path(), 4));
  // Offline (nothing listens on port 1), with a budget the 600 windows do not
  // fit in: an empty buffer takes 14 pages of 4 KiB, the replay's 88 hard
  // samples about 30 more and its 600 inference rows about 16. The budget
  // drops to 90% of 224 KiB (50 pages), so inference rows must go, and the
  // hard samples fit with 6 pages to spare: by policy none of them is dropped.
  // (At the 64 KiB minimum everything goes, and which kind a last row is
  // decides the end state; the order itself is buffer_test's.)
  constexpr std::int64_t kBudget = 224 * 1024;
  auto offline = AgentArgs(dir.path(), cloud, "http://127.0.0.1:1", "csv:" + (dir.path() / "replay.csv").string() + "@0",
                           std::to_string(kBudget));
  const Child first = Spawn(kAgent, offline, dir.path() / "agent1.log", false);
  ASSERT_EQ(Wait(first.pid, std::chrono::seconds(60)), 0) << ReadText(dir.path() / "agent1.log");

  std::int64_t dropped = 0;
  {
    auto buffer = Buffer::Open(dir.path() / "buffer.db");
    ASSERT_TRUE(buffer.ok()) << buffer.error().ToString();
    auto state = buffer.value()->ReportState();
    ASSERT_TRUE(state.ok());
    auto stats = buffer.value()->Stats();
    ASSERT_TRUE(stats.ok());
    // The policy: pending logs go before pending hard samples.
    EXPECT_GT(state->dropped_inferences, 0);
    EXPECT_EQ(state->dropped_inferences, stats->dropped.inferences);
    EXPECT_EQ(state->dropped_hard_samples, stats->dropped.hard_samples);
    EXPECT_EQ(state->dropped_health, stats->dropped.health);
    EXPECT_EQ(state->dropped_hard_samples, 0);
    EXPECT_GT(stats->pending_hard_samples, 0);
    EXPECT_GT(stats->pending_inferences, 0);
    dropped = stats->dropped.total();
    EXPECT_LE(stats->used_bytes, kBudget);
    ASSERT_TRUE(buffer.value()->Close().ok());
  }

  // Back online, reading nothing (an idle stdin): the next sync carries the
  // counts, and so does the status on a real Mosquitto.
  auto broker = testsupport::MosquittoBroker::Start(dir.path() / "broker");
  ASSERT_TRUE(broker.ok()) << broker.error().ToString();
  ASSERT_TRUE(broker.value()->AddDevice(kDevice, cloud.token()).ok());
  auto link = mqtt::MqttLink::Create(testsupport::BridgeOptions(*broker.value()));
  ASSERT_TRUE(link.ok());
  testsupport::Inbox inbox;
  ASSERT_TRUE(link.value()->Subscribe(telemetry::kAllDevicesFilter, mqtt::Qos::kAtLeastOnce, inbox.Handler()).ok());
  ASSERT_TRUE(link.value()->Start().ok());
  ASSERT_TRUE(testsupport::WaitUntil([&] { return link.value()->stats().subscriptions_acked >= 1; }));
  auto online = AgentArgs(dir.path(), cloud, cloud.url(), "stdin", std::to_string(kBudget));
  for (std::size_t i = 0; i + 1 < online.size(); ++i) {
    if (online[i] == "--broker") online[i + 1] = "127.0.0.1:" + std::to_string(broker.value()->port());
  }
  online.insert(online.end(), {"--status-interval-ms", "1000"});
  const Child second = Spawn(kAgent, online, dir.path() / "agent2.log", true);
  ASSERT_GT(second.pid, 0);
  const bool seen = inbox.WaitFor(
      [&](const mqtt::Message& m) {
        if (m.topic != telemetry::Topic(kDevice, telemetry::Channel::kStatus)) return false;
        auto status = telemetry::ParseStatus(m.payload);
        return status.ok() && status.value().dropped_rows == dropped;
      },
      std::chrono::seconds(20));
  // Stop it (SIGTERM): the final sync leaves nothing pending.
  ::kill(second.pid, SIGTERM);
  ::close(second.stdin_fd);
  ASSERT_EQ(Wait(second.pid, std::chrono::seconds(60)), 0) << ReadText(dir.path() / "agent2.log");
  EXPECT_TRUE(seen) << "no status with dropped_rows " << dropped;
  EXPECT_NE(ReadText(dir.path() / "agent2.log").find(" 0 pending"), std::string::npos)
      << ReadText(dir.path() / "agent2.log");
  EXPECT_EQ(cloud.Stop(), 0) << cloud.server_log();
  sqlite3* server = OpenReadOnly(cloud.db_path());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(QueryInt(server, "SELECT dropped_rows FROM devices WHERE id = '" + std::string(kDevice) + "'"), dropped);
  sqlite3_close(server);
}

}  // namespace
}  // namespace edgefleet::agent
