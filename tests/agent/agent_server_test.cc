// End to end with the real cloud: `edgefleet train` (a cloud model),
// `edgefleet device add`, `edgefleet server` on 127.0.0.1:0, a real
// Mosquitto, and the real `edgefleet-agent` replaying a CSV of the shipped
// recordings. Every inference row the agent decided is in the server's
// database exactly once (its primary key is (device, seq), so the count
// says it), fallbacks came with their hard samples, and /classify answered.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "ml/dataset.h"
#include "tests/agent/fakes.h"
#include "tests/agent/process.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/sqlite_query.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::agent {
namespace {

using testsupport::QueryInt;
using testing::Capture;
using testing::Child;
using testing::ReadText;
using testing::Spawn;
using testing::Wait;

const char* const kAgent = EDGEFLEET_AGENT_BINARY;
const char* const kCli = EDGEFLEET_CLI_BINARY;

TEST(AgentWithServer, EveryRowReachesTheRealServerExactlyOnce) {
  TempDir dir;
  const auto data_dir = dir.path() / "data";
  std::filesystem::create_directories(data_dir);
  const std::string q = " 2>>" + (dir.path() / "cli.log").string();
  // The cloud model the server answers /classify with.
  Capture(std::string(kCli) + " train --out " + (dir.path() / "models").string() + " --seed 1 --quiet >/dev/null" + q);
  ASSERT_TRUE(std::filesystem::exists(dir.path() / "models" / "cloud.efcm")) << ReadText(dir.path() / "cli.log");
  std::filesystem::copy_file(dir.path() / "models" / "cloud.efcm", data_dir / "cloud.efcm");
  Capture(std::string(kCli) + " keys generate --data-dir " + data_dir.string() + " >/dev/null" + q);
  std::string token = Capture(std::string(kCli) + " device add fan-e2e --data-dir " + data_dir.string() + q);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  ASSERT_FALSE(token.empty()) << ReadText(dir.path() / "cli.log");

  auto broker = testsupport::MosquittoBroker::Start(dir.path() / "broker");
  ASSERT_TRUE(broker.ok()) << broker.error().ToString();
  ASSERT_TRUE(broker.value()->AddDevice("fan-e2e", token).ok());

  const auto port_file = dir.path() / "port";
  const Child server = Spawn(kCli,
                             {"server", "--data-dir", data_dir.string(), "--port", "0", "--bind", "127.0.0.1",
                              "--port-file", port_file.string()},
                             dir.path() / "server.log", false);
  ASSERT_GT(server.pid, 0);
  ASSERT_TRUE(testsupport::WaitUntil([&] { return !ReadText(port_file).empty(); }, std::chrono::seconds(30)))
      << ReadText(dir.path() / "server.log");
  std::string port = ReadText(port_file);
  while (!port.empty() && port.back() == '\n') port.pop_back();

  // 150 windows of normal, anomalous and high-speed fan data.
  const auto data = ml::LoadPacked(testing::SourceDir() / "data" / "ceiling-fan.efr");
  ASSERT_TRUE(data.ok());
  const auto csv = dir.path() / "replay.csv";
  std::FILE* f = std::fopen(csv.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fprintf(f, "x,y,z\n");
  std::size_t rows = 0;
  for (const char* name : {"normal_low", "anomaly_med_weight", "normal_high"}) {
    const ml::Recording* r = data.value.Find(name);
    ASSERT_NE(r, nullptr);
    for (std::size_t i = 0; i < 5000; ++i, ++rows) {
      std::fprintf(f, "%.6f,%.6f,%.6f\n", r->counts[i * 3] / 2048.0, r->counts[i * 3 + 1] / 2048.0,
                   r->counts[i * 3 + 2] / 2048.0);
    }
  }
  std::fclose(f);
  const std::size_t windows = rows / 100;
  const auto model = testing::GoldenModel();
  std::ofstream(dir.path() / "model.efm", std::ios::binary)
      .write(reinterpret_cast<const char*>(model.data()), static_cast<std::streamsize>(model.size()));

  const Child agent = Spawn(kAgent,
                            {"--device-id", "fan-e2e", "--token", token, "--server", "http://127.0.0.1:" + port,
                             "--broker", "127.0.0.1:" + std::to_string(broker.value()->port()), "--source",
                             "csv:" + csv.string() + "@10000", "--buffer", (dir.path() / "buffer.db").string(),
                             "--model", (dir.path() / "model.efm").string(), "--strategy", "periodic",
                             "--periodic-interval-ms", "1000", "--sync-budget-bytes", "16384", "--power", "none",
                             "--shutdown-sync-timeout-ms", "20000"},
                            dir.path() / "agent.log", false);
  const int agent_exit = Wait(agent.pid, std::chrono::seconds(60));
  ::kill(server.pid, SIGTERM);
  const int server_exit = Wait(server.pid, std::chrono::seconds(30));
  ASSERT_EQ(agent_exit, 0) << ReadText(dir.path() / "agent.log");
  EXPECT_EQ(server_exit, 0) << ReadText(dir.path() / "server.log");
  const std::string agent_log = ReadText(dir.path() / "agent.log");
  EXPECT_NE(agent_log.find(" 0 pending"), std::string::npos) << agent_log;

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((data_dir / "edgefleet.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  const std::string dev = " WHERE device_id = 'fan-e2e'";
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM inference_rows" + dev), static_cast<std::int64_t>(windows)) << agent_log;
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(DISTINCT seq) FROM inference_rows" + dev), static_cast<std::int64_t>(windows));
  EXPECT_EQ(QueryInt(db, "SELECT MIN(seq) FROM inference_rows" + dev), 1);
  EXPECT_EQ(QueryInt(db, "SELECT MAX(seq) FROM inference_rows" + dev), static_cast<std::int64_t>(windows));
  // Hard samples: every row whose final confidence is below 0.7 (fallbacks,
  // and cloud answers that were not confident either).
  EXPECT_EQ(QueryInt(db, "SELECT COUNT(*) FROM hard_samples" + dev),
            QueryInt(db, "SELECT COUNT(*) FROM inference_rows" + dev + " AND confidence < 0.7"));
  const std::int64_t escalations = QueryInt(db, "SELECT COUNT(*) FROM escalations" + dev);
  EXPECT_GT(escalations, 0) << agent_log;
  EXPECT_GT(QueryInt(db, "SELECT COUNT(*) FROM inference_rows" + dev + " AND decision = 'anomaly'"), 0);
  EXPECT_GE(QueryInt(db, "SELECT COUNT(*) FROM health_stats" + dev), 1);
  sqlite3_close(db);
}

}  // namespace
}  // namespace edgefleet::agent
