// The JSON encoding of a sync message (docs/api/sync.md, "JSON"), and the
// seeds' batch shape mapped onto the same rows. Parsing is simdjson's DOM
// with error codes (no exceptions); writing is by hand with std::to_chars,
// the shortest text that reads back to the same bits.
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include <simdjson.h>

#include "common/sync_codec_internal.h"

namespace edgefleet::sync_codec::internal {
namespace {

using simdjson::SUCCESS;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

// ---- writing ----------------------------------------------------------------------------

void AppendString(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

void AppendInt(std::string& out, std::int64_t v) {
  std::array<char, 24> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), r.ptr);
}

void AppendDouble(std::string& out, double v) {
  if (v == 0 && std::signbit(v)) {
    out += "-0.0";  // "-0" would read back as the integer 0
    return;
  }
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), r.ptr);
}

// The shortest text of a float reads back to the same float through strtof,
// but a reader that parses a double and rounds it to float could in rare
// cases round twice; then the float is written as the exact double instead.
void AppendFloat(std::string& out, float v) {
  if (v == 0 && std::signbit(v)) {
    out += "-0.0";
    return;
  }
  std::array<char, 32> buf{};
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  double back = 0;
  std::from_chars(buf.data(), r.ptr, back);
  if (static_cast<float>(back) == v) {
    out.append(buf.data(), r.ptr);
  } else {
    AppendDouble(out, static_cast<double>(v));
  }
}

void Key(std::string& out, std::string_view key) {
  AppendString(out, key);
  out += ':';
}

void AppendState(std::string& out, const DeviceState& s) {
  out += "\"state\":{";
  if (s.model_version) {
    Key(out, "model_version");
    AppendInt(out, *s.model_version);
    out += ',';
  }
  Key(out, "buffer_depth");
  AppendInt(out, s.buffer_depth);
  out += ",\"dropped\":{\"inferences\":";
  AppendInt(out, s.dropped_inferences);
  out += ",\"hard_samples\":";
  AppendInt(out, s.dropped_hard_samples);
  out += ",\"health\":";
  AppendInt(out, s.dropped_health);
  out += "},\"backoff\":{\"failures\":";
  AppendInt(out, s.backoff_failures);
  out += ",\"delay_ms\":";
  AppendInt(out, s.backoff_delay_ms);
  out += "},\"bytes_sent\":{";
  for (std::size_t i = 0; i < s.bytes_sent.size(); ++i) {
    if (i) out += ',';
    Key(out, s.bytes_sent[i].strategy);
    AppendInt(out, s.bytes_sent[i].bytes);
  }
  out += "}}";
}

// ---- reading ----------------------------------------------------------------------------

// Reads fields of one JSON object, naming the first problem.
class Fields {
 public:
  Fields(object o, std::string where) : o_(o), where_(std::move(where)) {}

  bool Has(std::string_view key) const {
    element e;
    return o_[key].get(e) == SUCCESS;
  }
  Expected<std::int64_t> Int(std::string_view key) const {
    element e;
    if (o_[key].get(e) != SUCCESS) return Missing(key);
    std::int64_t v = 0;
    if (e.get_int64().get(v) != SUCCESS) return Bad(key, "a whole number");
    return v;
  }
  Expected<std::int64_t> IntOr(std::string_view key, std::int64_t fallback) const {
    return Has(key) ? Int(key) : Expected<std::int64_t>(fallback);
  }
  Expected<double> Double(std::string_view key) const {
    element e;
    if (o_[key].get(e) != SUCCESS) return Missing(key);
    double v = 0;
    if (e.get_double().get(v) != SUCCESS) return Bad(key, "a number");
    return v;
  }
  Expected<double> DoubleOr(std::string_view key, double fallback) const {
    return Has(key) ? Double(key) : Expected<double>(fallback);
  }
  Expected<std::string> String(std::string_view key, std::size_t max) const {
    element e;
    if (o_[key].get(e) != SUCCESS) return Missing(key);
    std::string_view v;
    if (e.get_string().get(v) != SUCCESS) return Bad(key, "a string");
    if (v.size() > max) return Bad(key, "at most " + std::to_string(max) + " bytes");
    return std::string(v);
  }
  Expected<std::string> StringOr(std::string_view key, std::size_t max) const {
    return Has(key) ? String(key, max) : Expected<std::string>(std::string());
  }
  Expected<bool> BoolOr(std::string_view key, bool fallback) const {
    element e;
    if (o_[key].get(e) != SUCCESS) return fallback;
    bool v = false;
    if (e.get_bool().get(v) != SUCCESS) return Bad(key, "true or false");
    return v;
  }
  Expected<element> Element(std::string_view key) const {
    element e;
    if (o_[key].get(e) != SUCCESS) return Missing(key);
    return e;
  }

  common::Error Missing(std::string_view key) const {
    return Invalid(where_ + " has no field \"" + std::string(key) + "\"");
  }
  common::Error Bad(std::string_view key, const std::string& what) const {
    return Invalid(where_ + " field \"" + std::string(key) + "\" must be " + what);
  }

 private:
  object o_;
  std::string where_;
};

Expected<object> AsObject(element e, const std::string& where) {
  object o;
  if (e.get_object().get(o) != SUCCESS) return Invalid(where + " is not a JSON object");
  return o;
}

// An array of at most kMaxRowsPerKind entries, or an empty one when absent.
Expected<array> RowArray(object root, std::string_view key, bool* present) {
  element e;
  array a;
  *present = root[key].get(e) == SUCCESS;
  if (!*present) return a;
  if (e.get_array().get(a) != SUCCESS) return Invalid("\"" + std::string(key) + "\" is not an array");
  if (a.size() > kMaxRowsPerKind) {
    return common::Error(common::ErrorCode::kResourceExhausted,
                         "\"" + std::string(key) + "\" holds more than " +
                             std::to_string(kMaxRowsPerKind) + " rows");
  }
  return a;
}

Expected<float> ToFloat(double v, std::size_t i) {
  // Below the midpoint between FLT_MAX and 2^128 a double rounds to a finite float.
  constexpr double kFloatLimit = 340282356779733661637539395458142568448.0;  // 2^128 - 2^103
  if (!std::isfinite(v) || std::fabs(v) >= kFloatLimit) {
    return Invalid("window[" + std::to_string(i) + "] is not a finite float");
  }
  return static_cast<float>(v);
}

Expected<std::vector<float>> WindowFromArray(element e) {
  array a;
  if (e.get_array().get(a) != SUCCESS) return Invalid("window is not an array");
  if (a.size() != sync::kWindowValues) {
    return Invalid("window holds " + std::to_string(a.size()) + " values, not " +
                   std::to_string(sync::kWindowValues));
  }
  std::vector<float> w;
  w.reserve(sync::kWindowValues);
  std::size_t i = 0;
  for (element v : a) {
    double d = 0;
    if (v.get_double().get(d) != SUCCESS) return Invalid("window[" + std::to_string(i) + "] is not a number");
    EDGEFLEET_ASSIGN_OR_RETURN(float f, ToFloat(d, i));
    w.push_back(f);
    ++i;
  }
  return w;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;
  if (c == '/' || c == '_') return 63;
  return -1;
}

// The seeds' input_data: base64 of the window as 300 little-endian float32.
Expected<std::vector<float>> WindowFromBase64(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  constexpr std::size_t kBytes = sync::kWindowValues * 4;
  if (text.size() != (kBytes * 4 + 2) / 3) {
    return Invalid("input_data must be base64 of 300 little-endian float32 values");
  }
  std::string bytes;
  bytes.reserve(kBytes);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : text) {
    const int v = Base64Value(c);
    if (v < 0) return Invalid("input_data is not base64");
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((acc >> bits) & 0xffu));
    }
  }
  std::vector<float> w(sync::kWindowValues);
  for (std::size_t i = 0; i < w.size(); ++i) {
    std::uint32_t u = 0;
    for (int b = 3; b >= 0; --b) {
      u = (u << 8) | static_cast<unsigned char>(bytes[i * 4 + static_cast<std::size_t>(b)]);
    }
    std::memcpy(&w[i], &u, sizeof u);
    if (!std::isfinite(w[i])) return Invalid("window[" + std::to_string(i) + "] is not finite");
  }
  return w;
}

// The seeds' model_version is TEXT: accept 7, "7", "v7" (and 7.0).
Expected<std::int64_t> SeedModelVersion(const Fields& f, object o) {
  element e;
  if (o["model_version"].get(e) != SUCCESS) return std::int64_t{0};
  std::int64_t v = 0;
  if (e.get_int64().get(v) == SUCCESS) return v;
  double d = 0;
  if (e.get_double().get(d) == SUCCESS && d >= 0 && d <= 9e15 && std::floor(d) == d) {
    return static_cast<std::int64_t>(d);
  }
  std::string_view s;
  if (e.get_string().get(s) == SUCCESS) {
    if (!s.empty() && (s.front() == 'v' || s.front() == 'V')) s.remove_prefix(1);
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size()) return v;
  }
  return f.Bad("model_version", "a whole number or a string such as \"7\" or \"v7\"");
}

// The seeds' timestamp: seconds since the epoch (a float).
Expected<std::int64_t> SeedTimestampMs(const Fields& f) {
  EDGEFLEET_ASSIGN_OR_RETURN(double t, f.Double("timestamp"));
  if (!std::isfinite(t) || t < 0 || t > 1e13) return f.Bad("timestamp", "seconds since 1970");
  return static_cast<std::int64_t>(std::llround(t * 1000.0));
}

Expected<sync::InferenceRow> ReadInference(element e, std::size_t index) {
  const std::string where = "inference " + std::to_string(index);
  EDGEFLEET_ASSIGN_OR_RETURN(object o, AsObject(e, where));
  Fields f(o, where);
  sync::InferenceRow r;
  if (f.Has("seq")) {
    EDGEFLEET_ASSIGN_OR_RETURN(r.seq, f.Int("seq"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.ts_ms, f.Int("ts_ms"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.model_version, f.Int("model_version"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.decision, f.String("decision", kMaxDecisionBytes));
    EDGEFLEET_ASSIGN_OR_RETURN(r.confidence, f.Double("confidence"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.mse, f.Double("mse"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.latency_us, f.Int("latency_us"));
  } else {  // the seeds' metadata entry
    EDGEFLEET_ASSIGN_OR_RETURN(r.seq, f.Int("id"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.ts_ms, SeedTimestampMs(f));
    EDGEFLEET_ASSIGN_OR_RETURN(r.model_version, SeedModelVersion(f, o));
    EDGEFLEET_ASSIGN_OR_RETURN(r.decision, f.String("prediction", kMaxDecisionBytes));
    EDGEFLEET_ASSIGN_OR_RETURN(r.confidence, f.Double("confidence"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.mse, f.DoubleOr("mse", 0));
    EDGEFLEET_ASSIGN_OR_RETURN(double ms, f.DoubleOr("latency_ms", 0));
    if (!std::isfinite(ms) || ms < 0 || ms > 1e12) return f.Bad("latency_ms", "a non-negative number");
    r.latency_us = static_cast<std::int64_t>(std::llround(ms * 1000.0));
  }
  EDGEFLEET_ASSIGN_OR_RETURN(r.input_hash, f.StringOr("input_hash", kMaxTextBytes));
  EDGEFLEET_ASSIGN_OR_RETURN(r.fallback, f.BoolOr("fallback", false));
  return r;
}

Expected<sync::HardSampleRow> ReadHardSample(element e, std::size_t index) {
  const std::string where = "hard sample " + std::to_string(index);
  EDGEFLEET_ASSIGN_OR_RETURN(object o, AsObject(e, where));
  Fields f(o, where);
  sync::HardSampleRow r;
  if (f.Has("seq")) {
    EDGEFLEET_ASSIGN_OR_RETURN(r.seq, f.Int("seq"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.ts_ms, f.Int("ts_ms"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.model_version, f.Int("model_version"));
    EDGEFLEET_ASSIGN_OR_RETURN(element w, f.Element("window"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.window, WindowFromArray(w));
    EDGEFLEET_ASSIGN_OR_RETURN(r.edge_mse, f.Double("edge_mse"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.confidence, f.Double("confidence"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.decision, f.String("decision", kMaxDecisionBytes));
  } else {  // the seeds' hard sample entry
    EDGEFLEET_ASSIGN_OR_RETURN(r.seq, f.Int("id"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.ts_ms, SeedTimestampMs(f));
    EDGEFLEET_ASSIGN_OR_RETURN(r.model_version, SeedModelVersion(f, o));
    EDGEFLEET_ASSIGN_OR_RETURN(element w, f.Element("input_data"));
    std::string_view text;
    if (w.get_string().get(text) == SUCCESS) {
      EDGEFLEET_ASSIGN_OR_RETURN(r.window, WindowFromBase64(text));
    } else {
      EDGEFLEET_ASSIGN_OR_RETURN(r.window, WindowFromArray(w));
    }
    EDGEFLEET_ASSIGN_OR_RETURN(r.edge_mse, f.DoubleOr("edge_mse", 0));
    EDGEFLEET_ASSIGN_OR_RETURN(r.confidence, f.Double("confidence"));
    EDGEFLEET_ASSIGN_OR_RETURN(r.decision, f.String("prediction", kMaxDecisionBytes));
  }
  EDGEFLEET_ASSIGN_OR_RETURN(r.fallback, f.BoolOr("fallback", false));
  return r;
}

Expected<sync::HealthRow> ReadHealth(element e, std::size_t index) {
  const std::string where = "health row " + std::to_string(index);
  EDGEFLEET_ASSIGN_OR_RETURN(object o, AsObject(e, where));
  Fields f(o, where);
  sync::HealthRow r;
  EDGEFLEET_ASSIGN_OR_RETURN(r.seq, f.Int("seq"));
  EDGEFLEET_ASSIGN_OR_RETURN(r.model_version, f.Int("model_version"));
  EDGEFLEET_ASSIGN_OR_RETURN(r.period_start_ms, f.Int("period_start_ms"));
  EDGEFLEET_ASSIGN_OR_RETURN(r.period_end_ms, f.Int("period_end_ms"));
  EDGEFLEET_ASSIGN_OR_RETURN(element stats, f.Element("stats"));
  object so;
  if (stats.get_object().get(so) != SUCCESS) return f.Bad("stats", "a JSON object");
  r.stats_json = simdjson::minify(stats);
  return r;
}

Expected<DeviceState> ReadState(element e) {
  EDGEFLEET_ASSIGN_OR_RETURN(object o, AsObject(e, "state"));
  Fields f(o, "state");
  DeviceState s;
  if (f.Has("model_version")) {
    EDGEFLEET_ASSIGN_OR_RETURN(std::int64_t mv, f.Int("model_version"));
    s.model_version = mv;
  }
  EDGEFLEET_ASSIGN_OR_RETURN(s.buffer_depth, f.IntOr("buffer_depth", 0));
  element sub;
  if (o["dropped"].get(sub) == SUCCESS) {
    EDGEFLEET_ASSIGN_OR_RETURN(object d, AsObject(sub, "state.dropped"));
    Fields df(d, "state.dropped");
    EDGEFLEET_ASSIGN_OR_RETURN(s.dropped_inferences, df.IntOr("inferences", 0));
    EDGEFLEET_ASSIGN_OR_RETURN(s.dropped_hard_samples, df.IntOr("hard_samples", 0));
    EDGEFLEET_ASSIGN_OR_RETURN(s.dropped_health, df.IntOr("health", 0));
  }
  if (o["backoff"].get(sub) == SUCCESS) {
    EDGEFLEET_ASSIGN_OR_RETURN(object b, AsObject(sub, "state.backoff"));
    Fields bf(b, "state.backoff");
    EDGEFLEET_ASSIGN_OR_RETURN(s.backoff_failures, bf.IntOr("failures", 0));
    EDGEFLEET_ASSIGN_OR_RETURN(s.backoff_delay_ms, bf.IntOr("delay_ms", 0));
  }
  if (o["bytes_sent"].get(sub) == SUCCESS) {
    EDGEFLEET_ASSIGN_OR_RETURN(object b, AsObject(sub, "state.bytes_sent"));
    if (b.size() > kMaxStrategies) {
      return Invalid("state.bytes_sent names more than " + std::to_string(kMaxStrategies) + " strategies");
    }
    for (auto field : b) {
      std::int64_t bytes = 0;
      if (field.value.get_int64().get(bytes) != SUCCESS) {
        return Invalid("state.bytes_sent values must be whole numbers");
      }
      if (field.key.size() > kMaxDecisionBytes) return Invalid("a strategy name is too long");
      s.bytes_sent.push_back(StrategyBytes{std::string(field.key), bytes});
    }
  }
  return s;
}

}  // namespace

std::string EncodeJson(const SyncMessage& m) {
  std::string out = "{";
  Key(out, "device_id");
  AppendString(out, m.device_id);
  if (m.state) {
    out += ',';
    AppendState(out, *m.state);
  }
  out += ",\"inferences\":[";
  for (std::size_t i = 0; i < m.batch.inferences.size(); ++i) {
    const sync::InferenceRow& r = m.batch.inferences[i];
    if (i) out += ',';
    out += "{\"seq\":";
    AppendInt(out, r.seq);
    out += ",\"ts_ms\":";
    AppendInt(out, r.ts_ms);
    out += ",\"model_version\":";
    AppendInt(out, r.model_version);
    out += ",\"decision\":";
    AppendString(out, r.decision);
    out += ",\"confidence\":";
    AppendDouble(out, r.confidence);
    out += ",\"mse\":";
    AppendDouble(out, r.mse);
    out += ",\"latency_us\":";
    AppendInt(out, r.latency_us);
    out += ",\"input_hash\":";
    AppendString(out, r.input_hash);
    out += ",\"fallback\":";
    out += r.fallback ? "true" : "false";
    out += '}';
  }
  out += "],\"hard_samples\":[";
  for (std::size_t i = 0; i < m.batch.hard_samples.size(); ++i) {
    const sync::HardSampleRow& r = m.batch.hard_samples[i];
    if (i) out += ',';
    out += "{\"seq\":";
    AppendInt(out, r.seq);
    out += ",\"ts_ms\":";
    AppendInt(out, r.ts_ms);
    out += ",\"model_version\":";
    AppendInt(out, r.model_version);
    out += ",\"window\":[";
    for (std::size_t j = 0; j < r.window.size(); ++j) {
      if (j) out += ',';
      AppendFloat(out, r.window[j]);
    }
    out += "],\"edge_mse\":";
    AppendDouble(out, r.edge_mse);
    out += ",\"confidence\":";
    AppendDouble(out, r.confidence);
    out += ",\"decision\":";
    AppendString(out, r.decision);
    out += ",\"fallback\":";
    out += r.fallback ? "true" : "false";
    out += '}';
  }
  out += "],\"health\":[";
  for (std::size_t i = 0; i < m.batch.health.size(); ++i) {
    const sync::HealthRow& r = m.batch.health[i];
    if (i) out += ',';
    out += "{\"seq\":";
    AppendInt(out, r.seq);
    out += ",\"model_version\":";
    AppendInt(out, r.model_version);
    out += ",\"period_start_ms\":";
    AppendInt(out, r.period_start_ms);
    out += ",\"period_end_ms\":";
    AppendInt(out, r.period_end_ms);
    out += ",\"stats\":";
    out += r.stats_json;  // validated to be one JSON object
    out += '}';
  }
  out += "]}";
  return out;
}

Expected<SyncMessage> DecodeJson(std::string_view body) {
  simdjson::dom::parser parser;
  element doc;
  const auto parsed = parser.parse(body.data(), body.size()).get(doc);
  if (parsed != SUCCESS) {
    return Invalid(std::string("the body is not valid JSON (") + simdjson::error_message(parsed) + ")");
  }
  EDGEFLEET_ASSIGN_OR_RETURN(object root, AsObject(doc, "the body"));
  SyncMessage m;
  element e;
  const bool seeds = root["metadata"].get(e) == SUCCESS || root["samples"].get(e) == SUCCESS;
  if (root["device_id"].get(e) == SUCCESS) {
    std::string_view id;
    if (e.get_string().get(id) != SUCCESS || id.size() > kMaxDeviceIdBytes) {
      return Invalid("device_id must be a string of 1 to " + std::to_string(kMaxDeviceIdBytes) + " bytes");
    }
    m.device_id = std::string(id);
  } else if (!seeds) {
    return Invalid("the body has no device_id");
  }
  if (root["state"].get(e) == SUCCESS) {
    EDGEFLEET_ASSIGN_OR_RETURN(DeviceState s, ReadState(e));
    m.state = std::move(s);
  }
  bool present = false;
  EDGEFLEET_ASSIGN_OR_RETURN(array inferences, RowArray(root, seeds ? "metadata" : "inferences", &present));
  if (!present && !seeds) return Invalid("the body has no \"inferences\" array");
  if (present) {
    m.batch.inferences.reserve(inferences.size());
    for (element row : inferences) {
      EDGEFLEET_ASSIGN_OR_RETURN(auto r, ReadInference(row, m.batch.inferences.size()));
      m.batch.inferences.push_back(std::move(r));
    }
  }
  EDGEFLEET_ASSIGN_OR_RETURN(array samples, RowArray(root, "hard_samples", &present));
  if (!present && seeds) {
    EDGEFLEET_ASSIGN_OR_RETURN(samples, RowArray(root, "samples", &present));
  }
  if (present) {
    m.batch.hard_samples.reserve(samples.size());
    for (element row : samples) {
      EDGEFLEET_ASSIGN_OR_RETURN(auto r, ReadHardSample(row, m.batch.hard_samples.size()));
      m.batch.hard_samples.push_back(std::move(r));
    }
  }
  EDGEFLEET_ASSIGN_OR_RETURN(array health, RowArray(root, "health", &present));
  if (present) {
    m.batch.health.reserve(health.size());
    for (element row : health) {
      EDGEFLEET_ASSIGN_OR_RETURN(auto r, ReadHealth(row, m.batch.health.size()));
      m.batch.health.push_back(std::move(r));
    }
  }
  EDGEFLEET_RETURN_IF_ERROR(Validate(m, seeds));
  return m;
}

}  // namespace edgefleet::sync_codec::internal
