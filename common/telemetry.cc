#include "common/telemetry.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/text.h"

namespace edgefleet::telemetry {
namespace {

using common::Error;
using common::ErrorCode;
using Json = nlohmann::json;

constexpr std::int64_t kMaxCount = std::int64_t{1} << 40;

Error Invalid(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

// Parses an object; nlohmann's exceptions are disabled for parsing and every
// access below checks types first, so nothing here throws on bad input.
Expected<Json> ParseObject(std::string_view payload) {
  if (payload.size() > kMaxPayloadBytes) return Invalid("payload above 64 KiB");
  if (!common::IsValidUtf8(payload)) return Invalid("payload is not valid UTF-8");
  Json json = Json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return Invalid("payload is not JSON");
  if (!json.is_object()) return Invalid("payload is not a JSON object");
  return json;
}

const Json* Field(const Json& object, const char* name) {
  auto it = object.find(name);
  return it == object.end() ? nullptr : &*it;
}

Expected<std::int64_t> Int(const Json& object, const char* name, std::int64_t min, std::int64_t max) {
  const Json* v = Field(object, name);
  if (v == nullptr) return Invalid(std::string("missing field \"") + name + "\"");
  std::int64_t value = 0;
  if (v->is_number_unsigned()) {
    const auto u = v->get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return Invalid(std::string("\"") + name + "\" is out of range");
    }
    value = static_cast<std::int64_t>(u);
  } else if (v->is_number_integer()) {
    value = v->get<std::int64_t>();
  } else {
    return Invalid(std::string("\"") + name + "\" is not an integer");
  }
  if (value < min || value > max) return Invalid(std::string("\"") + name + "\" is out of range");
  return value;
}

Expected<std::optional<std::int64_t>> OptionalInt(const Json& object, const char* name,
                                                  std::int64_t min, std::int64_t max) {
  if (Field(object, name) == nullptr) return std::optional<std::int64_t>();
  EDGEFLEET_ASSIGN_OR_RETURN(std::int64_t v, Int(object, name, min, max));
  return std::optional<std::int64_t>(v);
}

Expected<double> Number(const Json& object, const char* name, double min, double max) {
  const Json* v = Field(object, name);
  if (v == nullptr) return Invalid(std::string("missing field \"") + name + "\"");
  if (!v->is_number()) return Invalid(std::string("\"") + name + "\" is not a number");
  const double value = v->get<double>();
  if (!std::isfinite(value) || value < min || value > max) {
    return Invalid(std::string("\"") + name + "\" is out of range");
  }
  return value;
}

Expected<std::string> String(const Json& object, const char* name, std::size_t max_bytes) {
  const Json* v = Field(object, name);
  if (v == nullptr) return Invalid(std::string("missing field \"") + name + "\"");
  if (!v->is_string()) return Invalid(std::string("\"") + name + "\" is not a string");
  std::string value = v->get<std::string>();
  if (value.size() > max_bytes) return Invalid(std::string("\"") + name + "\" is too long");
  return value;
}

Expected<bool> Bool(const Json& object, const char* name) {
  const Json* v = Field(object, name);
  if (v == nullptr) return Invalid(std::string("missing field \"") + name + "\"");
  if (!v->is_boolean()) return Invalid(std::string("\"") + name + "\" is not a boolean");
  return v->get<bool>();
}

constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
constexpr double kHuge = 1e300;

Expected<std::string> Label(const Json& object, const char* name) {
  EDGEFLEET_ASSIGN_OR_RETURN(std::string v, String(object, name, 16));
  if (v != "normal" && v != "anomaly") {
    return Invalid(std::string("\"") + name + "\" must be \"normal\" or \"anomaly\"");
  }
  return v;
}

// Doubles go out as JSON numbers; a non-finite one (a bug upstream) as 0 so
// the payload stays valid JSON.
double Finite(double v) { return std::isfinite(v) ? v : 0.0; }

std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

const char* ToString(Channel channel) {
  switch (channel) {
    case Channel::kInference: return "inference";
    case Channel::kEscalation: return "escalation";
    case Channel::kStatus: return "status";
    case Channel::kOta: return "ota";
  }
  return "unknown";
}

bool IsValidDeviceId(std::string_view id) {
  if (id.empty() || id.size() > kMaxDeviceIdBytes) return false;
  if (id.front() == '.' || id.front() == '-') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

std::string Topic(std::string_view device_id, Channel channel) {
  std::string topic(kTopicPrefix);
  topic += device_id;
  topic += '/';
  topic += ToString(channel);
  return topic;
}

std::string DeviceFilter(std::string_view device_id) {
  std::string filter(kTopicPrefix);
  filter += device_id;
  filter += "/#";
  return filter;
}

Expected<ParsedTopic> ParseTopic(std::string_view topic) {
  if (!topic.starts_with(kTopicPrefix)) return Invalid("topic is not under edge-ai/device/");
  std::string_view rest = topic.substr(kTopicPrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) return Invalid("topic has no channel");
  const std::string_view id = rest.substr(0, slash);
  const std::string_view channel = rest.substr(slash + 1);
  if (!IsValidDeviceId(id)) return Invalid("topic names an invalid device id");
  for (Channel c : {Channel::kInference, Channel::kEscalation, Channel::kStatus, Channel::kOta}) {
    if (channel == ToString(c)) return ParsedTopic{std::string(id), c};
  }
  return Invalid("unknown telemetry channel \"" + std::string(channel.substr(0, 64)) + "\"");
}

// ---- inference ---------------------------------------------------------------------

std::string ToJson(const InferenceMessage& m) {
  Json j = {{"kind", "decision"},
            {"ts", m.ts_ms},
            {"model_version", m.model_version},
            {"mse", Finite(m.mse)},
            {"decision", m.decision},
            {"confidence", Finite(m.confidence)},
            {"latency_us", m.latency_us},
            {"zone", m.zone},
            {"fallback", m.fallback},
            {"count", m.count}};
  return Dump(j);
}

std::string ToJson(const InferenceSummary& s) {
  Json j = {{"kind", "summary"},
            {"ts", s.ts_ms},
            {"model_version", s.model_version},
            {"period_start", s.period_start_ms},
            {"count", s.count},
            {"normal", s.normal},
            {"anomaly", s.anomaly},
            {"ambiguous", s.ambiguous},
            {"fallbacks", s.fallbacks},
            {"mse_mean", Finite(s.mse_mean)},
            {"mse_max", Finite(s.mse_max)},
            {"confidence_min", Finite(s.confidence_min)},
            {"latency_us_mean", Finite(s.latency_us_mean)},
            {"latency_us_max", s.latency_us_max}};
  return Dump(j);
}

std::string ToJson(const InferenceReport& report) {
  return std::visit([](const auto& r) { return ToJson(r); }, report);
}

Expected<InferenceReport> ParseInference(std::string_view payload) {
  EDGEFLEET_ASSIGN_OR_RETURN(Json j, ParseObject(payload));
  EDGEFLEET_ASSIGN_OR_RETURN(std::string kind, String(j, "kind", 16));
  if (kind == "decision") {
    InferenceMessage m;
    EDGEFLEET_ASSIGN_OR_RETURN(m.ts_ms, Int(j, "ts", 0, kI64Max));
    EDGEFLEET_ASSIGN_OR_RETURN(m.model_version, Int(j, "model_version", 0, kI64Max));
    EDGEFLEET_ASSIGN_OR_RETURN(m.mse, Number(j, "mse", 0, kHuge));
    EDGEFLEET_ASSIGN_OR_RETURN(m.decision, Label(j, "decision"));
    EDGEFLEET_ASSIGN_OR_RETURN(m.confidence, Number(j, "confidence", 0, 1));
    EDGEFLEET_ASSIGN_OR_RETURN(m.latency_us, Int(j, "latency_us", 0, kI64Max));
    EDGEFLEET_ASSIGN_OR_RETURN(m.zone, String(j, "zone", 16));
    if (m.zone != "normal" && m.zone != "ambiguous" && m.zone != "anomaly") {
      return Invalid("\"zone\" must be normal, ambiguous or anomaly");
    }
    EDGEFLEET_ASSIGN_OR_RETURN(m.fallback, Bool(j, "fallback"));
    EDGEFLEET_ASSIGN_OR_RETURN(auto count, OptionalInt(j, "count", 1, kMaxCount));
    m.count = count.value_or(1);
    return InferenceReport(std::move(m));
  }
  if (kind == "summary") {
    InferenceSummary s;
    EDGEFLEET_ASSIGN_OR_RETURN(s.ts_ms, Int(j, "ts", 0, kI64Max));
    EDGEFLEET_ASSIGN_OR_RETURN(s.model_version, Int(j, "model_version", 0, kI64Max));
    EDGEFLEET_ASSIGN_OR_RETURN(s.period_start_ms, Int(j, "period_start", 0, s.ts_ms));
    EDGEFLEET_ASSIGN_OR_RETURN(s.count, Int(j, "count", 1, kMaxCount));
    EDGEFLEET_ASSIGN_OR_RETURN(s.normal, Int(j, "normal", 0, s.count));
    EDGEFLEET_ASSIGN_OR_RETURN(s.anomaly, Int(j, "anomaly", 0, s.count));
    EDGEFLEET_ASSIGN_OR_RETURN(s.ambiguous, Int(j, "ambiguous", 0, s.count));
    EDGEFLEET_ASSIGN_OR_RETURN(s.fallbacks, Int(j, "fallbacks", 0, s.count));
    if (s.normal + s.anomaly != s.count) return Invalid("\"normal\" + \"anomaly\" must equal \"count\"");
    EDGEFLEET_ASSIGN_OR_RETURN(s.mse_mean, Number(j, "mse_mean", 0, kHuge));
    EDGEFLEET_ASSIGN_OR_RETURN(s.mse_max, Number(j, "mse_max", 0, kHuge));
    EDGEFLEET_ASSIGN_OR_RETURN(s.confidence_min, Number(j, "confidence_min", 0, 1));
    EDGEFLEET_ASSIGN_OR_RETURN(s.latency_us_mean, Number(j, "latency_us_mean", 0, kHuge));
    EDGEFLEET_ASSIGN_OR_RETURN(s.latency_us_max, Int(j, "latency_us_max", 0, kI64Max));
    return InferenceReport(std::move(s));
  }
  return Invalid("\"kind\" must be \"decision\" or \"summary\"");
}

const char* ToString(InferencePolicy::Mode mode) {
  switch (mode) {
    case InferencePolicy::Mode::kEvery: return "every";
    case InferencePolicy::Mode::kSample: return "sample";
    case InferencePolicy::Mode::kAggregate: return "aggregate";
  }
  return "unknown";
}

Expected<InferencePolicy::Mode> ParseInferenceMode(std::string_view text) {
  for (auto mode : {InferencePolicy::Mode::kEvery, InferencePolicy::Mode::kSample,
                    InferencePolicy::Mode::kAggregate}) {
    if (text == ToString(mode)) return mode;
  }
  return Invalid("inference mode must be every, sample or aggregate");
}

InferenceReporter::InferenceReporter(InferencePolicy policy) : policy_(policy) {
  policy_.sample_every = std::max<std::int64_t>(1, policy_.sample_every);
  policy_.period_ms = std::max<std::int64_t>(1, policy_.period_ms);
}

InferenceSummary InferenceReporter::TakeSummary(std::int64_t end_ms) {
  InferenceSummary s = *summary_;
  s.ts_ms = std::max(end_ms, s.period_start_ms);
  s.mse_mean = mse_sum_ / static_cast<double>(s.count);
  s.latency_us_mean = latency_sum_ / static_cast<double>(s.count);
  summary_.reset();
  mse_sum_ = 0;
  latency_sum_ = 0;
  return s;
}

std::optional<InferenceReport> InferenceReporter::OnDecision(const InferenceMessage& decision) {
  switch (policy_.mode) {
    case InferencePolicy::Mode::kEvery: {
      InferenceMessage m = decision;
      m.count = 1;
      return InferenceReport(std::move(m));
    }
    case InferencePolicy::Mode::kSample: {
      if (policy_.always_publish_anomalies && decision.decision == "anomaly") {
        InferenceMessage m = decision;
        m.count = 1;
        return InferenceReport(std::move(m));
      }
      ++unpublished_;
      last_ = decision;
      if (unpublished_ < policy_.sample_every) return std::nullopt;
      InferenceMessage m = decision;
      m.count = unpublished_;
      unpublished_ = 0;
      last_.reset();
      return InferenceReport(std::move(m));
    }
    case InferencePolicy::Mode::kAggregate: {
      std::optional<InferenceReport> out;
      if (summary_ && decision.ts_ms >= summary_->period_start_ms + policy_.period_ms) {
        out = TakeSummary(summary_->period_start_ms + policy_.period_ms);
      }
      if (!summary_) {
        summary_ = InferenceSummary{};
        summary_->period_start_ms = decision.ts_ms;
        summary_->confidence_min = 1.0;
      }
      InferenceSummary& s = *summary_;
      s.model_version = decision.model_version;
      ++s.count;
      if (decision.decision == "anomaly") {
        ++s.anomaly;
      } else {
        ++s.normal;
      }
      if (decision.zone == "ambiguous") ++s.ambiguous;
      if (decision.fallback) ++s.fallbacks;
      const double mse = Finite(decision.mse);
      mse_sum_ += mse;
      s.mse_max = std::max(s.mse_max, mse);
      s.confidence_min = std::min(s.confidence_min, Finite(decision.confidence));
      latency_sum_ += static_cast<double>(decision.latency_us);
      s.latency_us_max = std::max(s.latency_us_max, decision.latency_us);
      return out;
    }
  }
  return std::nullopt;
}

std::optional<InferenceReport> InferenceReporter::Flush(std::int64_t now_ms, bool force) {
  switch (policy_.mode) {
    case InferencePolicy::Mode::kEvery:
      return std::nullopt;
    case InferencePolicy::Mode::kSample: {
      if (!force || !last_) return std::nullopt;
      InferenceMessage m = *last_;
      m.count = unpublished_;
      unpublished_ = 0;
      last_.reset();
      return InferenceReport(std::move(m));
    }
    case InferencePolicy::Mode::kAggregate: {
      if (!summary_) return std::nullopt;
      const std::int64_t end = summary_->period_start_ms + policy_.period_ms;
      if (now_ms >= end) return InferenceReport(TakeSummary(end));
      if (force) return InferenceReport(TakeSummary(now_ms));
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// ---- escalation ------------------------------------------------------------------

std::string ToJson(const EscalationMessage& m) {
  Json j = {{"ts", m.ts_ms}, {"model_version", m.model_version}, {"edge_mse", Finite(m.edge_mse)}};
  if (const auto* cloud = std::get_if<CloudResult>(&m.outcome)) {
    j["outcome"] = "cloud";
    j["cloud"] = {{"classification", cloud->classification},
                  {"label", cloud->label},
                  {"confidence", Finite(cloud->confidence)},
                  {"mse", Finite(cloud->mse)},
                  {"latency_ms", cloud->latency_ms}};
  } else {
    const auto& fb = std::get<Fallback>(m.outcome);
    j["outcome"] = "fallback";
    j["fallback"] = {{"decision", fb.decision}, {"reason", fb.reason}};
  }
  return Dump(j);
}

Expected<EscalationMessage> ParseEscalation(std::string_view payload) {
  EDGEFLEET_ASSIGN_OR_RETURN(Json j, ParseObject(payload));
  EscalationMessage m;
  EDGEFLEET_ASSIGN_OR_RETURN(m.ts_ms, Int(j, "ts", 0, kI64Max));
  EDGEFLEET_ASSIGN_OR_RETURN(m.model_version, Int(j, "model_version", 0, kI64Max));
  EDGEFLEET_ASSIGN_OR_RETURN(m.edge_mse, Number(j, "edge_mse", 0, kHuge));
  EDGEFLEET_ASSIGN_OR_RETURN(std::string outcome, String(j, "outcome", 16));
  if (outcome == "cloud") {
    const Json* c = Field(j, "cloud");
    if (c == nullptr || !c->is_object()) return Invalid("\"cloud\" must be an object");
    CloudResult r;
    EDGEFLEET_ASSIGN_OR_RETURN(r.classification, Label(*c, "classification"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.label, Int(*c, "label", 0, 1));
    EDGEFLEET_ASSIGN_OR_RETURN(r.confidence, Number(*c, "confidence", 0, 1));
    EDGEFLEET_ASSIGN_OR_RETURN(r.mse, Number(*c, "mse", 0, kHuge));
    EDGEFLEET_ASSIGN_OR_RETURN(r.latency_ms, Int(*c, "latency_ms", 0, kI64Max));
    m.outcome = std::move(r);
  } else if (outcome == "fallback") {
    const Json* f = Field(j, "fallback");
    if (f == nullptr || !f->is_object()) return Invalid("\"fallback\" must be an object");
    Fallback fb;
    EDGEFLEET_ASSIGN_OR_RETURN(fb.decision, Label(*f, "decision"));
    EDGEFLEET_ASSIGN_OR_RETURN(fb.reason, String(*f, "reason", 32));
    m.outcome = std::move(fb);
  } else {
    return Invalid("\"outcome\" must be \"cloud\" or \"fallback\"");
  }
  return m;
}

// ---- status -------------------------------------------------------------------------

std::string ToJson(const StatusMessage& m) {
  Json j = {{"ts", m.ts_ms}, {"model_version", m.model_version},
            {"state", m.online ? "online" : "offline"}};
  if (m.uptime_s) j["uptime_s"] = *m.uptime_s;
  if (m.buffer_depth) j["buffer_depth"] = *m.buffer_depth;
  if (m.backoff) j["backoff"] = {{"failures", m.backoff->failures}, {"delay_ms", m.backoff->delay_ms}};
  if (m.dropped_rows) j["dropped_rows"] = *m.dropped_rows;
  Json health = Json::parse(m.health_json, nullptr, /*allow_exceptions=*/false);
  j["health"] = health.is_object() ? health : Json::object();
  if (!m.firmware_version.empty()) j["firmware_version"] = m.firmware_version;
  return Dump(j);
}

Expected<StatusMessage> ParseStatus(std::string_view payload) {
  EDGEFLEET_ASSIGN_OR_RETURN(Json j, ParseObject(payload));
  StatusMessage m;
  EDGEFLEET_ASSIGN_OR_RETURN(m.ts_ms, Int(j, "ts", 0, kI64Max));
  EDGEFLEET_ASSIGN_OR_RETURN(m.model_version, Int(j, "model_version", 0, kI64Max));
  EDGEFLEET_ASSIGN_OR_RETURN(std::string state, String(j, "state", 16));
  if (state != "online" && state != "offline") return Invalid("\"state\" must be online or offline");
  m.online = state == "online";
  EDGEFLEET_ASSIGN_OR_RETURN(m.uptime_s, OptionalInt(j, "uptime_s", 0, kI64Max));
  EDGEFLEET_ASSIGN_OR_RETURN(m.buffer_depth, OptionalInt(j, "buffer_depth", 0, kI64Max));
  EDGEFLEET_ASSIGN_OR_RETURN(m.dropped_rows, OptionalInt(j, "dropped_rows", 0, kI64Max));
  if (const Json* b = Field(j, "backoff")) {
    if (!b->is_object()) return Invalid("\"backoff\" must be an object");
    BackoffInfo info;
    EDGEFLEET_ASSIGN_OR_RETURN(info.failures, Int(*b, "failures", 0, kI64Max));
    EDGEFLEET_ASSIGN_OR_RETURN(info.delay_ms, Int(*b, "delay_ms", 0, kI64Max));
    m.backoff = info;
  }
  if (const Json* h = Field(j, "health")) {
    if (!h->is_object()) return Invalid("\"health\" must be an object");
    m.health_json = Dump(*h);
  }
  if (Field(j, "firmware_version") != nullptr) {
    EDGEFLEET_ASSIGN_OR_RETURN(m.firmware_version, String(j, "firmware_version", 64));
  }
  return m;
}

StatusMessage OfflineStatus(std::int64_t ts_ms, std::int64_t model_version) {
  StatusMessage m;
  m.ts_ms = ts_ms;
  m.model_version = model_version;
  m.online = false;
  return m;
}

// ---- ota ------------------------------------------------------------------------------

bool IsValidOtaState(std::string_view state) {
  for (std::string_view s : {"pending", "downloading", "validating", "applying", "active",
                             "rolled_back", "failed"}) {
    if (state == s) return true;
  }
  return false;
}

std::string ToJson(const OtaMessage& m) {
  Json j = {{"ts", m.ts_ms},
            {"model_version", m.model_version},
            {"state", m.state},
            {"target_version", m.target_version},
            {"error", m.error}};
  return Dump(j);
}

Expected<OtaMessage> ParseOta(std::string_view payload) {
  EDGEFLEET_ASSIGN_OR_RETURN(Json j, ParseObject(payload));
  OtaMessage m;
  EDGEFLEET_ASSIGN_OR_RETURN(m.ts_ms, Int(j, "ts", 0, kI64Max));
  EDGEFLEET_ASSIGN_OR_RETURN(m.model_version, Int(j, "model_version", 0, kI64Max));
  EDGEFLEET_ASSIGN_OR_RETURN(m.state, String(j, "state", 32));
  if (!IsValidOtaState(m.state)) return Invalid("\"state\" is not an OTA state");
  EDGEFLEET_ASSIGN_OR_RETURN(m.target_version, Int(j, "target_version", 0, kI64Max));
  if (Field(j, "error") != nullptr) {
    EDGEFLEET_ASSIGN_OR_RETURN(m.error, String(j, "error", 4096));
  }
  return m;
}

}  // namespace edgefleet::telemetry
