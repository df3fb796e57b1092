// OtaRunner: how edgefleet-agent drives the OTA engine (agent/ota/engine.h,
// docs/ota.md, docs/agent.md "OTA"). It owns the engine's real platform
// objects (POSIX files, libcurl, the system clock), the MQTT `ota` hook and
// the OTA worker thread that calls Tick.
//
// Activation crosses threads without losing a window: the engine calls its
// activate callback on the worker; the runner posts the swap to the agent's
// loop (the thread that runs every window, through `post`) and waits for its
// result, so the swap happens between two windows and the next window runs
// the new model. If the loop is gone (the agent is stopping) the activation
// fails, which the engine rolls back.
//
// Ownership: the caller keeps the MQTT link (may be null) alive longer than
// the runner. Threads: Open, StartupModel, Start and Stop from the main
// thread; RecordInference from the loop (thread-safe).
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/ota/engine.h"
#include "agent/ota/platform/curl_http_client.h"
#include "agent/ota/platform/posix_filesystem.h"
#include "common/error.h"
#include "common/mqtt.h"

namespace edgefleet::agent {

class OtaRunner {
 public:
  // Runs `job` on the agent's loop; false when the loop no longer takes jobs.
  using PostFn = std::function<bool(std::function<void()> job)>;
  // Makes `model` the one the next window runs (called on the loop).
  using SwapFn = std::function<common::Expected<void>(std::shared_ptr<const ota::Model> model)>;

  // Loads the trusted keys (every file must be a PEM Ed25519 public key).
  // On a first boot (no current.efm and no backup.efm in the model
  // directory) installs `initial_model` as current.efm if that file exists.
  // Opens the engine. kInvalidArgument naming a bad key file.
  static common::Expected<std::unique_ptr<OtaRunner>> Open(ota::OtaConfig config,
                                                           const std::vector<std::filesystem::path>& key_files,
                                                           const std::filesystem::path& initial_model,
                                                           mqtt::MqttLink* link);
  ~OtaRunner();

  // current.efm, else backup.efm, else the built-in model (never null).
  std::shared_ptr<const ota::Model> StartupModel() { return engine_->StartupModel(); }
  // Starts the worker thread.
  void Start(PostFn post, SwapFn swap);
  void RecordInference(double latency_ms, core::Zone zone, bool error) {
    engine_->RecordInference(latency_ms, zone, error);
  }
  // Stops and joins the worker, then marks the engine's clean stop.
  void Stop();
  ota::OtaEngine& engine() { return *engine_; }

 private:
  class MqttHook;
  OtaRunner() = default;
  void Work();
  common::Expected<void> Activate(std::shared_ptr<const ota::Model> model);

  ota::PosixFilesystem fs_;
  ota::CurlHttpClient http_;
  ota::SystemClock clock_;
  std::unique_ptr<MqttHook> hook_;
  std::unique_ptr<ota::OtaEngine> engine_;
  PostFn post_;
  SwapFn swap_;
  std::atomic<bool> running_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread worker_;
};

}  // namespace edgefleet::agent
