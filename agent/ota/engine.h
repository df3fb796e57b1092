// OtaEngine: the device's crash-safe OTA model updates (SPEC section 6,
// docs/ota.md). It owns the update state machine (state.h), its persisted
// record (record.h), the download (downloader.h), verification, validation
// on golden windows (validation.h), the atomic swap, activation through the
// agent's callback, the health check (health.h), rollback, and the report
// queue (report_queue.h).
//
// How the agent runtime drives it:
//
//   auto engine = OtaEngine::Open(config, {fs, http, clock, mqtt_hook});
//   std::shared_ptr<const Model> model = (*engine)->StartupModel();
//   // build the Detector over model->bytes(); keep `model` alive with it
//   (*engine)->SetActivateCallback([&](std::shared_ptr<const Model> m) {
//     return runtime.SwapModel(std::move(m));   // swap the Detector between windows
//   });
//   worker thread: while (running) { auto due = engine->Tick(); sleep until due or stop; }
//   inference thread: engine->RecordInference(latency_ms, zone, /*error=*/false);
//   on a clean exit: engine->Shutdown();   (after the worker stopped)
//
// StartupModel never fails: it finishes what a crash interrupted (a rollback
// is completed before any model runs), then returns current.efm, else
// backup.efm, else the built-in model; a file that does not parse, or whose
// sha256 was refused by an earlier attempt, is skipped.
//
// Tick performs at most one step (one check, one downloaded chunk, one
// verification, ...) and returns the wall-clock time (ms) at which it wants
// to be called again; it blocks on HTTP and disk, so it runs on the agent's
// OTA worker thread. The activate callback is called from Tick, on that
// thread: it must make the new model the one that runs the next window (the
// agent swaps its Detector in-process) and return an error if it cannot,
// which rolls the update back.
//
// Ownership: the engine keeps references to the platform objects in
// OtaDeps; they must outlive it. Models are shared_ptr: the engine and the
// agent may both hold one.
// Threads: RecordInference and active_model are thread-safe. Everything else
// is called from one thread (the worker), with StartupModel before the first
// Tick.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "agent/ota/health.h"
#include "agent/ota/model.h"
#include "agent/ota/platform.h"
#include "agent/ota/record.h"
#include "agent/ota/report_queue.h"
#include "agent/ota/state.h"
#include "agent/ota/validation.h"
#include "common/crypto.h"

namespace edgefleet::ota {

// Files in the model directory (docs/ota.md, "Files on disk").
inline constexpr const char* kCurrentFile = "current.efm";
inline constexpr const char* kBackupFile = "backup.efm";
inline constexpr const char* kPartFile = "download.part";
inline constexpr const char* kStateFile = "ota-state.json";

struct OtaConfig {
  std::string device_id;
  std::string token;                  // sent as "Authorization: Bearer <token>" when not empty
  std::string server_url;             // "http://127.0.0.1:8000", no trailing slash needed
  std::filesystem::path model_dir;
  std::vector<common::Ed25519PublicKey> trusted_keys;  // any of them may sign (key rotation)
  std::int64_t device_ram_mb = 0;
  std::string firmware_version;

  std::int64_t check_interval_ms = 5 * 60'000;  // SPEC section 6
  double check_jitter = 0.1;                    // each wait is interval x (1 +- jitter)
  bool threshold_updates = true;                // also poll GET /model/thresholds
  std::uint64_t chunk_bytes = 16 * 1024;        // bytes per Range request
  std::uint32_t download_retries = 8;           // network failures per attempt before `failed`
  std::uint32_t step_retries = 3;               // disk failures in other states
  std::int64_t retry_initial_ms = 2'000;        // backoff: doubles per retry, capped
  std::int64_t retry_max_ms = 5 * 60'000;
  std::int64_t report_retry_ms = 30'000;        // while the server cannot take reports
  std::int64_t download_deadline_ms = 60 * 60'000;
  std::int64_t step_deadline_ms = 10 * 60'000;  // verifying .. activating, rolling_back
  std::uint32_t max_transitions = 32;           // per attempt: then `failed`
  std::uint32_t max_restarts = 4;               // unclean restarts per attempt: then `failed`
  std::uint64_t free_space_margin = 64 * 1024;  // on top of 2 x size_bytes
  std::chrono::milliseconds http_timeout{30'000};
  HealthCriteria health;
  ValidationTolerances validation;
  std::uint64_t seed = 0;                       // jitter; 0: derived from device_id
};

// The MQTT `ota` hook (SPEC section 5): the agent's MQTT link implements it
// and publishes edge-ai/device/{id}/ota at QoS 1 (ReportToMqttJson gives the
// payload of docs/mqtt.md). PublishOta returns whether the message was taken
// for delivery; false keeps the report queued for a later try, in order.
class OtaTelemetry {
 public:
  virtual ~OtaTelemetry() = default;
  virtual bool PublishOta(const Report& report) = 0;
};

struct OtaDeps {
  Filesystem& fs;
  HttpClient& http;
  Clock& clock;
  OtaTelemetry* mqtt = nullptr;  // optional
};

// Swaps the agent's running model. An error fails the activation and rolls
// back, and that model is refused from then on; except kUnavailable, which
// means the agent is stopping: the engine then stays in activating and tries
// again (after a restart, StartupModel runs the swapped-in model).
using ActivateFn = std::function<common::Expected<void>(std::shared_ptr<const Model>)>;

class OtaEngine {
 public:
  // Creates the model directory if needed and reads the record and the
  // report queue (a corrupt record starts a fresh one). Fails only when the
  // configuration is unusable or the directory cannot be created.
  static Expected<std::unique_ptr<OtaEngine>> Open(OtaConfig config, OtaDeps deps);

  std::shared_ptr<const Model> StartupModel();
  void SetActivateCallback(ActivateFn activate);
  std::int64_t Tick();
  void RecordInference(double latency_ms, core::Zone zone, bool error);
  // Marks a clean stop (a restart in the health check then continues it
  // instead of rolling back). Call after the worker stopped calling Tick.
  void Shutdown();

  State state() const { return record_.state; }
  const Record& record() const { return record_; }
  const ReportQueue& reports() const { return record_.reports; }
  std::shared_ptr<const Model> active_model() const;

 private:
  OtaEngine(OtaConfig config, OtaDeps deps);

  // engine.cc: the machine itself.
  Expected<void> Fire(Event event, const std::string& error = {});
  void Fail(const std::string& reason, bool refuse);
  Expected<void> Persist();
  void PushReport(const char* status, const std::string& error);
  void DeliverReports(std::int64_t now);
  void SetActive(std::shared_ptr<const Model> model);
  std::int64_t NextCheckTime(std::int64_t now);
  std::int64_t Backoff(std::uint32_t retries) const;
  std::int64_t DeadlineFor(State state, std::int64_t now) const;
  void Refuse(const std::string& key);
  bool IsRefused(const std::string& key) const;
  std::shared_ptr<const Model> LoadFromDisk();
  std::shared_ptr<const Model> RestorePrevious();
  std::vector<HttpHeader> AuthHeaders() const;
  std::filesystem::path File(const char* name) const { return config_.model_dir / name; }

  // engine_steps.cc: one function per state's step.
  std::int64_t StepCheck(std::int64_t now);
  bool OfferThresholds(std::int64_t now);
  std::int64_t StepDownload(std::int64_t now);
  std::int64_t StepVerify(std::int64_t now);
  std::int64_t StepValidate(std::int64_t now);
  std::int64_t StepApply(std::int64_t now);
  std::int64_t StepActivate(std::int64_t now);
  std::int64_t StepHealth(std::int64_t now);
  std::int64_t StepRollback(std::int64_t now);
  bool RetryLater(std::int64_t now, const common::Error& error, std::uint32_t budget);
  bool VerifySignature(std::string_view bytes, std::string_view signature_base64) const;

  OtaConfig config_;
  Filesystem& fs_;
  HttpClient& http_;
  Clock& clock_;
  OtaTelemetry* mqtt_;
  ActivateFn activate_;
  Record record_;
  bool started_ = false;
  bool keep_part_ = false;  // the attempt ending now leaves download.part for a later resume
  std::int64_t next_report_try_ms_ = 0;
  std::mt19937_64 rng_;
  HealthMonitor health_;    // the new model, during health_check
  HealthMonitor baseline_;  // the running model otherwise
  std::atomic<bool> in_health_check_{false};
  mutable std::mutex active_mutex_;
  std::shared_ptr<const Model> active_;
};

}  // namespace edgefleet::ota
