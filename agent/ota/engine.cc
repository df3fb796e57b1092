// The state machine's driver: opening, crash recovery, transitions, reports.
// The steps of each state are in engine_steps.cc.
#include "agent/ota/engine.h"

#include <algorithm>
#include <functional>

namespace edgefleet::ota {
namespace {

using common::Error;
using common::ErrorCode;

constexpr std::size_t kMaxRefused = 16;
constexpr std::size_t kMaxStateFile = 1u << 20;

}  // namespace

OtaEngine::OtaEngine(OtaConfig config, OtaDeps deps)
    : config_(std::move(config)),
      fs_(deps.fs),
      http_(deps.http),
      clock_(deps.clock),
      mqtt_(deps.mqtt),
      rng_(config_.seed != 0 ? config_.seed : std::hash<std::string>{}(config_.device_id) | 1u) {}

Expected<std::unique_ptr<OtaEngine>> OtaEngine::Open(OtaConfig config, OtaDeps deps) {
  if (config.device_id.empty()) return Error(ErrorCode::kInvalidArgument, "OTA: device_id is empty");
  if (config.model_dir.empty()) return Error(ErrorCode::kInvalidArgument, "OTA: model_dir is empty");
  if (config.trusted_keys.empty()) return Error(ErrorCode::kInvalidArgument, "OTA: no trusted public key");
  if (config.chunk_bytes == 0 || config.check_interval_ms <= 0 || config.check_jitter < 0 || config.check_jitter >= 1) {
    return Error(ErrorCode::kInvalidArgument, "OTA: chunk_bytes, check_interval_ms or check_jitter out of range");
  }
  EDGEFLEET_RETURN_IF_ERROR(deps.fs.CreateDirectories(config.model_dir));
  std::unique_ptr<OtaEngine> engine(new OtaEngine(std::move(config), deps));
  auto text = deps.fs.ReadFile(engine->File(kStateFile), kMaxStateFile);
  if (text.ok()) {
    auto record = ParseRecord(text.value());
    // A record that does not parse starts afresh: the model is then chosen by its validity alone.
    if (record.ok()) engine->record_ = std::move(record).value();
  }
  if (engine->record_.state == State::kChecking) engine->record_.state = State::kIdle;
  return engine;
}

std::shared_ptr<const Model> OtaEngine::active_model() const {
  std::lock_guard lock(active_mutex_);
  return active_;
}

void OtaEngine::SetActive(std::shared_ptr<const Model> model) {
  std::lock_guard lock(active_mutex_);
  active_ = std::move(model);
}

void OtaEngine::SetActivateCallback(ActivateFn activate) { activate_ = std::move(activate); }

void OtaEngine::RecordInference(double latency_ms, core::Zone zone, bool error) {
  (in_health_check_.load() ? health_ : baseline_).Record(latency_ms, zone, error);
}

std::shared_ptr<const Model> OtaEngine::StartupModel() {
  if (started_) return active_model();
  started_ = true;
  const std::int64_t now = clock_.NowMs();
  const State state = record_.state;
  if (state == State::kIdle || IsTerminal(state)) {
    // No attempt in progress: a partial download is a leftover, unless kept for a resume.
    if (record_.resume_sha256.empty()) {
      (void)fs_.Remove(File(kPartFile));
      (void)fs_.SyncDir(config_.model_dir);
    }
    SetActive(LoadFromDisk());
    return active_model();
  }
  const bool crashed = !record_.clean_shutdown;
  record_.clean_shutdown = false;
  // Time powered off does not count against the state's deadline: a reboot gives it a new one.
  record_.state_deadline_ms = DeadlineFor(state, now);
  if (crashed) ++record_.restarts;
  if (record_.restarts > config_.max_restarts) {
    // The attempt keeps dying: end it. After the swap, put the previous model back first.
    SetActive(IsAfterSwap(state) ? RestorePrevious() : LoadFromDisk());
    Refuse(record_.target_sha256);
    (void)Fire(Event::kLoopLimit, "gave up after " + std::to_string(record_.restarts) + " unclean restarts in " +
                                      ToString(state));
    return active_model();
  }
  if (crashed) {
    if (Next(state, Event::kCrashed) != State::kRollingBack) SetActive(LoadFromDisk());  // reports name what runs
    (void)Fire(Event::kCrashed, std::string("unclean restart in ") + ToString(state));
  } else if (state == State::kHealthCheck) {
    record_.health_started_ms = now;  // a clean restart: the period starts again
    (void)Persist();
  }
  if (record_.state == State::kRollingBack) {
    // Finish the rollback before anything runs: the model that (maybe) crashed must not start.
    SetActive(RestorePrevious());
    if (crashed && IsAfterSwap(state) && state != State::kRollingBack) Refuse(record_.target_sha256);
    (void)Fire(Event::kRestored, record_.last_error.empty() ? std::string("unclean restart in ") + ToString(state)
                                                            : record_.last_error);
    return active_model();
  }
  SetActive(LoadFromDisk());
  in_health_check_ = record_.state == State::kHealthCheck;
  return active_model();
}

void OtaEngine::Shutdown() {
  record_.clean_shutdown = true;
  (void)Persist();
}

Expected<void> OtaEngine::Persist() { return fs_.WriteFileAtomically(File(kStateFile), SerializeRecord(record_)); }

std::int64_t OtaEngine::NextCheckTime(std::int64_t now) {
  std::uniform_real_distribution<double> jitter(-config_.check_jitter, config_.check_jitter);
  return now + static_cast<std::int64_t>(static_cast<double>(config_.check_interval_ms) * (1.0 + jitter(rng_)));
}

std::int64_t OtaEngine::DeadlineFor(State state, std::int64_t now) const {
  switch (state) {
    case State::kDownloading: return now + config_.download_deadline_ms;
    case State::kHealthCheck:
      return now + config_.health.period_ms + config_.health.grace_ms + config_.step_deadline_ms;
    default: return now + config_.step_deadline_ms;
  }
}

std::int64_t OtaEngine::Backoff(std::uint32_t retries) const {
  std::int64_t delay = config_.retry_initial_ms;
  for (std::uint32_t i = 1; i < retries && delay < config_.retry_max_ms; ++i) delay *= 2;
  return std::min(delay, config_.retry_max_ms);
}

void OtaEngine::Refuse(const std::string& key) {
  if (key.empty() || IsRefused(key)) return;
  record_.refused.push_back(key);
  if (record_.refused.size() > kMaxRefused) record_.refused.erase(record_.refused.begin());
}

bool OtaEngine::IsRefused(const std::string& key) const {
  return std::find(record_.refused.begin(), record_.refused.end(), key) != record_.refused.end();
}

Expected<void> OtaEngine::Fire(Event event, const std::string& error) {
  const State from = record_.state;
  std::optional<State> to = Next(from, event);
  if (!to) {
    // Not in the table: a bug. End the attempt rather than invent a path.
    to = Next(from, Event::kLoopLimit);
    if (!to) return Error(ErrorCode::kInternal, std::string("OTA: no transition from ") + ToString(from) + " on " + ToString(event));
  }
  const std::int64_t now = clock_.NowMs();
  // Checks are not part of an attempt: only an attempt's own transitions count.
  const bool in_attempt = from != State::kIdle && from != State::kChecking && !IsTerminal(from);
  if (in_attempt && ++record_.transitions > config_.max_transitions &&
      !IsTerminal(*to)) {
    if (IsAfterSwap(from)) SetActive(RestorePrevious());
    to = State::kFailed;
    event = Event::kLoopLimit;
  }
  record_.state = *to;
  record_.state_entered_ms = now;
  record_.retries = 0;
  record_.next_try_ms = now;
  record_.state_deadline_ms = DeadlineFor(*to, now);
  in_health_check_ = *to == State::kHealthCheck;
  std::string reason = error;
  if (event == Event::kLoopLimit && reason.empty()) {
    reason = "gave up after " + std::to_string(record_.transitions) + " transitions";
  }
  if (IsTerminal(*to)) {
    record_.last_error = *to == State::kCommitted ? std::string() : reason;
    record_.next_check_ms = NextCheckTime(now);
    if (keep_part_) {
      // The network gave up, not the artifact: the next offer of it resumes.
      record_.resume_sha256 = record_.target_sha256;
      record_.resume_offset = record_.downloaded;
      record_.resume_etag = record_.etag;
    } else {
      // Nothing half-written stays behind an ended attempt.
      record_.resume_sha256.clear();
      record_.resume_offset = 0;
      (void)fs_.Remove(File(kPartFile));
      (void)fs_.SyncDir(config_.model_dir);
    }
    keep_part_ = false;
    baseline_.Reset();
  } else if (*to == State::kRollingBack) {
    record_.last_error = reason;
  }
  // The reports join the queue in the record, and both are written at once.
  if (event == Event::kModelOffered || event == Event::kThresholdsOffered) PushReport("pending", {});
  if (const char* status = ServerStatus(*to)) {
    const bool final_error = *to == State::kFailed || *to == State::kRolledBack;
    PushReport(status, final_error ? reason : std::string());
  }
  // idle and checking are not written: a check every 5 minutes must not wear the flash.
  if (*to == State::kChecking || (from == State::kChecking && *to == State::kIdle)) return common::Ok();
  return Persist();
}

void OtaEngine::Fail(const std::string& reason, bool refuse) {
  if (refuse) Refuse(record_.kind == UpdateKind::kThresholds ? "thr:" + record_.target_sha256 : record_.target_sha256);
  (void)Fire(Event::kFail, reason);
}

void OtaEngine::PushReport(const char* status, const std::string& error) {
  Report report;
  report.status = status;
  report.state = ToString(record_.state);
  const auto model = active_model();
  report.version = model ? model->version() : record_.previous.version;
  report.target_version = record_.target_version;
  report.error = error;
  report.time_ms = clock_.NowMs();
  record_.reports.Push(std::move(report));
}

std::vector<HttpHeader> OtaEngine::AuthHeaders() const {
  std::vector<HttpHeader> headers;
  if (!config_.token.empty()) headers.push_back({"Authorization", "Bearer " + config_.token});
  return headers;
}

void OtaEngine::DeliverReports(std::int64_t now) {
  if (record_.reports.pending().empty() || now < next_report_try_ms_) return;
  bool failed = false;
  const ReportSink http = [&](const Report& r) {
    HttpRequest post;
    post.method = "POST";
    post.url = config_.server_url + "/api/updates/status";
    post.headers = AuthHeaders();
    post.body = ReportToJson(r, config_.device_id);
    post.timeout = config_.http_timeout;
    post.max_body_bytes = 64 * 1024;
    const auto response = http_.Send(post);
    // A 4xx will never be accepted: it is dropped rather than block every later report.
    const bool done = response.ok() && response.value().status < 500 && response.value().status != 429 &&
                      response.value().status != 408;
    failed = failed || !done;
    return done;
  };
  ReportSink mqtt;
  if (mqtt_ != nullptr) {
    mqtt = [&](const Report& r) {
      const bool done = mqtt_->PublishOta(r);
      failed = failed || !done;
      return done;
    };
  }
  // A failed write re-sends the delivered reports (same seq) after a restart.
  if (record_.reports.Deliver(http, mqtt)) (void)Persist();
  if (failed) next_report_try_ms_ = now + config_.report_retry_ms;
}

std::shared_ptr<const Model> OtaEngine::LoadFromDisk() {
  for (const auto& [name, source] : {std::pair{kCurrentFile, ModelSource::kDisk}, std::pair{kBackupFile, ModelSource::kBackup}}) {
    auto bytes = fs_.ReadFile(File(name), core::kMaxArtifactSize);
    if (!bytes.ok()) continue;
    auto model = Model::Load(bytes.value(), source);
    if (model.ok() && !IsRefused(model.value()->sha256())) return std::move(model).value();
  }
  auto builtin = BuiltinModel();
  return builtin.ok() ? std::move(builtin).value() : nullptr;
}

std::shared_ptr<const Model> OtaEngine::RestorePrevious() {
  const ModelIdentity& prev = record_.previous;
  const std::filesystem::path current = File(kCurrentFile);
  if (prev.source != ModelSource::kBuiltin) {
    // current.efm may still be the previous model (the swap had not happened).
    if (auto bytes = fs_.ReadFile(current, core::kMaxArtifactSize); bytes.ok()) {
      auto model = Model::Load(bytes.value(), ModelSource::kDisk);
      if (model.ok() && model.value()->sha256() == prev.sha256) return std::move(model).value();
    }
    if (auto bytes = fs_.ReadFile(File(kBackupFile), core::kMaxArtifactSize); bytes.ok()) {
      auto model = Model::Load(bytes.value(), ModelSource::kDisk);
      if (model.ok() && model.value()->sha256() == prev.sha256 &&
          fs_.WriteFileAtomically(current, bytes.value()).ok()) {
        return std::move(model).value();
      }
    }
  }
  // The previous model was the built-in one (or its copy is gone): no current.efm.
  (void)fs_.Remove(current);
  (void)fs_.SyncDir(config_.model_dir);
  auto builtin = BuiltinModel();
  return builtin.ok() ? std::move(builtin).value() : nullptr;
}

std::int64_t OtaEngine::Tick() {
  if (!started_) (void)StartupModel();
  const std::int64_t now = clock_.NowMs();
  DeliverReports(now);
  std::int64_t due = now;
  const State state = record_.state;
  if (state != State::kIdle && state != State::kChecking && state != State::kRollingBack && !IsTerminal(state) &&
      now > record_.state_deadline_ms) {
    // Every state has a deadline; the rollback has none because it always completes.
    if (state == State::kDownloading) keep_part_ = true;
    Fail(std::string("no progress in ") + ToString(state) + " before its deadline", state == State::kHealthCheck);
    return now;
  }
  switch (record_.state) {
    case State::kIdle:
    case State::kCommitted:
    case State::kRolledBack:
    case State::kFailed:
      if (now < record_.next_check_ms) {
        due = record_.next_check_ms;
        break;
      }
      (void)Fire(Event::kCheckDue);
      due = StepCheck(now);
      break;
    case State::kChecking: due = StepCheck(now); break;
    case State::kDownloading: due = StepDownload(now); break;
    case State::kVerifying: due = StepVerify(now); break;
    case State::kValidating: due = StepValidate(now); break;
    case State::kApplying: due = StepApply(now); break;
    case State::kActivating: due = StepActivate(now); break;
    case State::kHealthCheck: due = StepHealth(now); break;
    case State::kRollingBack: due = StepRollback(now); break;
  }
  if (!record_.reports.pending().empty()) due = std::min(due, std::max(next_report_try_ms_, now));
  return due;
}

}  // namespace edgefleet::ota
