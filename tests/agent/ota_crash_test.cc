// Crash safety of OTA updates, table-driven (STYLE.md practice 5): the
// process is killed at every mutating filesystem step of an update (which
// covers every state and every chunk boundary of the download, and the gap
// between each chunk's write and its fsync), and at every Tick (which adds
// the health check, where nothing is written); the filesystem then drops
// whatever was not durable. After the restart the device must run a valid
// model (the new one, the backup or the built-in one), the attempt must reach
// a terminal state, and the server's last report must name the state and
// the version the device really runs.
#include <gtest/gtest.h>

#include <random>

#include "ota_harness.h"

namespace edgefleet::ota::testing {
namespace {

enum class Outcome { kHealthy, kFailsValidation, kFailsHealthCheck };

struct Scenario {
  const char* name;
  Outcome outcome;
  std::uint64_t chunk_bytes;
};

const Scenario kScenarios[] = {
    {"healthy update, 1 KiB chunks", Outcome::kHealthy, 1024},
    {"healthy update, 4 KiB chunks", Outcome::kHealthy, 4096},
    {"update failing validation", Outcome::kFailsValidation, 4096},
    {"update failing the health check", Outcome::kFailsHealthCheck, 4096},
};

std::string NewArtifact(Outcome outcome) {
  if (outcome != Outcome::kFailsValidation) return ArtifactV(3);
  core::Thresholds t;
  t.low = t.high = 0;
  return WithThresholds(ArtifactV(3), t).value();
}

// One device, one server, one update offer.
struct World {
  explicit World(const Scenario& s) : key(Key(1)), v2(ArtifactV(2)), v3(NewArtifact(s.outcome)) {
    config = TestConfig(key);
    config.chunk_bytes = s.chunk_bytes;
    fs.PutDurable(kDir / kCurrentFile, v2);
    server.Put(3, {v3, Sign(key, v3)});
    server.Offer(ManifestFor(3, v3), key);
    device = std::make_unique<Device>(fs, server, clock, config);
    device->prefeed_baseline = 50;
    if (s.outcome == Outcome::kFailsHealthCheck) device->health_latency_ms = 2.0;
  }

  common::Ed25519PrivateKey key;
  std::string v2, v3;
  OtaConfig config;
  FaultFilesystem fs;
  FakeServer server;
  FakeClock clock;
  std::unique_ptr<Device> device;
};

// What must hold after any crash: called once the attempt has ended.
void ExpectConsistent(World& w, const std::string& where) {
  SCOPED_TRACE(where);
  Device& d = *w.device;
  ASSERT_TRUE(IsTerminal(d.engine().state())) << ToString(d.engine().state());
  const auto& running = d.running();
  ASSERT_NE(running, nullptr);
  EXPECT_TRUE(running->version() == 2 || running->version() == 3) << running->version();
  if (running->version() == 3) {
    EXPECT_EQ(running->view_bytes(), w.v3);
    EXPECT_EQ(d.engine().state(), State::kCommitted);
  }
  // The server's view is the device's.
  ASSERT_FALSE(w.server.statuses().empty());
  const auto& last = w.server.statuses().back();
  EXPECT_EQ(last.at("version").get<std::int64_t>(), running->version());
  const std::string status = last.at("status");
  EXPECT_EQ(status, ServerStatus(d.engine().state()));
  // And another crash now changes nothing: what runs is what is durable.
  const std::int64_t version = running->version();
  d.Crash();
  d.Boot();
  EXPECT_EQ(d.running()->version(), version);
  EXPECT_TRUE(IsTerminal(d.engine().state()));
  // Nothing half-written is left behind.
  for (const auto& name : w.fs.Names()) {
    const std::string file = std::filesystem::path(name).filename().string();
    EXPECT_TRUE(file == kCurrentFile || file == kBackupFile || file == kStateFile ||
                file.rfind('.', 0) == 0)  // a temporary of an interrupted atomic write is never read
        << name;
    EXPECT_NE(file, kPartFile);
  }
}

class OtaCrashTest : public ::testing::TestWithParam<int> {};

TEST_P(OtaCrashTest, KilledAtEveryFilesystemStep) {
  const Scenario& s = kScenarios[GetParam()];
  std::uint64_t total_steps = 0;
  {
    World clean(s);
    clean.device->Boot();
    ASSERT_TRUE(clean.device->RunToTerminal());
    total_steps = clean.fs.steps();
  }
  ASSERT_GT(total_steps, 20u);
  for (std::uint64_t k = 0; k <= total_steps; ++k) {
    World w(s);
    w.device->Boot();
    w.fs.DieAfter(k);
    bool ended = w.device->RunToTerminal();
    State at = w.device->engine().state();
    if (w.fs.dead()) {
      w.device->Crash();
      // What the restart finds on disk decides, not what the dead process believed.
      const auto text = w.fs.ReadFile(kDir / kStateFile, 1 << 20);
      at = text.ok() ? ParseRecord(text.value()).value().state : State::kIdle;
      w.device->Boot();
      ended = w.device->RunToTerminal();
    }
    const std::string where =
        std::string(s.name) + ", killed after filesystem step " + std::to_string(k) + ", durably in " + ToString(at);
    ASSERT_TRUE(ended) << where;
    ExpectConsistent(w, where);
    // Killed while the new model was on trial (or its rollback had begun), as the record on
    // disk says: rolled back, by design; killed anywhere else, the update lands.
    const bool on_trial = at == State::kActivating || at == State::kHealthCheck || at == State::kRollingBack;
    if (s.outcome == Outcome::kHealthy) {
      if (!on_trial) {
        EXPECT_EQ(w.device->running()->version(), 3) << where;
      }

      // A resumed download fetches at most one chunk twice.
      EXPECT_LE(w.server.download_bytes_sent(), w.v3.size() + s.chunk_bytes) << where;
    }
    if (s.outcome == Outcome::kFailsValidation) {
      EXPECT_EQ(w.device->running()->version(), 2) << where;
    }
    if (::testing::Test::HasFailure()) return;
  }
}

TEST_P(OtaCrashTest, KilledAtEveryTick) {
  const Scenario& s = kScenarios[GetParam()];
  int total_ticks = 0;
  {
    World clean(s);
    clean.device->Boot();
    while (!(IsTerminal(clean.device->engine().state()) && clean.device->engine().record().attempt > 0)) {
      clean.device->Step();
      ASSERT_LT(++total_ticks, 2000);
    }
  }
  for (int t = 0; t <= total_ticks; ++t) {
    World w(s);
    w.device->Boot();
    for (int i = 0; i < t; ++i) w.device->Step();
    const State at = w.device->engine().state();
    w.device->Crash();
    w.device->Boot();
    const std::string where = std::string(s.name) + ", killed after tick " + std::to_string(t) + " in " + ToString(at);
    ASSERT_TRUE(w.device->RunToTerminal()) << where;
    ExpectConsistent(w, where);
    if (at == State::kHealthCheck || at == State::kActivating) {
      // An unclean restart while the new model is on trial is a failed trial.
      EXPECT_EQ(w.device->engine().state(), State::kRolledBack) << where;
      EXPECT_EQ(w.device->running()->version(), 2) << where;
    }
    if (::testing::Test::HasFailure()) return;
  }
}

TEST_P(OtaCrashTest, KilledAgainAndAgainDuringRecovery) {
  const Scenario& s = kScenarios[GetParam()];
  std::mt19937 rng(1234 + static_cast<unsigned>(GetParam()));
  for (int trial = 0; trial < 20; ++trial) {
    World w(s);
    w.device->Boot();
    const int crashes = 1 + static_cast<int>(rng() % 6);
    for (int c = 0; c < crashes; ++c) {
      w.fs.DieAfter(rng() % 40);
      (void)w.device->RunToTerminal(400);
      w.device->Crash();
      w.device->Boot();
    }
    const std::string where = std::string(s.name) + ", trial " + std::to_string(trial) + " with " +
                              std::to_string(crashes) + " crashes";
    ASSERT_TRUE(w.device->RunToTerminal()) << where;
    ExpectConsistent(w, where);
    if (::testing::Test::HasFailure()) return;
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, OtaCrashTest, ::testing::Range(0, static_cast<int>(std::size(kScenarios))));

TEST(OtaCrashLoop, AnAttemptThatKeepsDyingEndsFailedOnAValidModel) {
  World w(kScenarios[1]);
  w.device->Boot();
  // Die in the same place after every restart: the loop counter must end it.
  for (int restart = 0; restart < 12; ++restart) {
    w.fs.DieAfter(6);
    (void)w.device->RunToTerminal(200);
    w.device->Crash();
    w.device->Boot();
    if (IsTerminal(w.device->engine().state())) break;
  }
  ASSERT_TRUE(w.device->RunToTerminal());
  ExpectConsistent(w, "crash loop");
}

}  // namespace
}  // namespace edgefleet::ota::testing
