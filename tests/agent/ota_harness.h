// Shared by the OTA tests: keys, signed artifacts and manifests, and a
// Device that boots an OtaEngine over the fakes, restarts it (cleanly or as
// after a crash), feeds inferences and runs it until an attempt ends.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "agent/ota/engine.h"
#include "fake_server.h"
#include "fault_filesystem.h"

namespace edgefleet::ota::testing {

inline const std::filesystem::path kDir = "/dev/ota";

inline common::Ed25519PrivateKey Key(std::uint8_t seed_byte) {
  std::array<std::uint8_t, 32> seed{};
  seed.fill(seed_byte);
  return common::Ed25519PrivateKey::FromSeed(seed).value();
}

inline std::string Sign(const common::Ed25519PrivateKey& key, std::string_view bytes) {
  const auto sig = common::Sign(key, common::AsBytes(bytes)).value();
  return common::Base64Encode(sig).value();
}

// The built-in model's bytes as version `version` (a distinct, valid artifact).
inline std::string ArtifactV(std::uint32_t version) { return WithVersion(BuiltinModelBytes(), version).value(); }

inline common::Manifest ManifestFor(std::int64_t version, const std::string& bytes) {
  common::Manifest m;
  m.model_id = "ceiling-fan-ae";
  m.version = version;
  m.url = std::string(kServerUrl) + "/model/download?version=" + std::to_string(version);
  m.sha256 = common::Sha256Hex(bytes).value();
  m.size_bytes = static_cast<std::int64_t>(bytes.size());
  m.min_device_ram_mb = 64;
  m.min_firmware_version = "1.0.0";
  m.rollout_percentage = 100;
  return m;
}

inline OtaConfig TestConfig(const common::Ed25519PrivateKey& key) {
  OtaConfig c;
  c.device_id = "dev-1";
  c.token = "device-token";
  c.server_url = kServerUrl;
  c.model_dir = kDir;
  c.trusted_keys = {key.public_key()};
  c.device_ram_mb = 512;
  c.firmware_version = "1.2.0";
  c.check_interval_ms = 300'000;
  c.check_jitter = 0.1;
  c.chunk_bytes = 1024;
  c.health.period_ms = 60'000;
  c.health.grace_ms = 60'000;
  c.health.min_inferences = 20;
  c.seed = 7;
  return c;
}

class Device {
 public:
  Device(FaultFilesystem& fs, FakeServer& server, FakeClock& clock, OtaConfig config)
      : fs_(fs), server_(server), clock_(clock), config_(std::move(config)) {}

  void Boot() {
    auto engine = OtaEngine::Open(config_, {fs_, server_, clock_, mqtt});
    ASSERT_TRUE(engine.ok()) << engine.error().ToString();
    engine_ = std::move(engine).value();
    running_ = engine_->StartupModel();
    ASSERT_NE(running_, nullptr);
    engine_->SetActivateCallback([this](std::shared_ptr<const Model> m) -> common::Expected<void> {
      if (refuse_activation) return common::Error(common::ErrorCode::kInternal, "refused by the test");
      if (agent_stopping) return common::Error(common::ErrorCode::kUnavailable, "the agent is stopping");
      running_ = std::move(m);
      ++activations;
      return common::Ok();
    });
    for (int i = 0; i < prefeed_baseline; ++i) engine_->RecordInference(latency_ms, core::Zone::kNormal, false);
  }
  // The process is killed: what was not durable is lost.
  void Crash() {
    engine_.reset();
    fs_.SimulateCrash();
  }
  void CleanRestart() {
    engine_->Shutdown();
    engine_.reset();
    Boot();
  }

  // One Tick; the clock moves to when the engine wants the next, and the
  // agent runs `inferences_per_tick` windows at `latency_ms` meanwhile.
  void Step() {
    const std::int64_t due = engine_->Tick();
    const double latency = engine_->state() == State::kHealthCheck ? health_latency_ms.value_or(latency_ms) : latency_ms;
    for (int i = 0; i < inferences_per_tick; ++i) engine_->RecordInference(latency, core::Zone::kNormal, false);
    clock_.now_ms = std::max(clock_.now_ms, std::min(due, clock_.now_ms + max_sleep_ms));
  }

  // Ticks until the attempt in progress (or the next one) ends and its
  // reports are out; false if it does not within `max_ticks`.
  bool RunToTerminal(int max_ticks = 2000) {
    const std::uint64_t attempt = engine_->record().attempt;
    for (int i = 0; i < max_ticks; ++i) {
      Step();
      if (fs_.dead()) return false;
      const bool ended = IsTerminal(engine_->state()) && engine_->record().attempt >= std::max<std::uint64_t>(attempt, 1);
      if (ended && engine_->reports().pending().empty()) return true;
    }
    return false;
  }

  OtaEngine& engine() { return *engine_; }
  bool booted() const { return engine_ != nullptr; }
  const std::shared_ptr<const Model>& running() const { return running_; }

  int inferences_per_tick = 5;
  double latency_ms = 1.0;
  std::optional<double> health_latency_ms;  // the new model's latency, if not latency_ms
  int prefeed_baseline = 0;                 // inferences recorded at each boot
  std::int64_t max_sleep_ms = 10'000;
  bool refuse_activation = false;
  bool agent_stopping = false;  // the activate callback answers kUnavailable
  OtaTelemetry* mqtt = nullptr;
  int activations = 0;

 private:
  FaultFilesystem& fs_;
  FakeServer& server_;
  FakeClock& clock_;
  OtaConfig config_;
  std::unique_ptr<OtaEngine> engine_;
  std::shared_ptr<const Model> running_;
};

}  // namespace edgefleet::ota::testing
