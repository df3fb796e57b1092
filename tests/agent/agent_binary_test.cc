// The edgefleet-agent binary: what it links, its command line, and end to
// end: a real Mosquitto (tests/support), an HTTP server on loopback that
// decodes /api/sync with the real codec and answers /classify, and the real
// binary replaying a CSV of the shipped recordings. Every inference row
// reaches the receiving side exactly once; SIGTERM stops cleanly.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/mqtt.h"
#include "common/sync_codec.h"
#include "common/telemetry.h"
#include "ml/dataset.h"
#include "tests/agent/fakes.h"
#include "tests/agent/process.h"
#include "tests/agent/test_http_server.h"
#include "tests/support/mosquitto_broker.h"
#include "tests/support/mqtt_inbox.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::agent {
namespace {

using testing::Req;
using testing::Res;
namespace http = testing::http;

const char* const kBinary = EDGEFLEET_AGENT_BINARY;
using testing::Capture;
using testing::Child;
using testing::ReadText;
using testing::Wait;

Child Spawn(const std::vector<std::string>& args, const std::filesystem::path& log, bool pipe_stdin) {
  return testing::Spawn(kBinary, args, log, pipe_stdin);
}

TEST(AgentBinary, LinksNoServerOnlyCode) {
  const std::string ldd = Capture(std::string("ldd ") + kBinary);
  ASSERT_FALSE(ldd.empty());
  EXPECT_EQ(ldd.find("libpq"), std::string::npos) << ldd;
  EXPECT_EQ(ldd.find("pqxx"), std::string::npos) << ldd;
  const std::string nm = Capture(std::string("nm -C --defined-only ") + kBinary);
  ASSERT_NE(nm.find("edgefleet::agent::Agent::OnWindow"), std::string::npos);  // nm works on it
  for (const char* forbidden : {"edgefleet::store::", "edgefleet::ml::", "edgefleet::server::", "pqxx::",
                                "edgefleet::api::", "edgefleet::training"}) {
    EXPECT_EQ(nm.find(forbidden), std::string::npos) << forbidden;
  }
}

TEST(AgentBinary, HelpListsEveryFlagAndBadUsageExitsTwo) {
  const std::string help = Capture(std::string(kBinary) + " --help");
  for (const char* flag : {"--config", "--device-id", "--token", "--server", "--broker", "--source", "--buffer",
                           "--strategy", "--trusted-key", "--model", "--escalation-timeout-ms"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
  TempDir dir;
  auto run = [&](const std::vector<std::string>& args) {
    const Child child = Spawn(args, dir.path() / "err.log", false);
    return Wait(child.pid, std::chrono::seconds(20));
  };
  EXPECT_EQ(run({"--no-such-flag"}), 2);
  EXPECT_EQ(run({}), 2);  // no device id
  EXPECT_NE(ReadText(dir.path() / "err.log").find("--device-id"), std::string::npos);
  EXPECT_EQ(run({"--device-id", "d", "--strategy", "often"}), 2);
  // Valid usage, missing model: a failure, not a usage error. A flag wins
  // over the file.
  std::ofstream(dir.path() / "a.toml") << "device_id = \"bad/id\"\nbroker = \"\"\n";
  EXPECT_EQ(run({"--config", (dir.path() / "a.toml").string()}), 2);
  // (The buffer goes into the test's directory, not the working directory.)
  EXPECT_EQ(run({"--config", (dir.path() / "a.toml").string(), "--device-id", "ok", "--model",
                 (dir.path() / "none.efm").string(), "--buffer", (dir.path() / "buffer.db").string()}),
            1);
  EXPECT_NE(ReadText(dir.path() / "err.log").find("model"), std::string::npos);
}

// The receiving side: /api/sync with the server's idempotency, /classify.
class Receiver {
 public:
  Receiver()
      : server_([this](const Req& req, Res& res) {
          std::lock_guard<std::mutex> lock(mu_);
          res.set(http::field::content_type, "application/json");
          if (req.target() == "/classify") {
            ++classify_;
            auth_ok_ = auth_ok_ && req[http::field::authorization] == "Bearer tok-e2e";
            res.body() = R"({"classification":"anomaly","label":1,"confidence":0.9,"mse":1.0,"model_version":"c1"})";
            return true;
          }
          auto m = sync_codec::DecodeSyncMessage(req.body(), std::string(req[http::field::content_type]),
                                                 std::string(req[http::field::content_encoding]));
          if (req.target() != "/api/sync" || !m.ok()) {
            res.result(http::status::bad_request);
            res.body() = R"({"error":"invalid_argument","message":"bad sync body"})";
            return true;
          }
          ++batches_;
          device_ = m.value().device_id;
          sync::IngestResult ack;
          for (const auto& r : m.value().batch.inferences) {
            (inferences_[r.seq]++ == 0 ? ack.inferences.stored : ack.inferences.already_present).push_back(r.seq);
            rows_[r.seq] = r;
          }
          for (const auto& r : m.value().batch.hard_samples) {
            (hard_[r.seq]++ == 0 ? ack.hard_samples.stored : ack.hard_samples.already_present).push_back(r.seq);
          }
          for (const auto& r : m.value().batch.health) {
            (health_[r.seq]++ == 0 ? ack.health.stored : ack.health.already_present).push_back(r.seq);
          }
          res.body() = sync_codec::EncodeSyncAck(ack);
          return true;
        }) {}

  std::string url() const { return server_.url(); }

  mutable std::mutex mu_;
  int classify_ = 0;
  bool auth_ok_ = true;
  int batches_ = 0;
  std::string device_;
  std::map<std::int64_t, int> inferences_, hard_, health_;
  std::map<std::int64_t, sync::InferenceRow> rows_;

 private:
  testing::TestServer server_;
};

class AgentEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = testsupport::MosquittoBroker::Start(dir_.path() / "broker");
    ASSERT_TRUE(b.ok()) << b.error().ToString();
    broker_ = std::move(b).value();
    ASSERT_TRUE(broker_->AddDevice("dev-e2e", "tok-e2e").ok());
    auto link = mqtt::MqttLink::Create(testsupport::BridgeOptions(*broker_));
    ASSERT_TRUE(link.ok());
    bridge_ = std::move(link).value();
    ASSERT_TRUE(bridge_->Subscribe(telemetry::kAllDevicesFilter, mqtt::Qos::kAtLeastOnce, inbox_.Handler()).ok());
    ASSERT_TRUE(bridge_->Start().ok());
    ASSERT_TRUE(testsupport::WaitUntil([&] { return bridge_->stats().subscriptions_acked >= 1; }));
    const auto model = testing::GoldenModel();
    std::ofstream(dir_.path() / "model.efm", std::ios::binary)
        .write(reinterpret_cast<const char*>(model.data()), static_cast<std::streamsize>(model.size()));
  }

  std::vector<std::string> Args(const std::string& source, const std::string& strategy) {
    return {"--device-id", "dev-e2e", "--token", "tok-e2e", "--server", receiver_.url(),
            "--broker", "127.0.0.1:" + std::to_string(broker_->port()), "--source", source,
            "--buffer", (dir_.path() / "buffer.db").string(), "--model", (dir_.path() / "model.efm").string(),
            "--strategy", strategy, "--power", "none", "--shutdown-sync-timeout-ms", "20000",
            "--sync-budget-bytes", "16384", "--inference-mode", "every", "--status-interval-ms", "1000"};
  }

  bool OfflineStatusSeen() {
    return inbox_.WaitFor([](const mqtt::Message& m) {
      if (m.topic != "edge-ai/device/dev-e2e/status") return false;
      auto s = telemetry::ParseStatus(m.payload);
      return s.ok() && !s.value().online;
    });
  }

  TempDir dir_;
  std::unique_ptr<testsupport::MosquittoBroker> broker_;
  std::unique_ptr<mqtt::MqttLink> bridge_;
  testsupport::Inbox inbox_;
  Receiver receiver_;
};

TEST_F(AgentEndToEnd, CsvReplayEveryRowReachesTheServerExactlyOnce) {
  // 40 windows of normal_low and 40 of anomaly_low, the recordings' CSV format.
  const auto data = ml::LoadPacked(testing::SourceDir() / "data" / "ceiling-fan.efr");
  ASSERT_TRUE(data.ok());
  const auto csv = dir_.path() / "replay.csv";
  std::FILE* f = std::fopen(csv.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fprintf(f, "x,y,z\n");
  std::size_t rows = 0;
  for (const char* name : {"normal_low", "anomaly_low_weight", "normal_high"}) {
    const ml::Recording* r = data.value.Find(name);
    ASSERT_NE(r, nullptr);
    for (std::size_t i = 0; i < 4000; ++i, ++rows) {
      std::fprintf(f, "%.6f,%.6f,%.6f\n", r->counts[i * 3] / 2048.0, r->counts[i * 3 + 1] / 2048.0,
                   r->counts[i * 3 + 2] / 2048.0);
    }
  }
  std::fclose(f);
  const std::size_t windows = rows / 100;
  // Paced at 8 kHz: 120 windows in 1.5 s, so escalations are answered
  // while the replay runs; periodic sync every second.
  auto args = Args("csv:" + csv.string() + "@8000", "periodic");
  args.insert(args.end(), {"--periodic-interval-ms", "1000"});
  const Child child = Spawn(args, dir_.path() / "agent.log", false);
  ASSERT_EQ(Wait(child.pid, std::chrono::seconds(60)), 0) << ReadText(dir_.path() / "agent.log");

  std::lock_guard<std::mutex> lock(receiver_.mu_);
  EXPECT_EQ(receiver_.device_, "dev-e2e");
  ASSERT_EQ(receiver_.inferences_.size(), windows) << ReadText(dir_.path() / "agent.log");
  for (const auto& [seq, n] : receiver_.inferences_) EXPECT_EQ(n, 1) << seq;
  for (const auto& [seq, n] : receiver_.hard_) EXPECT_EQ(n, 1) << seq;
  for (const auto& [seq, n] : receiver_.health_) EXPECT_EQ(n, 1) << seq;
  EXPECT_GE(receiver_.health_.size(), 1u);
  EXPECT_GT(receiver_.classify_, 0);
  EXPECT_TRUE(receiver_.auth_ok_);
  std::size_t fallbacks = 0, anomalies = 0, cloud = 0;
  for (const auto& [seq, row] : receiver_.rows_) {
    fallbacks += row.fallback ? 1u : 0u;
    anomalies += row.decision == "anomaly" ? 1u : 0u;
    cloud += !row.fallback && row.confidence == 0.9 ? 1u : 0u;
  }
  EXPECT_EQ(receiver_.hard_.size(), fallbacks);
  EXPECT_GT(anomalies, 0u);
  EXPECT_GT(cloud, 0u);
  // MQTT: decisions and escalations were published; the retained status ends offline.
  EXPECT_TRUE(inbox_.WaitFor([](const mqtt::Message& m) { return m.topic == "edge-ai/device/dev-e2e/inference"; }));
  EXPECT_TRUE(inbox_.WaitFor([](const mqtt::Message& m) { return m.topic == "edge-ai/device/dev-e2e/escalation"; }));
  EXPECT_TRUE(OfflineStatusSeen());
  EXPECT_EQ(inbox_.Count([](const mqtt::Message& m) { return m.topic == "edge-ai/device/dev-e2e/inference"; }),
            windows);
}

TEST_F(AgentEndToEnd, SigtermStopsCleanlyWithAFinalSyncAndAnOfflineStatus) {
  const Child child = Spawn(Args("stdin", "batched"), dir_.path() / "agent.log", true);
  ASSERT_GT(child.pid, 0);
  // 12 windows of a still sensor, then the stream stays open.
  std::string lines = "x,y,z\n";
  for (int i = 0; i < 1200; ++i) lines += i % 3 ? "0.000488,-0.000977,0.999512\n" : "0.000000,0.000000,1.000000\n";
  ASSERT_EQ(::write(child.stdin_fd, lines.data(), lines.size()), static_cast<ssize_t>(lines.size()));
  ASSERT_TRUE(inbox_.WaitFor([](const mqtt::Message& m) {
    if (m.topic != "edge-ai/device/dev-e2e/status") return false;
    auto s = telemetry::ParseStatus(m.payload);
    return s.ok() && s.value().online && s.value().buffer_depth.value_or(0) >= 12;
  })) << ReadText(dir_.path() / "agent.log");
  {
    std::lock_guard<std::mutex> lock(receiver_.mu_);
    EXPECT_EQ(receiver_.batches_, 0);  // batched: nothing before the night
  }
  ::kill(child.pid, SIGTERM);
  EXPECT_EQ(Wait(child.pid, std::chrono::seconds(30)), 0) << ReadText(dir_.path() / "agent.log");
  ::close(child.stdin_fd);
  EXPECT_NE(ReadText(dir_.path() / "agent.log").find("SIGTERM"), std::string::npos);
  std::lock_guard<std::mutex> lock(receiver_.mu_);
  EXPECT_EQ(receiver_.inferences_.size(), 12u);
  EXPECT_EQ(receiver_.health_.size(), 1u);
  EXPECT_TRUE(OfflineStatusSeen());
}

}  // namespace
}  // namespace edgefleet::agent
