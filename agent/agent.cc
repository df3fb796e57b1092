#include "agent/agent.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include <nlohmann/json.hpp>

#include "core/artifact.h"
#include "core/decision.h"

namespace edgefleet::agent {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;

// 64-bit FNV-1a of the window's float32 bytes, 16 lowercase hex digits: the
// buffer's input_hash (agent/buffer.h), which the columnar sync encoding
// sends as 8 raw bytes.
std::string InputHash(std::span<const float> window) {
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(window.data());
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < window.size_bytes(); ++i) {
    h ^= bytes[i];
    h *= 0x100000001b3ull;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = kHex[h & 0xf];
    h >>= 4;
  }
  return out;
}

double Percentile(std::vector<std::int64_t> values, double p) {
  if (values.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  return static_cast<double>(values[k]);
}

const char* LabelName(core::Label label) { return core::ToString(label); }

}  // namespace

Agent::Agent(AgentConfig config, AgentDeps deps)
    : config_(std::move(config)), deps_(std::move(deps)), backoff_(config_.backoff),
      alive_(std::make_shared<bool>(true)) {}

Agent::~Agent() { *alive_ = false; }

Expected<std::unique_ptr<Agent>> Agent::Create(AgentConfig config, AgentDeps deps,
                                               std::vector<std::uint8_t> model_bytes) {
  if (deps.clock == nullptr || deps.store == nullptr || deps.cloud == nullptr || deps.sync == nullptr) {
    return Error(ErrorCode::kInvalidArgument, "agent needs a clock, a store, a cloud client and a sync sink");
  }
  if (config.device_id.empty()) return Error(ErrorCode::kInvalidArgument, "agent needs a device id");
  std::unique_ptr<Agent> agent(new Agent(std::move(config), std::move(deps)));
  EDGEFLEET_RETURN_IF_ERROR(agent->LoadModel(std::move(model_bytes)));
  EDGEFLEET_ASSIGN_OR_RETURN(const std::size_t released, agent->deps_.store->ReleaseProvisional());
  (void)released;
  const std::int64_t now = agent->deps_.clock->SteadyMs();
  agent->start_ms_ = now;
  agent->last_sync_wall_ms_ = agent->deps_.clock->WallMs();
  agent->next_sync_check_ms_ = now;
  agent->next_status_ms_ = now;  // the first Poll publishes "online"
  agent->next_health_ms_ = now + agent->config_.health_interval_ms;
  agent->health_.start_ms = agent->deps_.clock->WallMs();
  return agent;
}

Expected<void> Agent::LoadModel(std::vector<std::uint8_t> model_bytes) {
  std::vector<std::uint64_t> aligned((model_bytes.size() + 7) / 8);
  if (!model_bytes.empty()) std::memcpy(aligned.data(), model_bytes.data(), model_bytes.size());
  const auto parsed = core::ParseArtifact(reinterpret_cast<const std::uint8_t*>(aligned.data()), model_bytes.size());
  if (!parsed.ok()) {
    return Error(ErrorCode::kCorrupt, std::string("model artifact: ") + core::ToString(parsed.status));
  }
  if (parsed.value.window_values() != sync::kWindowValues) {
    return Error(ErrorCode::kInvalidArgument, "model artifact: a window must be 300 values");
  }
  std::vector<std::uint64_t> arena((core::RequiredArenaBytes(parsed.value) + 7) / 8);
  auto detector = core::Detector::Create(parsed.value, arena.data(), arena.size() * 8);
  if (!detector.ok()) {
    return Error(ErrorCode::kInternal, std::string("model detector: ") + core::ToString(detector.status));
  }
  const bool changed = parsed.value.model_version != model_.model_version;
  if (health_.windows > 0 && changed) WriteHealth();  // health is per model version
  model_bytes_ = std::move(aligned);
  arena_ = std::move(arena);
  model_ = parsed.value;
  detector_ = detector.value;
  if (changed && deps_.clock != nullptr) next_status_ms_ = deps_.clock->SteadyMs();
  return common::Ok();
}

Expected<WindowResult> Agent::OnWindow(std::span<const float> window) {
  const std::int64_t t0 = deps_.clock->SteadyUs();
  const auto inference = detector_.Run(window.data(), window.size());
  const std::int64_t latency_us = deps_.clock->SteadyUs() - t0;
  if (!inference.ok()) {
    ++health_.errors;
    return Error(ErrorCode::kInvalidArgument, std::string("window rejected: ") + core::ToString(inference.status));
  }
  const core::Inference& inf = inference.value;
  const std::int64_t now_ms = deps_.clock->SteadyMs();
  const std::int64_t wall_ms = deps_.clock->WallMs();

  ++stats_.windows;
  ++health_.windows;
  health_.latency_sum_us += latency_us;
  health_.latency_max_us = std::max(health_.latency_max_us, latency_us);
  if (health_.latencies_us.size() < 100'000) health_.latencies_us.push_back(latency_us);
  health_.score_sum += static_cast<double>(inf.score);

  WindowResult result;
  result.zone = inf.decision.zone;
  result.score = static_cast<double>(inf.score);
  result.latency_us = latency_us;

  sync::InferenceRow row;
  row.ts_ms = wall_ms;
  row.model_version = model_.model_version;
  row.mse = static_cast<double>(inf.score);
  row.latency_us = latency_us;
  row.input_hash = InputHash(window);

  sync::HardSampleRow hard;
  bool keep_hard = false;
  bool provisional = false;

  const bool ambiguous = inf.decision.escalate();
  if (!ambiguous) {
    row.decision = LabelName(inf.decision.label);
    row.confidence = static_cast<double>(inf.decision.confidence);
    if (inf.decision.zone == core::Zone::kAnomaly) {
      ++stats_.anomaly;
      ++health_.anomaly;
    } else {
      ++stats_.normal;
      ++health_.normal;
    }
  } else {
    ++stats_.ambiguous;
    ++health_.ambiguous;
    // The closer threshold, stored at once: final while backing off,
    // provisional while a request is in flight.
    row.decision = LabelName(inf.decision.label);
    row.confidence = static_cast<double>(inf.decision.confidence);
    row.fallback = true;
    result.escalated = backoff_.MayAttempt(now_ms);
    result.fallback = !result.escalated;
    provisional = result.escalated;
  }
  result.decision = row.decision;
  result.confidence = row.confidence;

  if (row.confidence < static_cast<double>(core::kHardSampleConfidence)) {
    keep_hard = true;
    hard.ts_ms = wall_ms;
    hard.model_version = model_.model_version;
    hard.window.assign(window.begin(), window.end());
    hard.edge_mse = row.mse;
    hard.confidence = row.confidence;
    hard.decision = row.decision;
    hard.fallback = row.fallback;
  }

  const auto seq = deps_.store->Append(row, keep_hard ? &hard : nullptr, provisional);
  if (!seq.ok()) {
    ++stats_.store_errors;
    ++health_.errors;
    return Error(seq.error()).WithContext("storing the inference row");
  }
  result.seq = seq.value();

  if (ambiguous && result.escalated) {
    Escalate(result.seq, window, inf, latency_us);
    return result;
  }
  if (ambiguous) {
    ++stats_.fallbacks;
    ++health_.fallbacks;
  }
  if (deps_.telemetry != nullptr) {
    deps_.telemetry->Inference(InferenceEvent{wall_ms, model_.model_version, row.mse, row.decision,
                                              core::ToString(inf.decision.zone), row.confidence, latency_us,
                                              row.fallback});
    if (ambiguous) {
      deps_.telemetry->Escalation(EscalationEvent{wall_ms, model_.model_version, row.mse, "backoff", row.decision,
                                                  row.confidence, 0.0, 0, "the cloud is backed off"});
    }
  }
  return result;
}

void Agent::Escalate(std::int64_t seq, std::span<const float> window, const core::Inference& inference,
                     std::int64_t latency_us) {
  Pending pending;
  pending.latency_us = latency_us;
  pending.sent_ms = deps_.clock->SteadyMs();
  pending.deadline_ms = deps_.clock->SteadyMs() + config_.escalation_timeout_ms;
  pending.epoch = backoff_epoch_;
  pending.fallback = inference.decision.label;
  pending.edge_confidence = static_cast<double>(inference.decision.confidence);
  pending.edge_mse = static_cast<double>(inference.score);
  pending_[seq] = pending;
  ++stats_.escalations;
  ++health_.escalations;

  ClassifyRequest request;
  request.device_id = config_.device_id;
  request.features.assign(window.begin(), window.end());
  request.edge_mse = pending.edge_mse;
  request.model_version = model_.model_version;
  std::weak_ptr<bool> alive = alive_;
  deps_.cloud->Classify(std::move(request), [this, alive, seq](Expected<ClassifyAnswer> answer) {
    const auto token = alive.lock();
    if (!token || !*token) return;
    OnClassified(seq, std::move(answer));
  });
}

void Agent::OnClassified(std::int64_t seq, Expected<ClassifyAnswer> answer) {
  const auto it = pending_.find(seq);
  if (it == pending_.end()) return;  // already decided (deadline or shutdown)
  const Pending pending = it->second;
  pending_.erase(it);
  const std::int64_t now_ms = deps_.clock->SteadyMs();
  if (answer.ok()) {
    const ClassifyAnswer& a = answer.value();
    const bool valid = (a.classification == "normal" || a.classification == "anomaly") && std::isfinite(a.confidence);
    if (valid) {
      backoff_.OnSuccess();
      ++backoff_epoch_;
      ++stats_.cloud_answers;
      ++health_.cloud_answers;
      if (a.classification == LabelName(pending.fallback)) ++health_.agreements;
      const double confidence = std::clamp(a.confidence, 0.0, 1.0);
      if (auto done = deps_.store->Complete(seq, Completion{a.classification, confidence, false}); !done.ok()) {
        ++stats_.store_errors;
      }
      if (deps_.telemetry != nullptr) {
        const std::int64_t wall = deps_.clock->WallMs();
        deps_.telemetry->Inference(InferenceEvent{wall, model_.model_version, pending.edge_mse, a.classification,
                                                  "ambiguous", confidence, pending.latency_us, false});
        deps_.telemetry->Escalation(EscalationEvent{wall, model_.model_version, pending.edge_mse, "cloud",
                                                    a.classification, confidence, a.mse, now_ms - pending.sent_ms,
                                                    ""});
      }
      if (last_backing_off_) next_status_ms_ = now_ms;  // status on change
      return;
    }
    answer = Error(ErrorCode::kCorrupt, "cloud answer has no valid classification");
  }
  const Error& error = answer.error();
  if (pending.epoch == backoff_epoch_) {
    backoff_.OnFailure(now_ms);
    ++backoff_epoch_;
  }
  const char* reason = error.code() == ErrorCode::kDeadlineExceeded ? "timeout"
                       : error.code() == ErrorCode::kUnavailable    ? "unreachable"
                                                                    : "error";
  Resolve(seq, pending, reason, error.ToString());
}

void Agent::Resolve(std::int64_t seq, const Pending& pending, const char* outcome, const std::string& error) {
  ++stats_.fallbacks;
  ++health_.fallbacks;
  const char* label = LabelName(pending.fallback);
  if (auto done = deps_.store->Complete(seq, Completion{label, pending.edge_confidence, true}); !done.ok()) {
    ++stats_.store_errors;
  }
  if (deps_.telemetry != nullptr) {
    const std::int64_t wall = deps_.clock->WallMs();
    deps_.telemetry->Inference(InferenceEvent{wall, model_.model_version, pending.edge_mse, label, "ambiguous",
                                              pending.edge_confidence, pending.latency_us, true});
    deps_.telemetry->Escalation(EscalationEvent{wall, model_.model_version, pending.edge_mse, outcome, label,
                                                pending.edge_confidence, 0.0, 0, error});
  }
  if (backoff_.backing_off() != last_backing_off_) next_status_ms_ = deps_.clock->SteadyMs();
}

BackoffState Agent::CurrentBackoff() const {
  BackoffState state;
  state.backing_off = backoff_.backing_off();
  state.failures = backoff_.failures();
  state.delay_ms = backoff_.delay_ms();
  if (state.backing_off) {
    state.next_attempt_in_ms = std::max<std::int64_t>(0, backoff_.next_attempt_ms() - deps_.clock->SteadyMs());
  }
  return state;
}

void Agent::PublishStatus(const char* state) {
  last_backing_off_ = backoff_.backing_off();
  if (deps_.telemetry == nullptr) return;
  StatusReport report;
  report.ts_ms = deps_.clock->WallMs();
  report.state = state;
  report.model_version = model_.model_version;
  report.uptime_s = (deps_.clock->SteadyMs() - start_ms_) / 1000;
  report.buffer_depth = deps_.store->PendingRows().value_or(-1);
  report.dropped_rows = deps_.store->dropped_rows();
  report.backoff = CurrentBackoff();
  report.windows = stats_.windows;
  report.escalations = stats_.escalations;
  report.fallbacks = stats_.fallbacks;
  report.sync_bytes = stats_.sync_bytes;
  report.strategy = ToString(config_.strategy);
  report.health_json = HealthJson();
  deps_.telemetry->Status(report);
}

std::string Agent::HealthJson() const {
  const double n = static_cast<double>(std::max<std::uint64_t>(1, health_.windows));
  nlohmann::json stats = {
      {"windows", health_.windows},
      {"normal", health_.normal},
      {"ambiguous", health_.ambiguous},
      {"anomaly", health_.anomaly},
      {"escalations", health_.escalations},
      {"cloud_answers", health_.cloud_answers},
      {"fallbacks", health_.fallbacks},
      {"cloud_agreement", health_.cloud_answers == 0
                              ? 0.0
                              : static_cast<double>(health_.agreements) / static_cast<double>(health_.cloud_answers)},
      {"anomaly_rate", static_cast<double>(health_.anomaly) / n},
      {"escalation_rate", static_cast<double>(health_.ambiguous) / n},
      {"mean_score", health_.score_sum / n},
      {"latency_mean_us", static_cast<double>(health_.latency_sum_us) / n},
      {"latency_max_us", health_.latency_max_us},
      {"latency_p50_us", Percentile(health_.latencies_us, 0.50)},
      {"latency_p95_us", Percentile(health_.latencies_us, 0.95)},
      {"inferences", health_.windows},
      {"errors", health_.errors},
      {"fallback_rate", static_cast<double>(health_.fallbacks) / n},
      {"store_errors", stats_.store_errors},
      {"dropped_rows", deps_.store->dropped_rows()},
  };
  return stats.dump();
}

void Agent::WriteHealth() {
  const std::int64_t now_wall = deps_.clock->WallMs();
  if (health_.windows > 0) {
    sync::HealthRow row;
    row.model_version = model_.model_version;
    row.period_start_ms = health_.start_ms;
    row.period_end_ms = std::max(now_wall, health_.start_ms);
    row.stats_json = HealthJson();
    if (auto appended = deps_.store->AppendHealth(std::move(row)); !appended.ok()) ++stats_.store_errors;
  }
  health_ = Health{};
  health_.start_ms = now_wall;
}

void Agent::Poll() {
  const std::int64_t now_ms = deps_.clock->SteadyMs();
  // Escalations whose answer is overdue fall back now (the HTTP client has
  // the same timeout; whichever fires first decides, the other is ignored).
  while (!pending_.empty()) {
    auto overdue = std::find_if(pending_.begin(), pending_.end(),
                                [now_ms](const auto& p) { return now_ms >= p.second.deadline_ms; });
    if (overdue == pending_.end()) break;
    const std::int64_t seq = overdue->first;
    const Pending pending = overdue->second;
    pending_.erase(overdue);
    if (pending.epoch == backoff_epoch_) {
      backoff_.OnFailure(now_ms);
      ++backoff_epoch_;
    }
    Resolve(seq, pending, "timeout", "deadline_exceeded: no answer within the escalation timeout");
  }
  if (now_ms >= next_health_ms_) {
    WriteHealth();
    next_health_ms_ = now_ms + config_.health_interval_ms;
  }
  MaybeSync(now_ms);
  if (deps_.telemetry != nullptr) deps_.telemetry->Tick(deps_.clock->WallMs());
  if (now_ms >= next_status_ms_ || backoff_.backing_off() != last_backing_off_) {
    PublishStatus("online");
    next_status_ms_ = now_ms + config_.status_interval_ms;
  }
}

void Agent::MaybeSync(std::int64_t now_ms) {
  if (sync_in_flight_ || now_ms < next_sync_check_ms_) return;
  next_sync_check_ms_ = now_ms + config_.sync_check_interval_ms;
  bool go = drain_;
  if (!go) {
    SyncInputs in;
    in.now_ms = deps_.clock->WallMs();
    in.pending = deps_.store->PendingRows().value_or(0);
    in.critical_pending = deps_.store->CriticalPending().value_or(0);
    in.last_sync_ms = last_sync_wall_ms_;
    in.retry_not_before_ms = retry_not_before_wall_ms_;
    in.power = PowerState{NetworkType::kEthernet, std::nullopt, false};
    if (deps_.power != nullptr) {
      auto power = deps_.power->Read(in.now_ms);
      in.power = power.ok() ? power.value() : PowerState{};  // unknown: treated as offline
    }
    go = ShouldSync(config_.strategy, config_.strategy_config, in).sync;
  }
  if (go) StartSync();
}

bool Agent::SyncNow() {
  if (sync_in_flight_) return false;
  StartSync();
  return sync_in_flight_;
}

void Agent::StartSync() {
  auto batch = deps_.store->BuildBatch(config_.sync_budget_bytes);
  if (!batch.ok()) {
    ++stats_.store_errors;
    drain_ = false;
    return;
  }
  const sync::SyncBatch& b = batch.value();
  if (b.inferences.empty() && b.hard_samples.empty() && b.health.empty()) {
    drain_ = false;
    last_sync_wall_ms_ = deps_.clock->WallMs();  // nothing pending counts as in sync
    return;
  }
  sync_in_flight_ = true;
  std::weak_ptr<bool> alive = alive_;
  deps_.sync->Send(b, [this, alive, sent = b](Expected<sync::IngestResult> ack) {
    const auto token = alive.lock();
    if (!token || !*token) return;
    sync_in_flight_ = false;
    const std::int64_t now = deps_.clock->SteadyMs();
    const std::uint64_t bytes = deps_.sync->last_upload_bytes();
    stats_.sync_bytes += bytes;
    if (bytes > 0) deps_.store->RecordBytesSent(ToString(config_.strategy), static_cast<std::int64_t>(bytes));
    if (!ack.ok()) {
      ++stats_.syncs_failed;
      drain_ = false;
      next_sync_check_ms_ = now + config_.sync_retry_ms;
      retry_not_before_wall_ms_ = deps_.clock->WallMs() + config_.sync_retry_ms;
      return;
    }
    const sync::IngestResult& r = ack.value();
    if (auto marked = deps_.store->MarkSynced(sent, r); !marked.ok()) {
      ++stats_.store_errors;
      drain_ = false;
      return;
    }
    ++stats_.syncs_ok;
    stats_.rows_synced += r.inferences.stored.size() + r.inferences.already_present.size() +
                          r.hard_samples.stored.size() + r.hard_samples.already_present.size() +
                          r.health.stored.size() + r.health.already_present.size();
    last_sync_wall_ms_ = deps_.clock->WallMs();
    retry_not_before_wall_ms_.reset();
    drain_ = true;  // more may be waiting: the next Poll sends the next batch
    next_sync_check_ms_ = now;
  });
}

void Agent::Shutdown() {
  while (!pending_.empty()) {
    const auto it = pending_.begin();
    const std::int64_t seq = it->first;
    const Pending pending = it->second;
    pending_.erase(it);
    Resolve(seq, pending, "timeout", "aborted: the agent stopped before the cloud answered");
  }
  WriteHealth();
  PublishStatus("offline");
}

}  // namespace edgefleet::agent
