#include "agent/ota/record.h"

#include <nlohmann/json.hpp>

#include "common/json_number.h"

namespace edgefleet::ota {
namespace {

using common::Error;
using common::ErrorCode;
using nlohmann::json;

json IdentityToJson(const ModelIdentity& id) {
  return json{{"source", ToString(id.source)}, {"version", id.version}, {"sha256", id.sha256}};
}

ModelSource SourceFromString(const std::string& s) {
  if (s == "disk") return ModelSource::kDisk;
  if (s == "backup") return ModelSource::kBackup;
  return ModelSource::kBuiltin;
}

}  // namespace

const char* ToString(ModelSource source) {
  switch (source) {
    case ModelSource::kBuiltin: return "builtin";
    case ModelSource::kDisk: return "disk";
    case ModelSource::kBackup: return "backup";
  }
  return "builtin";
}

std::string SerializeRecord(const Record& r) {
  json j = {
      {"schema", kRecordSchema},
      {"state", ToString(r.state)},
      {"attempt", r.attempt},
      {"kind", r.kind == UpdateKind::kThresholds ? "thresholds" : "model"},
      {"manifest", r.manifest_json},
      {"manifest_signature", r.manifest_signature},
      {"artifact_signature", r.artifact_signature},
      {"etag", r.etag},
      {"target_version", r.target_version},
      {"target_sha256", r.target_sha256},
      {"target_size", r.target_size},
      {"thresholds", r.thresholds_json},
      {"thresholds_signature", r.thresholds_signature},
      {"downloaded", r.downloaded},
      {"resume_sha256", r.resume_sha256},
      {"resume_offset", r.resume_offset},
      {"resume_etag", r.resume_etag},
      {"previous", IdentityToJson(r.previous)},
      {"state_entered_ms", r.state_entered_ms},
      {"state_deadline_ms", r.state_deadline_ms},
      {"retries", r.retries},
      {"next_try_ms", r.next_try_ms},
      {"transitions", r.transitions},
      {"restarts", r.restarts},
      {"clean_shutdown", r.clean_shutdown},
      {"health_started_ms", r.health_started_ms},
      {"baseline_latency_ms", r.baseline_latency_ms},
      {"baseline_escalation", r.baseline_escalation},
      {"last_error", r.last_error},
      {"refused", r.refused},
      {"next_check_ms", r.next_check_ms},
      {"reports", json::parse(r.reports.Serialize())},
  };
  return j.dump();
}

common::Expected<Record> ParseRecord(std::string_view text) {
  try {
    const json j = json::parse(text);
    if (!j.is_object()) return Error(ErrorCode::kCorrupt, "OTA record is not a JSON object");
    if (common::JsonInteger<int>(j.at("schema")) != kRecordSchema) {
      return Error(ErrorCode::kCorrupt, "OTA record has schema " + j.at("schema").dump() + ", this agent reads " +
                                            std::to_string(kRecordSchema));
    }
    Record r;
    const auto state = StateFromString(j.at("state").get<std::string>());
    if (!state) return Error(ErrorCode::kCorrupt, "OTA record names an unknown state");
    r.state = *state;
    r.attempt = common::JsonInteger<std::uint64_t>(j.at("attempt"));
    r.kind = j.at("kind").get<std::string>() == "thresholds" ? UpdateKind::kThresholds : UpdateKind::kModel;
    r.manifest_json = j.at("manifest").get<std::string>();
    r.manifest_signature = j.at("manifest_signature").get<std::string>();
    r.artifact_signature = j.at("artifact_signature").get<std::string>();
    r.etag = j.at("etag").get<std::string>();
    r.target_version = common::JsonInteger<std::int64_t>(j.at("target_version"));
    r.target_sha256 = j.at("target_sha256").get<std::string>();
    r.target_size = common::JsonInteger<std::uint64_t>(j.at("target_size"));
    r.thresholds_json = j.at("thresholds").get<std::string>();
    r.thresholds_signature = j.at("thresholds_signature").get<std::string>();
    r.downloaded = common::JsonInteger<std::uint64_t>(j.at("downloaded"));
    r.resume_sha256 = j.at("resume_sha256").get<std::string>();
    r.resume_offset = common::JsonInteger<std::uint64_t>(j.at("resume_offset"));
    r.resume_etag = j.at("resume_etag").get<std::string>();
    const json& prev = j.at("previous");
    r.previous.source = SourceFromString(prev.at("source").get<std::string>());
    r.previous.version = common::JsonInteger<std::int64_t>(prev.at("version"));
    r.previous.sha256 = prev.at("sha256").get<std::string>();
    r.state_entered_ms = common::JsonInteger<std::int64_t>(j.at("state_entered_ms"));
    r.state_deadline_ms = common::JsonInteger<std::int64_t>(j.at("state_deadline_ms"));
    r.retries = common::JsonInteger<std::uint32_t>(j.at("retries"));
    r.next_try_ms = common::JsonInteger<std::int64_t>(j.at("next_try_ms"));
    r.transitions = common::JsonInteger<std::uint32_t>(j.at("transitions"));
    r.restarts = common::JsonInteger<std::uint32_t>(j.at("restarts"));
    r.clean_shutdown = j.at("clean_shutdown").get<bool>();
    r.health_started_ms = common::JsonInteger<std::int64_t>(j.at("health_started_ms"));
    r.baseline_latency_ms = j.at("baseline_latency_ms").get<double>();
    r.baseline_escalation = j.at("baseline_escalation").get<double>();
    r.last_error = j.at("last_error").get<std::string>();
    r.refused = j.at("refused").get<std::vector<std::string>>();
    r.next_check_ms = common::JsonInteger<std::int64_t>(j.at("next_check_ms"));
    EDGEFLEET_RETURN_IF_ERROR(r.reports.Parse(j.at("reports").dump()));
    return r;
  } catch (const json::exception& e) {
    return Error(ErrorCode::kCorrupt, std::string("OTA record does not parse: ") + e.what());
  }
}

}  // namespace edgefleet::ota
