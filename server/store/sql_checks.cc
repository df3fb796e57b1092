#include "server/store/sql_checks.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

#include "common/crypto.h"
#include "common/text.h"

namespace edgefleet::store::sql {

using common::Error;
using common::ErrorCode;
using common::Expected;
using common::Ok;

Error Invalid(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

namespace {

template <typename RowT>
Expected<void> CheckSeqs(std::string_view kind, const std::vector<RowT>& rows) {
  if (rows.size() > kMaxBatchRows) {
    return Invalid(std::string(kind) + ": more than " + std::to_string(kMaxBatchRows) + " rows");
  }
  return sync::CheckUniqueSeqs(kind, rows);
}

}  // namespace

// Device ids appear in MQTT topics and URLs: a conservative alphabet.
static_assert(kMaxIdBytes == common::kMaxDeviceIdBytes);

Expected<void> CheckDeviceId(std::string_view id) {
  if (!common::IsDeviceIdText(id)) {
    return Invalid("device id must be 1 to " + std::to_string(kMaxIdBytes) + " bytes of letters, digits and - _ . :");
  }
  return Ok();
}

// A file name under the server's data dir: no path separators, no "..".
Expected<void> CheckFilename(std::string_view name) {
  if (name.empty() || name.size() > kMaxShortTextBytes || name == "." || name == "..") {
    return Invalid("model filename must be a plain file name");
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return Invalid("model filename may hold only letters, digits and - _ .");
  }
  return Ok();
}

Expected<void> CheckTokenHash(std::string_view hash) {
  if (!common::IsSha256Hex(hash)) return Invalid("token hash is not 64 lowercase hex digits");
  return Ok();
}

Expected<void> CheckAtLeast(std::string_view field, std::int64_t value, std::int64_t minimum) {
  if (value < minimum) {
    return Invalid(std::string(field) + " is " + std::to_string(value) + ", below " +
                   std::to_string(minimum));
  }
  return Ok();
}

constexpr double kMax = std::numeric_limits<double>::max();

Expected<void> CheckWindow(std::string_view field, const std::vector<float>& values) {
  if (values.size() != kWindowValues) {
    return Invalid(std::string(field) + " holds " + std::to_string(values.size()) + " values, not " +
                   std::to_string(kWindowValues));
  }
  // A branch-free pass first (every row is checked; almost all are fine),
  // then the offending index for the message.
  bool finite = true;
  for (const float v : values) finite &= std::fabs(v) <= std::numeric_limits<float>::max();
  if (finite) return Ok();
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      return Invalid(std::string(field) + "[" + std::to_string(i) + "] is not finite");
    }
  }
  return Ok();
}

Expected<void> CheckJsonObject(std::string_view field, std::string_view json) {
  EDGEFLEET_RETURN_IF_ERROR(CheckText(field, json, kMaxJsonBytes, false));
  const auto first = json.find_first_not_of(" \t\r\n");
  // accept() runs the SAX parser without building a document and does not throw.
  if (first == std::string_view::npos || json[first] != '{' || !nlohmann::json::accept(json)) {
    return Invalid(std::string(field) + " is not a JSON object");
  }
  return Ok();
}

Expected<void> CheckDecision(std::string_view decision) {
  if (decision.empty() || decision.size() > 32) return Invalid("decision must be 1 to 32 bytes");
  for (const char c : decision) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return Invalid("decision may hold only a-z and _");
  }
  return Ok();
}

Expected<void> CheckModel(const Model& m) {
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("model version", m.version, 1));
  EDGEFLEET_RETURN_IF_ERROR(CheckText("model_id", m.model_id, kMaxIdBytes, false));
  EDGEFLEET_RETURN_IF_ERROR(CheckFilename(m.filename));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("size_bytes", m.size_bytes, 1));
  if (!common::IsSha256Hex(m.sha256)) return Invalid("model sha256 is not 64 lowercase hex digits");
  const auto signature = common::Base64Decode(m.signature);
  if (!signature.ok() || signature->size() != common::kEd25519SignatureBytes) {
    return Invalid("model signature is not the base64 of a 64-byte Ed25519 signature");
  }
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("min_device_ram_mb", m.min_device_ram_mb, 0));
  EDGEFLEET_RETURN_IF_ERROR(
      CheckText("min_firmware_version", m.min_firmware_version, kMaxShortTextBytes, true));
  const ModelThresholds& t = m.thresholds;
  for (const double v : {t.low, t.high, t.mu, t.sigma, t.k_low, t.k_high}) {
    if (!std::isfinite(v)) return Invalid("model thresholds must be finite");
  }
  if (t.low > t.high) return Invalid("model threshold low is above high");
  if (t.sigma < 0) return Invalid("model sigma is negative");
  return Ok();
}

Expected<void> CheckEscalation(const Escalation& e) {
  EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(e.device_id));
  EDGEFLEET_RETURN_IF_ERROR(CheckWindow("features", e.features));
  EDGEFLEET_RETURN_IF_ERROR(CheckFinite("edge_mse", e.edge_mse, 0, kMax));
  EDGEFLEET_RETURN_IF_ERROR(CheckFinite("cloud_mse", e.cloud_mse, 0, kMax));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("model_version", e.model_version, 0));
  if (e.label != 0 && e.label != 1) return Invalid("label must be 0 or 1");
  EDGEFLEET_RETURN_IF_ERROR(CheckFinite("confidence", e.confidence, 0, 1));
  return Ok();
}

Expected<void> CheckReport(const DeviceReport& r) {
  if (r.model_version) EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("model_version", *r.model_version, 0));
  if (r.firmware_version) {
    EDGEFLEET_RETURN_IF_ERROR(
        CheckText("firmware_version", *r.firmware_version, kMaxShortTextBytes, true));
  }
  if (r.ram_mb) EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("ram_mb", *r.ram_mb, 0));
  if (r.buffer_depth) EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("buffer_depth", *r.buffer_depth, 0));
  if (r.backoff) {
    EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("backoff failures", r.backoff->failures, 0));
    EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("backoff delay_ms", r.backoff->delay_ms, 0));
  }
  if (r.dropped_rows) EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("dropped_rows", *r.dropped_rows, 0));
  if (r.health_json) EDGEFLEET_RETURN_IF_ERROR(CheckJsonObject("health", *r.health_json));
  return Ok();
}

Expected<void> CheckBatch(const SyncBatch& batch) {
  EDGEFLEET_RETURN_IF_ERROR(CheckSeqs("inferences", batch.inferences));
  EDGEFLEET_RETURN_IF_ERROR(CheckSeqs("hard_samples", batch.hard_samples));
  EDGEFLEET_RETURN_IF_ERROR(CheckSeqs("health", batch.health));
  for (const InferenceRow& r : batch.inferences) {
    auto ok = [&]() -> Expected<void> {
      EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("model_version", r.model_version, 0));
      EDGEFLEET_RETURN_IF_ERROR(CheckDecision(r.decision));
      EDGEFLEET_RETURN_IF_ERROR(CheckFinite("confidence", r.confidence, 0, 1));
      EDGEFLEET_RETURN_IF_ERROR(CheckFinite("mse", r.mse, 0, kMax));
      EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("latency_us", r.latency_us, 0));
      EDGEFLEET_RETURN_IF_ERROR(CheckText("input_hash", r.input_hash, kMaxShortTextBytes, true));
      return Ok();
    }();
    if (!ok.ok()) return std::move(ok).error().WithContext("inference seq " + std::to_string(r.seq));
  }
  for (const HardSampleRow& r : batch.hard_samples) {
    auto ok = [&]() -> Expected<void> {
      EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("model_version", r.model_version, 0));
      EDGEFLEET_RETURN_IF_ERROR(CheckWindow("window", r.window));
      EDGEFLEET_RETURN_IF_ERROR(CheckFinite("edge_mse", r.edge_mse, 0, kMax));
      EDGEFLEET_RETURN_IF_ERROR(CheckFinite("confidence", r.confidence, 0, 1));
      EDGEFLEET_RETURN_IF_ERROR(CheckDecision(r.decision));
      return Ok();
    }();
    if (!ok.ok()) return std::move(ok).error().WithContext("hard sample seq " + std::to_string(r.seq));
  }
  for (const HealthRow& r : batch.health) {
    auto ok = [&]() -> Expected<void> {
      EDGEFLEET_RETURN_IF_ERROR(CheckAtLeast("model_version", r.model_version, 0));
      if (r.period_end_ms < r.period_start_ms) return Invalid("period ends before it starts");
      EDGEFLEET_RETURN_IF_ERROR(CheckJsonObject("stats", r.stats_json));
      return Ok();
    }();
    if (!ok.ok()) return std::move(ok).error().WithContext("health seq " + std::to_string(r.seq));
  }
  return Ok();
}

}  // namespace edgefleet::store::sql
