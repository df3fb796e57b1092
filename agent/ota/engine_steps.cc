// One function per state of the OTA state machine: what the state does in
// one Tick, and which event it fires. engine.cc holds the machine itself.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "agent/ota/downloader.h"
#include "agent/ota/engine.h"
#include "common/json_number.h"
#include "common/manifest.h"

namespace edgefleet::ota {
namespace {

using common::Error;
using common::ErrorCode;
using nlohmann::json;

constexpr std::int64_t kStoppingRetryMs = 100;  // activation while the agent stops

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

// Dotted versions compared part by part, numerically where both parts are numbers.
int CompareVersions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) {
    const std::size_t dot = s.find('.');
    std::string_view part = s.substr(0, dot);
    s.remove_prefix(dot == std::string_view::npos ? s.size() : dot + 1);
    return part;
  };
  while (!a.empty() || !b.empty()) {
    const std::string_view pa = next(a), pb = next(b);
    const bool na = !pa.empty() && std::all_of(pa.begin(), pa.end(), ::isdigit);
    const bool nb = !pb.empty() && std::all_of(pb.begin(), pb.end(), ::isdigit);
    if (na && nb) {
      const unsigned long long x = std::stoull(std::string(pa)), y = std::stoull(std::string(pb));
      if (x != y) return x < y ? -1 : 1;
    } else if (pa != pb) {
      return pa < pb ? -1 : 1;
    }
  }
  return 0;
}

}  // namespace

bool OtaEngine::VerifySignature(std::string_view bytes, std::string_view signature_base64) const {
  const auto signature = common::Base64Decode(signature_base64);
  if (!signature.ok()) return false;
  for (const auto& key : config_.trusted_keys) {
    if (common::Verify(key, common::AsBytes(bytes), signature.value()).ok()) return true;
  }
  return false;
}

bool OtaEngine::RetryLater(std::int64_t now, const common::Error& error, std::uint32_t budget) {
  if (++record_.retries > budget) return false;
  record_.next_try_ms = now + Backoff(record_.retries);
  record_.last_error = error.message();
  (void)Persist();  // the budget survives restarts
  return true;
}

std::int64_t OtaEngine::StepCheck(std::int64_t now) {
  const auto active = active_model();
  HttpRequest get;
  get.url = config_.server_url + "/api/updates/check?device_id=" + UrlEncode(config_.device_id) +
            "&current_version=" + std::to_string(active ? active->version() : 0) +
            "&device_ram_mb=" + std::to_string(config_.device_ram_mb) +
            "&firmware_version=" + UrlEncode(config_.firmware_version);
  get.headers = AuthHeaders();
  get.timeout = config_.http_timeout;
  get.max_body_bytes = 64 * 1024;
  auto response = http_.Send(get);
  if (!response.ok() || response.value().status != 200) {
    record_.next_check_ms = NextCheckTime(now);
    (void)Fire(Event::kCheckFailed);
    return record_.next_check_ms;
  }
  common::Manifest manifest;
  std::string signature;
  bool available = false;
  std::string refusal;
  try {
    const json body = json::parse(response.value().body);
    available = body.value("update_available", false);
    if (available) {
      auto parsed = common::ParseManifest(body.at("manifest").dump());
      if (!parsed.ok()) {
        refusal = "the manifest is invalid: " + parsed.error().message();
      } else {
        manifest = std::move(parsed).value();
      }
      signature = body.at("signature").get<std::string>();
    }
  } catch (const json::exception& e) {
    refusal = std::string("the update check's answer does not parse: ") + e.what();
  }
  if (!available && refusal.empty()) {
    if (config_.threshold_updates && OfferThresholds(now)) return now;
    record_.next_check_ms = NextCheckTime(now);
    (void)Fire(Event::kNoUpdate);
    return record_.next_check_ms;
  }
  if (refusal.empty()) {
    bool signed_ok = false;
    for (const auto& key : config_.trusted_keys) signed_ok = signed_ok || common::VerifyManifest(key, manifest, signature).ok();
    if (!signed_ok) {
      refusal = "the manifest's signature does not verify with any trusted key";
    } else if (manifest.min_device_ram_mb > config_.device_ram_mb) {
      refusal = "the model needs " + std::to_string(manifest.min_device_ram_mb) + " MB of RAM, the device has " +
                std::to_string(config_.device_ram_mb);
    } else if (!manifest.min_firmware_version.empty() &&
               CompareVersions(config_.firmware_version, manifest.min_firmware_version) < 0) {
      refusal = "the model needs firmware " + manifest.min_firmware_version + ", the device runs " +
                config_.firmware_version;
    }
  }
  const bool same = active && active->sha256() == manifest.sha256;
  if (same || (!manifest.sha256.empty() && IsRefused(manifest.sha256))) {
    record_.next_check_ms = NextCheckTime(now);
    (void)Fire(Event::kNoUpdate);
    return record_.next_check_ms;
  }
  // A new attempt: what it installs, and what to go back to.
  record_.attempt += 1;
  record_.kind = UpdateKind::kModel;
  record_.manifest_json = common::CanonicalManifestBytes(manifest).value_or(std::string());
  record_.manifest_signature = signature;
  record_.artifact_signature.clear();
  record_.etag.clear();
  record_.target_version = manifest.version;
  record_.target_sha256 = manifest.sha256;
  record_.target_size = static_cast<std::uint64_t>(std::max<std::int64_t>(manifest.size_bytes, 0));
  record_.thresholds_json.clear();
  record_.thresholds_signature.clear();
  record_.downloaded = 0;
  record_.previous = active ? active->identity() : ModelIdentity{};
  record_.transitions = 0;
  record_.restarts = 0;
  record_.last_error.clear();
  const HealthStats base = baseline_.Snapshot();
  const bool known = base.inferences >= config_.health.min_inferences;
  record_.baseline_latency_ms = known ? base.mean_latency_ms() : 0;
  record_.baseline_escalation = known ? base.escalation_rate() : 0;
  if (!refusal.empty()) {
    // Refused before anything is downloaded; reported once, not retried for this artifact.
    Fail(refusal, true);
    return record_.next_check_ms;
  }
  // The same artifact as a download the network interrupted: resume it.
  const auto part_size = fs_.FileSize(File(kPartFile));
  if (!record_.resume_sha256.empty() && record_.resume_sha256 == manifest.sha256 && part_size.ok() &&
      part_size.value() >= record_.resume_offset) {
    record_.downloaded = record_.resume_offset;
    record_.etag = record_.resume_etag;
  } else {
    (void)fs_.Remove(File(kPartFile));
  }
  record_.resume_sha256.clear();
  record_.resume_offset = 0;
  (void)Fire(Event::kModelOffered);
  return now;
}

bool OtaEngine::OfferThresholds(std::int64_t now) {
  const auto active = active_model();
  if (!active) return false;
  HttpRequest get;
  get.url = config_.server_url + "/model/thresholds";
  get.headers = AuthHeaders();
  get.timeout = config_.http_timeout;
  get.max_body_bytes = 16 * 1024;
  auto response = http_.Send(get);
  if (!response.ok() || response.value().status != 200) return false;
  const std::string& body = response.value().body;
  core::Thresholds t;
  try {
    const json j = json::parse(body);
    if (common::JsonInteger<std::int64_t>(j.at("version")) != active->version()) return false;  // for another model
    t.low = common::JsonFloat(j.at("low_threshold"));
    t.high = common::JsonFloat(j.at("high_threshold"));
    t.mu = common::JsonFloat(j.at("mu"));
    t.sigma = common::JsonFloat(j.at("sigma"));
    t.k_low = common::JsonFloat(j.at("k_low"));
    t.k_high = common::JsonFloat(j.at("k_high"));
  } catch (const json::exception&) {
    return false;
  }
  const core::Thresholds& cur = active->view().thresholds;
  if (t.low == cur.low && t.high == cur.high && t.mu == cur.mu && t.sigma == cur.sigma && t.k_low == cur.k_low &&
      t.k_high == cur.k_high) {
    return false;  // already applied
  }
  const auto body_sha = common::Sha256Hex(body);
  if (!body_sha.ok() || IsRefused("thr:" + body_sha.value())) return false;
  const std::string signature = response.value().Header(kSignatureHeader).value_or("");
  auto patched = WithThresholds(active->view_bytes(), t);
  auto patched_sha = patched.ok() ? common::Sha256Hex(patched.value()) : Expected<std::string>(patched.error());
  // The new attempt.
  record_.attempt += 1;
  record_.kind = UpdateKind::kThresholds;
  record_.manifest_json.clear();
  record_.manifest_signature.clear();
  record_.artifact_signature.clear();
  record_.etag.clear();
  record_.thresholds_json = body;
  record_.thresholds_signature = signature;
  record_.target_version = active->version();
  record_.target_sha256 = patched_sha.ok() ? patched_sha.value() : std::string();
  record_.target_size = patched.ok() ? patched.value().size() : 0;
  record_.downloaded = 0;
  record_.previous = active->identity();
  record_.transitions = 0;
  record_.restarts = 0;
  record_.last_error.clear();
  record_.baseline_latency_ms = 0;
  record_.baseline_escalation = 0;
  const HealthStats base = baseline_.Snapshot();
  if (base.inferences >= config_.health.min_inferences) {
    record_.baseline_latency_ms = base.mean_latency_ms();
    record_.baseline_escalation = base.escalation_rate();
  }
  std::string refusal;
  if (!patched.ok()) {
    refusal = "the thresholds cannot be applied: " + patched.error().message();
  } else if (signature.empty() || !VerifySignature(body, signature)) {
    refusal = "the thresholds' signature is missing or does not verify with any trusted key";
  }
  if (!refusal.empty()) {
    Refuse("thr:" + body_sha.value());
    (void)Fire(Event::kFail, refusal);
    return true;
  }
  record_.resume_sha256.clear();  // the staged thresholds take download.part's place
  record_.resume_offset = 0;
  // The new artifact is staged where a download would leave it, then the record moves on.
  if (!fs_.WriteAt(File(kPartFile), 0, patched.value(), true).ok() || !fs_.SyncDir(config_.model_dir).ok()) {
    (void)Fire(Event::kFail, "staging the thresholds failed");
    return true;
  }
  record_.downloaded = record_.target_size;
  (void)Fire(Event::kThresholdsOffered);
  (void)now;
  return true;
}

std::int64_t OtaEngine::StepDownload(std::int64_t now) {
  if (now < record_.next_try_ms) return record_.next_try_ms;
  const std::filesystem::path part = File(kPartFile);
  if (record_.downloaded == 0 && record_.retries == 0) {
    const auto free = fs_.FreeBytes(config_.model_dir);
    const std::uint64_t need = 2 * record_.target_size + config_.free_space_margin;
    if (free.ok() && free.value() < need) {
      Fail("not enough free space: the update needs " + std::to_string(need) + " bytes, " +
               std::to_string(free.value()) + " are free",
           false);
      return now;
    }
  }
  // The partial file must hold every byte the record counts (it was fsynced before the record).
  const auto have = fs_.FileSize(part);
  if (!have.ok() || have.value() < record_.downloaded) record_.downloaded = 0;
  ChunkRequest request;
  request.url = nlohmann::json::parse(record_.manifest_json).at("url").get<std::string>();
  request.headers = AuthHeaders();
  request.size = record_.target_size;
  request.offset = record_.downloaded;
  request.chunk_bytes = config_.chunk_bytes;
  request.etag = record_.etag;
  request.timeout = config_.http_timeout;
  auto chunk = DownloadChunk(fs_, http_, part, request);
  if (!chunk.ok()) {
    const Error& e = chunk.error();
    switch (e.code()) {
      case ErrorCode::kResourceExhausted: Fail("disk full while downloading: " + e.message(), false); return now;
      case ErrorCode::kNotFound: Fail("download refused: " + e.message(), false); return now;
      case ErrorCode::kCorrupt: Fail("download refused: " + e.message(), true); return now;  // contradicts the manifest
      case ErrorCode::kAborted:
        record_.downloaded = 0;
        record_.etag.clear();
        record_.artifact_signature.clear();
        [[fallthrough]];
      default:
        if (!RetryLater(now, e, config_.download_retries)) {
          keep_part_ = true;
          Fail("download failed after " + std::to_string(config_.download_retries) + " retries: " + e.message(), false);
          return now;
        }
        return record_.next_try_ms;
    }
  }
  const ChunkResult& got = chunk.value();
  if (got.restarted || (!record_.artifact_signature.empty() && !got.signature.empty() &&
                        got.signature != record_.artifact_signature)) {
    record_.artifact_signature.clear();  // a new artifact: its signature is the one just received
  }
  if (record_.artifact_signature.empty()) record_.artifact_signature = got.signature;
  if (record_.etag.empty() || got.restarted) record_.etag = got.etag;
  if (record_.downloaded == 0) (void)fs_.SyncDir(config_.model_dir);  // the partial file's name is durable
  record_.downloaded = got.downloaded;
  record_.retries = 0;
  if (record_.downloaded >= record_.target_size) {
    (void)Fire(Event::kDownloaded);
  } else {
    (void)Persist();
  }
  return now;
}

std::int64_t OtaEngine::StepVerify(std::int64_t now) {
  auto bytes = fs_.ReadFile(File(kPartFile), core::kMaxArtifactSize + 1);
  if (!bytes.ok()) {
    if (bytes.error().code() == ErrorCode::kNotFound && record_.kind == UpdateKind::kModel) {
      // Lost (an unsynced directory at a crash): download again, the record still names the offer.
      record_.downloaded = 0;
      (void)Fire(Event::kPartLost);
      return now;
    }
    Fail("reading the downloaded artifact: " + bytes.error().message(), false);
    return now;
  }
  const std::string& data = bytes.value();
  const auto sha = common::Sha256Hex(data);
  if (data.size() != record_.target_size || !sha.ok() || sha.value() != record_.target_sha256) {
    Fail("the artifact's size or sha256 does not match the manifest (" + std::to_string(data.size()) + " bytes, sha256 " +
             sha.value_or("?") + ")",
         true);
    return now;
  }
  if (record_.kind == UpdateKind::kModel) {
    if (record_.artifact_signature.empty()) {
      Fail("the artifact is unsigned (no " + std::string(kSignatureHeader) + ")", true);
      return now;
    }
    if (!VerifySignature(data, record_.artifact_signature)) {
      Fail("the artifact's signature does not verify with any trusted key", true);
      return now;
    }
  } else if (!VerifySignature(record_.thresholds_json, record_.thresholds_signature)) {
    Fail("the thresholds' signature does not verify with any trusted key", true);
    return now;
  }
  auto model = Model::Load(data, ModelSource::kDisk);
  if (!model.ok()) {
    Fail("the artifact is not a valid model: " + model.error().message(), true);
    return now;
  }
  if (model.value()->version() != record_.target_version) {
    Fail("the artifact is model version " + std::to_string(model.value()->version()) + ", the manifest says " +
             std::to_string(record_.target_version),
         true);
    return now;
  }
  (void)Fire(Event::kVerified);
  return now;
}

std::int64_t OtaEngine::StepValidate(std::int64_t now) {
  auto bytes = fs_.ReadFile(File(kPartFile), core::kMaxArtifactSize + 1);
  auto model = bytes.ok() ? Model::Load(bytes.value(), ModelSource::kDisk)
                          : Expected<std::shared_ptr<const Model>>(bytes.error());
  if (!model.ok() || model.value()->sha256() != record_.target_sha256) {
    Fail("the verified artifact changed on disk before validation", false);
    return now;
  }
  auto report = Validate(*model.value(), BuiltinGoldenWindows(), config_.validation);
  if (!report.ok()) {
    Fail(report.error().message(), true);
    return now;
  }
  // The swap must be on record before it starts: a crash in it then finishes it.
  if (!Fire(Event::kValidated).ok()) Fail("the OTA record cannot be written", false);
  return now;
}

std::int64_t OtaEngine::StepApply(std::int64_t now) {
  if (now < record_.next_try_ms) return record_.next_try_ms;
  const std::filesystem::path current = File(kCurrentFile);
  auto current_bytes = fs_.ReadFile(current, core::kMaxArtifactSize);
  auto current_model = current_bytes.ok() ? Model::Load(current_bytes.value(), ModelSource::kDisk)
                                          : Expected<std::shared_ptr<const Model>>(current_bytes.error());
  const bool done = current_model.ok() && current_model.value()->sha256() == record_.target_sha256;
  if (!done) {
    auto fresh = fs_.ReadFile(File(kPartFile), core::kMaxArtifactSize + 1);
    auto sha = fresh.ok() ? common::Sha256Hex(fresh.value()) : Expected<std::string>(fresh.error());
    if (!sha.ok() || sha.value() != record_.target_sha256) {
      Fail("the validated artifact is gone before the swap", false);
      return now;
    }
    // The previous model, if it ran from current.efm, becomes the backup, durably, before current.efm is replaced.
    if (current_model.ok() && current_model.value()->sha256() == record_.previous.sha256) {
      auto backup = fs_.ReadFile(File(kBackupFile), core::kMaxArtifactSize);
      if (!backup.ok() || backup.value() != current_bytes.value()) {
        if (auto w = fs_.WriteFileAtomically(File(kBackupFile), current_bytes.value()); !w.ok()) {
          if (!RetryLater(now, w.error(), config_.step_retries)) Fail("writing the backup: " + w.error().message(), false);
          return now;
        }
      }
    }
    if (auto w = fs_.WriteFileAtomically(current, fresh.value()); !w.ok()) {
      if (!RetryLater(now, w.error(), config_.step_retries)) Fail("swapping the model in: " + w.error().message(), false);
      return now;
    }
  }
  (void)fs_.Remove(File(kPartFile));
  (void)fs_.SyncDir(config_.model_dir);
  if (!Fire(Event::kApplied).ok()) Fail("the OTA record cannot be written", false);
  return now;
}

std::int64_t OtaEngine::StepActivate(std::int64_t now) {
  auto bytes = fs_.ReadFile(File(kCurrentFile), core::kMaxArtifactSize);
  auto model = bytes.ok() ? Model::Load(bytes.value(), ModelSource::kDisk)
                          : Expected<std::shared_ptr<const Model>>(bytes.error());
  if (!model.ok() || model.value()->sha256() != record_.target_sha256) {
    Fail("the swapped-in model is not on disk", false);
    return now;
  }
  if (activate_) {
    if (auto activated = activate_(model.value()); !activated.ok()) {
      if (activated.error().code() == ErrorCode::kUnavailable) {
        // The agent is stopping: not the model's fault. Stay in activating;
        // the next start loads the swapped-in model and activates it then.
        return now + kStoppingRetryMs;
      }
      Fail("the agent could not activate the model: " + activated.error().message(), true);
      return now;
    }
  }
  SetActive(std::move(model).value());
  health_.Reset();
  record_.health_started_ms = now;
  if (!Fire(Event::kActivated).ok()) Fail("the OTA record cannot be written", false);
  return now;
}

std::int64_t OtaEngine::StepHealth(std::int64_t now) {
  const HealthStats stats = health_.Snapshot();
  const Judgement judgement = Judge(stats, record_.baseline_latency_ms, record_.baseline_escalation,
                                    now - record_.health_started_ms, config_.health);
  switch (judgement.verdict) {
    case Verdict::kHealthy: (void)Fire(Event::kHealthy); return now;
    case Verdict::kUnhealthy:
      Refuse(record_.kind == UpdateKind::kThresholds ? "thr:" + record_.target_sha256 : record_.target_sha256);
      (void)Fire(Event::kUnhealthy, "health check: " + judgement.reason);
      return now;
    case Verdict::kPending: break;
  }
  if (now > record_.state_deadline_ms) {
    Fail("the health check did not conclude within its deadline", true);
    return now;
  }
  return std::min(record_.health_started_ms + config_.health.period_ms > now
                      ? record_.health_started_ms + config_.health.period_ms
                      : now + 1'000,
                  now + 1'000);
}

std::int64_t OtaEngine::StepRollback(std::int64_t now) {
  auto model = RestorePrevious();
  if (activate_ && model) (void)activate_(model);  // the previous model ran before; nothing better to do if refused
  SetActive(std::move(model));
  (void)Fire(Event::kRestored, record_.last_error);
  return now;
}

}  // namespace edgefleet::ota
