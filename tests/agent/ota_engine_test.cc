// The OTA engine's behaviour over the fakes: a whole update, every kind of
// refusal, validation and health-check rollbacks, disk full, offline
// reports, resumed downloads, threshold-only updates, key rotation.
#include <gtest/gtest.h>

#include "ota_harness.h"

namespace edgefleet::ota::testing {
namespace {

std::vector<std::string> Statuses(const FakeServer& server) {
  std::vector<std::string> out;
  for (const auto& s : server.statuses()) out.push_back(s.at("status").get<std::string>());
  return out;
}

class OtaEngineTest : public ::testing::Test {
 protected:
  OtaEngineTest() : key_(Key(1)), device_(fs_, server_, clock_, TestConfig(key_)) {}

  // The device runs v2 from current.efm; the server offers v3.
  void SetUpV2OfferV3(std::string v3 = ArtifactV(3)) {
    fs_.PutDurable(kDir / kCurrentFile, v2_);
    v3_ = v3;
    server_.Put(3, {v3_, Sign(key_, v3_)});
    server_.Offer(ManifestFor(3, v3_), key_);
    device_.Boot();
    ASSERT_EQ(device_.running()->version(), 2);
  }

  void ExpectStillV2(const std::string& reason_part) {
    EXPECT_EQ(device_.engine().state(), State::kFailed);
    EXPECT_EQ(device_.running()->version(), 2);
    EXPECT_EQ(fs_.ReadFile(kDir / kCurrentFile, 1 << 20).value(), v2_);
    ASSERT_FALSE(server_.statuses().empty());
    const auto& last = server_.statuses().back();
    EXPECT_EQ(last.at("status"), "failed");
    EXPECT_EQ(last.at("version"), 2);
    EXPECT_NE(last.at("error").get<std::string>().find(reason_part), std::string::npos) << last.dump();
    EXPECT_FALSE(fs_.Exists(kDir / kPartFile));
  }

  common::Ed25519PrivateKey key_;
  FaultFilesystem fs_;
  FakeServer server_;
  FakeClock clock_;
  Device device_;
  std::string v2_ = ArtifactV(2);
  std::string v3_;
};

TEST_F(OtaEngineTest, FreshDeviceRunsTheBuiltinModel) {
  device_.Boot();
  EXPECT_EQ(device_.running()->source(), ModelSource::kBuiltin);
  EXPECT_EQ(device_.running()->view_bytes(), BuiltinModelBytes());
}

TEST_F(OtaEngineTest, WholeUpdateCommitsAndReportsEveryStepInOrder) {
  SetUpV2OfferV3();
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kCommitted);
  EXPECT_EQ(device_.running()->version(), 3);
  EXPECT_EQ(device_.activations, 1);
  EXPECT_EQ(fs_.ReadFile(kDir / kCurrentFile, 1 << 20).value(), v3_);
  EXPECT_EQ(fs_.ReadFile(kDir / kBackupFile, 1 << 20).value(), v2_);
  EXPECT_FALSE(fs_.Exists(kDir / kPartFile));
  const std::vector<std::string> expected = {"pending",  "downloading", "validating", "validating",
                                             "applying", "applying",    "applying",   "active"};
  EXPECT_EQ(Statuses(server_), expected);
  std::uint64_t seq = 0;
  for (const auto& s : server_.statuses()) {
    EXPECT_GT(s.at("seq").get<std::uint64_t>(), seq);
    seq = s.at("seq").get<std::uint64_t>();
    EXPECT_EQ(s.at("device_id"), "dev-1");
    EXPECT_EQ(s.at("target_version"), 3);
  }
  EXPECT_EQ(server_.statuses().back().at("version"), 3);
  EXPECT_TRUE(server_.statuses().back().at("error").is_null());
  // The next checks find nothing new: no more reports.
  for (int i = 0; i < 100; ++i) device_.Step();
  EXPECT_EQ(server_.statuses().size(), expected.size());
  // A restart runs the new model from disk.
  device_.CleanRestart();
  EXPECT_EQ(device_.running()->version(), 3);
}

// Regression: checks after a committed update counted as the attempt's
// transitions, and after 32 of them the loop limit reported `failed`.
TEST_F(OtaEngineTest, DaysOfChecksAfterAnUpdateReportNothing) {
  SetUpV2OfferV3();
  ASSERT_TRUE(device_.RunToTerminal());
  const std::size_t reports = server_.statuses().size();
  for (int i = 0; i < 30'000; ++i) device_.Step();  // 10 s per step: about 3.5 days
  EXPECT_EQ(server_.statuses().size(), reports);
  EXPECT_EQ(device_.running()->version(), 3);
}

TEST_F(OtaEngineTest, ChecksEveryFiveMinutesWithJitter) {
  device_.Boot();
  std::vector<std::int64_t> gaps;
  std::int64_t last_check = -1;
  for (int i = 0; i < 400 && gaps.size() < 10; ++i) {
    const std::int64_t before = clock_.now_ms;
    const std::int64_t due = device_.engine().Tick();
    if (due > before + 60'000) {  // a check happened and the next is scheduled
      if (last_check >= 0 && before != last_check) gaps.push_back(due - before);
      last_check = before;
      clock_.now_ms = due;
    } else {
      clock_.now_ms = std::max(due, before + 1);
    }
  }
  ASSERT_GE(gaps.size(), 5u);
  bool varied = false;
  for (const auto g : gaps) {
    EXPECT_GE(g, 270'000);
    EXPECT_LE(g, 330'000);
    varied = varied || g != gaps.front();
  }
  EXPECT_TRUE(varied);
}

struct BadArtifact {
  const char* name;
  std::function<void(FakeServer&, const common::Ed25519PrivateKey&, const std::string& v3)> serve;
  const char* reason;
};

class OtaRefusalTest : public OtaEngineTest, public ::testing::WithParamInterface<int> {};

const BadArtifact kBadArtifacts[] = {
    {"truncated",
     [](FakeServer& s, const common::Ed25519PrivateKey& k, const std::string& v3) {
       const std::string cut = v3.substr(0, v3.size() - 100);
       s.Put(3, {cut, Sign(k, cut)});
     },
     "manifest says"},
    {"corrupted",
     [](FakeServer& s, const common::Ed25519PrivateKey& k, const std::string& v3) {
       std::string bad = v3;
       bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0x40);
       s.Put(3, {bad, Sign(k, bad)});
     },
     "sha256"},
    {"wrongly signed",
     [](FakeServer& s, const common::Ed25519PrivateKey&, const std::string& v3) { s.Put(3, {v3, Sign(Key(9), v3)}); },
     "signature does not verify"},
    {"unsigned", [](FakeServer& s, const common::Ed25519PrivateKey&, const std::string& v3) { s.Put(3, {v3, ""}); },
     "unsigned"},
    {"manifest wrongly signed",
     [](FakeServer& s, const common::Ed25519PrivateKey&, const std::string& v3) {
       s.Offer(ManifestFor(3, v3), Key(9));
     },
     "manifest's signature"},
    {"manifest needs more RAM",
     [](FakeServer& s, const common::Ed25519PrivateKey& k, const std::string& v3) {
       auto m = ManifestFor(3, v3);
       m.min_device_ram_mb = 4096;
       s.Offer(m, k);
     },
     "RAM"},
    {"manifest needs newer firmware",
     [](FakeServer& s, const common::Ed25519PrivateKey& k, const std::string& v3) {
       auto m = ManifestFor(3, v3);
       m.min_firmware_version = "1.10.0";
       s.Offer(m, k);
     },
     "firmware"},
    {"artifact of another version",
     [](FakeServer& s, const common::Ed25519PrivateKey& k, const std::string&) {
       const std::string v4 = ArtifactV(4);
       s.Put(3, {v4, Sign(k, v4)});
       s.Offer(ManifestFor(3, v4), k);
     },
     "version"},
};

TEST_P(OtaRefusalTest, IsRefusedReportedWithAReasonAndTheOldModelStays) {
  const BadArtifact& bad = kBadArtifacts[GetParam()];
  SCOPED_TRACE(bad.name);
  SetUpV2OfferV3();
  bad.serve(server_, key_, v3_);
  ASSERT_TRUE(device_.RunToTerminal());
  ExpectStillV2(bad.reason);
  EXPECT_EQ(device_.activations, 0);
  // The same artifact is not tried again at the next checks.
  const std::size_t reports = server_.statuses().size();
  for (int i = 0; i < 200; ++i) device_.Step();
  EXPECT_EQ(server_.statuses().size(), reports);
}

INSTANTIATE_TEST_SUITE_P(Artifacts, OtaRefusalTest,
                         ::testing::Range(0, static_cast<int>(std::size(kBadArtifacts))));

TEST_F(OtaEngineTest, KeyRotationAcceptsAnyTrustedKey) {
  const auto next_key = Key(2);
  OtaConfig config = TestConfig(key_);
  config.trusted_keys.push_back(next_key.public_key());
  Device device(fs_, server_, clock_, config);
  fs_.PutDurable(kDir / kCurrentFile, v2_);
  const std::string v3 = ArtifactV(3);
  server_.Put(3, {v3, Sign(next_key, v3)});
  server_.Offer(ManifestFor(3, v3), next_key);
  device.Boot();
  ASSERT_TRUE(device.RunToTerminal());
  EXPECT_EQ(device.engine().state(), State::kCommitted);
  EXPECT_EQ(device.running()->version(), 3);
}

TEST_F(OtaEngineTest, ModelFailingValidationIsNeverSwappedIn) {
  core::Thresholds everything_anomalous;
  everything_anomalous.low = 0;
  everything_anomalous.high = 0;
  SetUpV2OfferV3(WithThresholds(ArtifactV(3), everything_anomalous).value());
  ASSERT_TRUE(device_.RunToTerminal());
  ExpectStillV2("validation");
  EXPECT_EQ(device_.activations, 0);
}

TEST_F(OtaEngineTest, DoubledLatencyInTheHealthCheckRollsBack) {
  SetUpV2OfferV3();
  for (int i = 0; i < 50; ++i) device_.engine().RecordInference(1.0, core::Zone::kNormal, false);  // v2's baseline
  device_.latency_ms = 2.0;
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kRolledBack);
  EXPECT_EQ(device_.running()->version(), 2);
  EXPECT_EQ(device_.activations, 2);  // v3, then v2 again
  EXPECT_EQ(fs_.ReadFile(kDir / kCurrentFile, 1 << 20).value(), v2_);
  const auto& last = server_.statuses().back();
  EXPECT_EQ(last.at("status"), "rolled_back");
  EXPECT_EQ(last.at("version"), 2);
  EXPECT_NE(last.at("error").get<std::string>().find("latency"), std::string::npos);
  // Never "active" for v3: the server never believed the device ran it.
  for (const auto& s : server_.statuses()) EXPECT_NE(s.at("status"), "active");
  device_.CleanRestart();
  EXPECT_EQ(device_.running()->version(), 2);
}

TEST_F(OtaEngineTest, ErrorsInTheHealthCheckRollBackEarly) {
  SetUpV2OfferV3();
  while (device_.engine().state() != State::kHealthCheck) device_.Step();
  for (int i = 0; i < 10; ++i) device_.engine().RecordInference(0, core::Zone::kNormal, true);
  device_.Step();  // judged at once, long before the period ends
  EXPECT_EQ(device_.engine().state(), State::kRollingBack);
  device_.Step();
  EXPECT_EQ(device_.engine().state(), State::kRolledBack);
  EXPECT_EQ(device_.running()->version(), 2);
}

TEST_F(OtaEngineTest, ActivationRefusedByTheAgentRollsBack) {
  SetUpV2OfferV3();
  device_.refuse_activation = true;
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kRolledBack);
  EXPECT_EQ(fs_.ReadFile(kDir / kCurrentFile, 1 << 20).value(), v2_);
}

TEST_F(OtaEngineTest, AgentStoppingDuringActivationIsNotTheModelsFault) {
  // SIGTERM while the swap is posted to the agent's loop: the engine stays in
  // activating (no rollback, v3 not refused); after the restart v3 runs and
  // the attempt commits.
  SetUpV2OfferV3();
  device_.agent_stopping = true;
  while (device_.engine().state() != State::kActivating) device_.Step();
  for (int i = 0; i < 5; ++i) device_.Step();
  EXPECT_EQ(device_.engine().state(), State::kActivating);
  device_.agent_stopping = false;
  device_.CleanRestart();
  EXPECT_EQ(device_.running()->version(), 3);
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kCommitted);
  for (const auto& s : server_.statuses()) EXPECT_NE(s.at("status"), "rolled_back");
  EXPECT_EQ(server_.statuses().back().at("status"), "active");
  EXPECT_EQ(server_.statuses().back().at("version"), 3);
}

TEST_F(OtaEngineTest, UncleanRestartDuringTheHealthCheckRollsBack) {
  SetUpV2OfferV3();
  while (device_.engine().state() != State::kHealthCheck) device_.Step();
  device_.Crash();
  device_.Boot();
  EXPECT_EQ(device_.running()->version(), 2);  // the suspect model never runs again
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kRolledBack);
  EXPECT_EQ(server_.statuses().back().at("status"), "rolled_back");
  EXPECT_EQ(server_.statuses().back().at("version"), 2);
}

TEST_F(OtaEngineTest, CleanRestartDuringTheHealthCheckContinuesIt) {
  SetUpV2OfferV3();
  while (device_.engine().state() != State::kHealthCheck) device_.Step();
  device_.CleanRestart();
  EXPECT_EQ(device_.running()->version(), 3);
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kCommitted);
}

TEST_F(OtaEngineTest, DiskFullDuringDownloadFailsCleanly) {
  fs_.set_capacity(v2_.size() + 8 * 1024);  // room for v2 and part of v3, not all of it
  fs_.set_reported_free(1u << 30);          // the free-space check passes; the disk fills later
  SetUpV2OfferV3();
  ASSERT_TRUE(device_.RunToTerminal());
  ExpectStillV2("disk full");
  // Nothing half-written: only the model and the engine's own files remain.
  for (const auto& name : fs_.Names()) {
    const std::string file = std::filesystem::path(name).filename().string();
    EXPECT_TRUE(file == kCurrentFile || file == kStateFile) << name;
  }
}

TEST_F(OtaEngineTest, NotEnoughFreeSpaceIsRefusedBeforeDownloading) {
  fs_.set_capacity(v2_.size() + 8 * 1024);
  SetUpV2OfferV3();
  ASSERT_TRUE(device_.RunToTerminal());
  ExpectStillV2("free space");
  EXPECT_EQ(server_.download_requests(), 0u);
}

TEST_F(OtaEngineTest, ReportsMadeOfflineArriveInOrderLater) {
  server_.status_offline = true;
  SetUpV2OfferV3();
  for (int i = 0; i < 300 && device_.engine().state() != State::kCommitted; ++i) device_.Step();
  ASSERT_EQ(device_.engine().state(), State::kCommitted);
  EXPECT_TRUE(server_.statuses().empty());
  EXPECT_EQ(device_.engine().reports().pending().size(), 8u);
  // The process restarts while still offline: the queue is on disk.
  device_.Crash();
  device_.Boot();
  EXPECT_EQ(device_.engine().reports().pending().size(), 8u);
  server_.status_offline = false;
  for (int i = 0; i < 20; ++i) device_.Step();
  EXPECT_TRUE(device_.engine().reports().pending().empty());
  const std::vector<std::string> expected = {"pending",  "downloading", "validating", "validating",
                                             "applying", "applying",    "applying",   "active"};
  EXPECT_EQ(Statuses(server_), expected);
  EXPECT_EQ(server_.statuses().back().at("version"), 3);
}

class FakeMqtt final : public OtaTelemetry {
 public:
  bool PublishOta(const Report& report) override {
    if (!connected) return false;
    payloads.push_back(nlohmann::json::parse(ReportToMqttJson(report)));
    return true;
  }
  bool connected = false;
  std::vector<nlohmann::json> payloads;
};

TEST_F(OtaEngineTest, MqttHookGetsEveryReportInOrderOnceConnected) {
  FakeMqtt mqtt;
  device_.mqtt = &mqtt;
  SetUpV2OfferV3();
  ASSERT_TRUE(!device_.RunToTerminal(300));  // the MQTT link is down: the reports wait
  EXPECT_EQ(device_.running()->version(), 3);
  EXPECT_EQ(server_.statuses().size(), 8u);  // HTTP took them all
  EXPECT_EQ(device_.engine().reports().pending().size(), 8u);
  mqtt.connected = true;
  for (int i = 0; i < 10; ++i) device_.Step();
  EXPECT_TRUE(device_.engine().reports().pending().empty());
  ASSERT_EQ(mqtt.payloads.size(), 8u);
  for (std::size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(mqtt.payloads[i].at("state"), server_.statuses()[i].at("status"));
    EXPECT_EQ(mqtt.payloads[i].at("seq"), server_.statuses()[i].at("seq"));
    EXPECT_EQ(mqtt.payloads[i].at("target_version"), 3);
    EXPECT_TRUE(mqtt.payloads[i].at("error").is_string());
  }
  EXPECT_EQ(mqtt.payloads.back().at("model_version"), 3);
}

TEST_F(OtaEngineTest, DroppedConnectionsResumeAndRefetchAtMostOneChunkEach) {
  server_.drop_every = 3;
  SetUpV2OfferV3();
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kCommitted);
  EXPECT_GT(server_.drops(), 2u);
  EXPECT_LE(server_.download_bytes_sent(), v3_.size() + server_.drops() * TestConfig(key_).chunk_bytes);
}

TEST_F(OtaEngineTest, ServerWithoutRangeSupportStillWorks) {
  server_.ignore_range = true;
  SetUpV2OfferV3();
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kCommitted);
}

TEST_F(OtaEngineTest, DownloadThatNeverSucceedsEndsFailedAfterItsRetryBudget) {
  server_.downloads_fail = true;
  SetUpV2OfferV3();
  ASSERT_TRUE(device_.RunToTerminal(5000));
  ExpectStillV2("retries");
  EXPECT_EQ(server_.download_requests(), TestConfig(key_).download_retries + 1);
}

TEST_F(OtaEngineTest, NextOfferResumesADownloadTheNetworkGaveUpOn) {
  SetUpV2OfferV3();
  while (device_.engine().record().downloaded < 6 * 1024) device_.Step();
  server_.downloads_fail = true;
  ASSERT_TRUE(device_.RunToTerminal(5000));
  ASSERT_EQ(device_.engine().state(), State::kFailed);
  const std::uint64_t kept = device_.engine().record().resume_offset;
  EXPECT_GE(kept, 6u * 1024);
  EXPECT_TRUE(fs_.Exists(kDir / kPartFile));
  // A reboot in between changes nothing.
  device_.Crash();
  device_.Boot();
  server_.downloads_fail = false;
  const std::uint64_t sent_before = server_.download_bytes_sent();
  const std::uint64_t attempt = device_.engine().record().attempt;
  for (int i = 0; i < 200 && device_.engine().record().attempt == attempt; ++i) device_.Step();  // the next check
  ASSERT_TRUE(device_.RunToTerminal(5000));
  EXPECT_EQ(device_.engine().state(), State::kCommitted);
  EXPECT_EQ(server_.download_bytes_sent() - sent_before, v3_.size() - kept);  // not from zero
  EXPECT_EQ(device_.running()->version(), 3);
}

TEST_F(OtaEngineTest, APowerOffLongerThanTheDeadlineDoesNotFailTheDownload) {
  SetUpV2OfferV3();
  while (device_.engine().record().downloaded < 4 * 1024) device_.Step();
  device_.CleanRestart();
  clock_.now_ms += 3 * 3600 * 1000;  // three hours off
  device_.Crash();
  device_.Boot();
  const std::uint64_t sent_before = server_.download_bytes_sent();
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kCommitted);
  EXPECT_LE(server_.download_bytes_sent() - sent_before, v3_.size() - 4 * 1024);
}

TEST_F(OtaEngineTest, ThresholdOnlyUpdateGoesThroughTheSamePath) {
  fs_.PutDurable(kDir / kCurrentFile, v2_);
  device_.Boot();
  // A copy: the running model (and its view) is replaced by the update.
  const core::Thresholds old = device_.running()->view().thresholds;
  nlohmann::json body = {{"version", 2},        {"low_threshold", old.low * 1.1f}, {"high_threshold", old.high * 1.1f},
                         {"mu", old.mu},        {"sigma", old.sigma},              {"k_low", old.k_low},
                         {"k_high", old.k_high}};
  server_.SetThresholds(body.dump(), Sign(key_, body.dump()));
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kCommitted);
  EXPECT_EQ(device_.running()->version(), 2);
  EXPECT_FLOAT_EQ(device_.running()->view().thresholds.low, old.low * 1.1f);
  EXPECT_EQ(fs_.ReadFile(kDir / kBackupFile, 1 << 20).value(), v2_);
  EXPECT_EQ(server_.statuses().back().at("status"), "active");
  // Applied once: later checks see the same thresholds and do nothing.
  const std::size_t reports = server_.statuses().size();
  for (int i = 0; i < 200; ++i) device_.Step();
  EXPECT_EQ(server_.statuses().size(), reports);
}

TEST_F(OtaEngineTest, UnsignedThresholdsAreRefusedOnce) {
  fs_.PutDurable(kDir / kCurrentFile, v2_);
  device_.Boot();
  // A copy: the running model (and its view) is replaced by the update.
  const core::Thresholds old = device_.running()->view().thresholds;
  nlohmann::json body = {{"version", 2},   {"low_threshold", old.low * 0.5f}, {"high_threshold", old.high},
                         {"mu", old.mu},   {"sigma", old.sigma},              {"k_low", old.k_low},
                         {"k_high", old.k_high}};
  server_.SetThresholds(body.dump(), "");
  ASSERT_TRUE(device_.RunToTerminal());
  ExpectStillV2("signature");
  const std::size_t reports = server_.statuses().size();
  for (int i = 0; i < 200; ++i) device_.Step();
  EXPECT_EQ(server_.statuses().size(), reports);
}

TEST_F(OtaEngineTest, UpdateFromTheBuiltinModelRollsBackToTheBuiltinModel) {
  const std::string v3 = ArtifactV(3);
  server_.Put(3, {v3, Sign(key_, v3)});
  server_.Offer(ManifestFor(3, v3), key_);
  device_.Boot();
  for (int i = 0; i < 50; ++i) device_.engine().RecordInference(1.0, core::Zone::kNormal, false);
  device_.latency_ms = 3.0;
  ASSERT_TRUE(device_.RunToTerminal());
  EXPECT_EQ(device_.engine().state(), State::kRolledBack);
  EXPECT_EQ(device_.running()->source(), ModelSource::kBuiltin);
  EXPECT_FALSE(fs_.Exists(kDir / kCurrentFile));
  device_.Crash();
  device_.Boot();
  EXPECT_EQ(device_.running()->source(), ModelSource::kBuiltin);
}

TEST_F(OtaEngineTest, CorruptCurrentModelFallsBackToBackupThenBuiltin) {
  std::string broken = v2_;
  broken[100] = static_cast<char>(broken[100] ^ 1);
  fs_.PutDurable(kDir / kCurrentFile, broken);
  fs_.PutDurable(kDir / kBackupFile, ArtifactV(1));
  device_.Boot();
  EXPECT_EQ(device_.running()->source(), ModelSource::kBackup);
  EXPECT_EQ(device_.running()->version(), 1);
  device_.Crash();
  fs_.PutDurable(kDir / kBackupFile, "garbage");
  device_.Boot();
  EXPECT_EQ(device_.running()->source(), ModelSource::kBuiltin);
}

TEST_F(OtaEngineTest, CorruptStateFileStartsAfreshWithAValidModel) {
  fs_.PutDurable(kDir / kCurrentFile, v2_);
  fs_.PutDurable(kDir / kStateFile, "{not json");
  device_.Boot();
  EXPECT_EQ(device_.running()->version(), 2);
  EXPECT_EQ(device_.engine().state(), State::kIdle);
}

}  // namespace
}  // namespace edgefleet::ota::testing
