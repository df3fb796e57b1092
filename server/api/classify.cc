#include "server/api/classify.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "server/api/context.h"
#include "server/api/handler_util.h"
#include "server/api/number_array.h"

namespace edgefleet::server::api {
namespace {

using http::Response;

Response Bad(std::string_view code, std::string message) { return Response::Error(400, code, message); }

// A double from a JSON number element (integers included).
bool NumberOf(simdjson::dom::element el, double* out) {
  switch (el.type()) {
    case simdjson::dom::element_type::DOUBLE:
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      return !el.get_double().get(*out);
    default:
      return false;
  }
}

// model_version given as a string of digits (both parsers).
std::optional<std::int64_t> VersionText(std::string_view text) {
  auto parsed = ParseInteger(text, "model_version", 0, std::numeric_limits<std::int64_t>::max());
  if (!parsed.ok()) return std::nullopt;
  return parsed.value();
}

std::optional<std::int64_t> VersionOf(simdjson::dom::element el) {
  std::int64_t v = 0;
  if (el.type() == simdjson::dom::element_type::INT64) {
    if (el.get_int64().get(v) || v < 0) return std::nullopt;
    return v;
  }
  std::string_view s;
  if (el.type() == simdjson::dom::element_type::STRING && !el.get_string().get(s)) return VersionText(s);
  return std::nullopt;
}

ml::SpectralFeatures& Scratch(const ml::CloudModel& model) {
  thread_local std::unique_ptr<ml::SpectralFeatures> scratch;
  thread_local const ml::CloudModel* owner = nullptr;
  if (!scratch || owner != &model) {
    scratch = std::make_unique<ml::SpectralFeatures>(model.window_len, model.axes);
    owner = &model;
  }
  return *scratch;
}

Response Classify(ServerContext& ctx, const http::Request& request) {
  const auto reject = [&](Response r) {
    Inc(ctx.metrics.classify_rejected);
    return r;
  };
  // No token: refused before the body is read.
  if (!ExtractToken(request)) {
    Response denied;
    Authorize(ctx, request, Access::kThisDevice, "", &denied);
    return reject(std::move(denied));
  }
  Response bad;
  std::optional<ClassifyRequest> parsed = ParseClassifyRequest(request.body, &bad);
  if (!parsed) return reject(std::move(bad));
  ClassifyRequest& in = *parsed;

  if (!Authorize(ctx, request, Access::kThisDevice, in.device_id, &bad)) return reject(std::move(bad));
  if (!ctx.cloud) return Response::Error(503, "model_unavailable", ctx.cloud_error + ".");

  const ml::CloudModel& model = *ctx.cloud;
  const ml::CloudScore score = ml::Score(model, Scratch(model), in.features);
  if (!std::isfinite(score.score) || score.score < 0) {
    return ErrorResponse(common::Error(common::ErrorCode::kInternal, "the cloud model gave a non-finite score"));
  }
  const double t = static_cast<double>(model.threshold);
  const double mse = static_cast<double>(score.score);
  const double confidence = t > 0 ? 0.5 + 0.5 * std::tanh(std::fabs(mse - t) / t) : 1.0;
  const int label = score.anomaly ? 1 : 0;

  store::Escalation e;
  e.device_id = in.device_id;
  e.received_ms = ctx.clock.NowMs();
  e.features.assign(in.features.begin(), in.features.end());
  e.edge_mse = in.edge_mse;
  e.model_version = in.model_version;
  e.cloud_mse = mse;
  e.label = label;
  e.confidence = confidence;
  if (!ctx.writer->Enqueue(std::move(e), in.features_text)) {
    Inc(ctx.metrics.escalations_overflow);
    Response busy = Response::Error(503, "overloaded", "The escalation queue is full; retry later.");
    busy.headers.emplace_back("Retry-After", "1");
    return busy;
  }
  Inc(label ? ctx.metrics.classify_anomaly : ctx.metrics.classify_normal);

  const auto latest = ctx.registry->Latest();
  std::string body;
  body.reserve(192);
  body += label ? "{\"classification\":\"anomaly\",\"label\":1" : "{\"classification\":\"normal\",\"label\":0";
  body += ",\"confidence\":";
  AppendJsonNumber(body, confidence);
  body += ",\"mse\":";
  AppendJsonNumber(body, score.score);
  body += ",\"model_version\":";
  body += std::to_string(latest.ok() ? latest.value().version : 0);
  body += ",\"cloud_model_version\":";
  body += std::to_string(model.version);
  body += '}';
  return Response::Json(std::move(body));
}

// simdjson reads up to SIMDJSON_PADDING bytes past the end: both parsers
// read a padded copy, made once per request in this thread's buffer.
std::string_view Padded(std::string_view body) {
  thread_local std::vector<char> padded;
  if (padded.size() < body.size() + simdjson::SIMDJSON_PADDING) padded.resize(body.size() + simdjson::SIMDJSON_PADDING);
  std::copy(body.begin(), body.end(), padded.begin());
  return {padded.data(), body.size()};
}

std::optional<ClassifyRequest> ParseDom(std::string_view body, std::string_view padded, http::Response* bad) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (const auto error = parser.parse(padded.data(), padded.size(), false).get(root); error) {
    const bool number = error == simdjson::NUMBER_ERROR || error == simdjson::NUMBER_OUT_OF_RANGE;
    *bad = Bad("invalid_json", number ? "The body holds a number JSON cannot carry (out of range or malformed)."
                                      : std::string("The body is not valid JSON (") +
                                            simdjson::error_message(error) + ").");
    return std::nullopt;
  }
  simdjson::dom::object object;
  if (root.get_object().get(object)) {
    *bad = Bad("invalid_json", "The body must be a JSON object.");
    return std::nullopt;
  }
  ClassifyRequest out;
  bool have_device = false, have_features = false, have_mse = false, have_version = false;
  const auto once = [&](bool& seen, std::string_view key) {
    if (seen) *bad = Bad("invalid_argument", "The key '" + std::string(key) + "' appears twice.");
    const bool first = !seen;
    seen = true;
    return first;
  };
  for (const simdjson::dom::key_value_pair field : object) {
    if (field.key == "device_id") {
      if (!once(have_device, field.key)) return std::nullopt;
      std::string_view id;
      if (field.value.get_string().get(id) || !IsDeviceId(id)) {
        *bad = Bad("invalid_argument", "device_id must be a string of 1 to 128 letters, digits, '-', '_', '.' or ':'.");
        return std::nullopt;
      }
      out.device_id = std::string(id);
    } else if (field.key == "features") {
      if (!once(have_features, field.key)) return std::nullopt;
      simdjson::dom::array array;
      if (field.value.get_array().get(array)) {
        *bad = Bad("invalid_argument", "features must be an array of 300 numbers.");
        return std::nullopt;
      }
      const std::size_t n = array.size();
      if (n != out.features.size()) {
        *bad = Bad("invalid_argument", "features must hold exactly 300 numbers, not " + std::to_string(n) + ".");
        return std::nullopt;
      }
      std::size_t i = 0;
      for (const simdjson::dom::element v : array) {
        double d = 0;
        if (!NumberOf(v, &d) || !std::isfinite(d) || std::fabs(d) > kMaxAbsFeature) {
          *bad = Bad("invalid_argument", "features[" + std::to_string(i) +
                                             "] must be a finite number of magnitude at most 1e6.");
          return std::nullopt;
        }
        out.features[i++] = static_cast<float>(d);
      }
    } else if (field.key == "edge_mse") {
      if (!once(have_mse, field.key)) return std::nullopt;
      if (!NumberOf(field.value, &out.edge_mse) || !std::isfinite(out.edge_mse) || out.edge_mse < 0 ||
          out.edge_mse > 1e30) {
        *bad = Bad("invalid_argument", "edge_mse must be a finite number >= 0.");
        return std::nullopt;
      }
    } else if (field.key == "model_version") {
      if (!once(have_version, field.key)) return std::nullopt;
      const auto version = VersionOf(field.value);
      if (!version) {
        *bad = Bad("invalid_argument", "model_version must be an integer >= 0.");
        return std::nullopt;
      }
      out.model_version = *version;
    }
  }
  if (!have_device) *bad = Bad("invalid_argument", "device_id is missing.");
  else if (!have_features) *bad = Bad("invalid_argument", "features is missing.");
  else if (!have_mse) *bad = Bad("invalid_argument", "edge_mse is missing.");
  else {
    out.features_text = FeaturesArrayText(body);
    return out;
  }
  return std::nullopt;
}

// A number of at most 19 digits, which On-Demand reads as the DOM parser
// does. simdjson 3.0.1's On-Demand get_double misreads longer ones (a
// 119-digit 0.0155...5 came back as 0; found by api_request_fuzz): those
// bodies are left to the DOM parser. `token` may end in whitespace.
bool FewDigits(std::string_view token) {
  if (token.size() <= 19) return true;
  return std::count_if(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; }) <= 19;
}

// The fast path: exactly the four keys, each once, well formed and in range,
// nothing after the object. Anything else is nullopt, and ParseDom decides.
// With `plain_numbers`, the features are read by ParseNumberArray from the
// array's text; when it declines (a number it does not read), *declined is
// set and the caller parses again without it.
std::optional<ClassifyRequest> ParseOnDemand(std::string_view body, std::string_view padded, bool plain_numbers,
                                             bool* declined) {
  thread_local simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (parser.iterate(padded.data(), padded.size(), padded.size() + simdjson::SIMDJSON_PADDING).get(doc)) {
    return std::nullopt;
  }
  simdjson::ondemand::object object;
  if (doc.get_object().get(object)) return std::nullopt;
  ClassifyRequest out;
  bool have_device = false, have_features = false, have_mse = false, have_version = false;
  for (auto field_result : object) {
    simdjson::ondemand::field field;
    std::string_view key;
    if (std::move(field_result).get(field) || field.unescaped_key().get(key)) return std::nullopt;
    simdjson::ondemand::value value = field.value();
    if (key == "device_id" && !have_device) {
      have_device = true;
      std::string_view id;
      if (value.get_string().get(id) || !IsDeviceId(id)) return std::nullopt;
      out.device_id = std::string(id);
    } else if (key == "features" && !have_features) {
      have_features = true;
      simdjson::ondemand::array array;
      if (value.get_array().get(array)) return std::nullopt;
      if (plain_numbers) {
        std::string_view text;
        if (array.raw_json().get(text)) return std::nullopt;
        if (!ParseNumberArray(text, out.features, kMaxAbsFeature)) {
          *declined = true;
          return std::nullopt;
        }
        continue;
      }
      std::size_t n = 0;
      for (auto element_result : array) {
        simdjson::ondemand::value element;
        double d = 0;
        // Magnitudes up to 1e6 only: such integers have few digits, which
        // the DOM parser reads as this one does (larger ones it may refuse).
        if (std::move(element_result).get(element) || !FewDigits(element.raw_json_token()) ||
            element.get_double().get(d) || !std::isfinite(d) || std::fabs(d) > kMaxAbsFeature ||
            n == out.features.size()) {
          return std::nullopt;
        }
        out.features[n++] = static_cast<float>(d);
      }
      if (n != out.features.size()) return std::nullopt;
    } else if (key == "edge_mse" && !have_mse) {
      have_mse = true;
      // Below 1e18: an integer literal has at most 18 digits (the DOM
      // parser refuses integers beyond 64 bits).
      if (!FewDigits(value.raw_json_token()) || value.get_double().get(out.edge_mse) ||
          !std::isfinite(out.edge_mse) || out.edge_mse < 0 || out.edge_mse >= 1e18) {
        return std::nullopt;
      }
    } else if (key == "model_version" && !have_version) {
      have_version = true;
      simdjson::ondemand::json_type type;
      if (value.type().get(type)) return std::nullopt;
      if (type == simdjson::ondemand::json_type::number) {
        if (value.get_int64().get(out.model_version) || out.model_version < 0) return std::nullopt;
      } else if (type == simdjson::ondemand::json_type::string) {
        std::string_view text;
        if (value.get_string().get(text)) return std::nullopt;
        const auto version = VersionText(text);
        if (!version) return std::nullopt;
        out.model_version = *version;
      } else {
        return std::nullopt;
      }
    } else {
      return std::nullopt;  // an unknown or repeated key: the DOM parser validates all of it
    }
  }
  if (!have_device || !have_features || !have_mse) return std::nullopt;
  // Nothing after the object: the iterator is past the last token.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return std::nullopt;
  out.features_text = FeaturesArrayText(body);
  return out;
}

// The fast paths: the features by ParseNumberArray, or, when it declines
// them, by On-Demand element by element.
std::optional<ClassifyRequest> ParseFast(std::string_view body, std::string_view padded) {
  bool declined = false;
  if (auto fast = ParseOnDemand(body, padded, true, &declined)) return fast;
  return declined ? ParseOnDemand(body, padded, false, &declined) : std::nullopt;
}

bool TooLarge(std::string_view body, http::Response* bad) {
  if (body.size() <= kMaxClassifyBodyBytes) return false;
  *bad = Response::Error(413, "body_too_large",
                         "A /classify body is at most " + std::to_string(kMaxClassifyBodyBytes) + " bytes.");
  return true;
}

}  // namespace

std::optional<ClassifyRequest> ParseClassifyRequest(std::string_view body, http::Response* bad) {
  if (TooLarge(body, bad)) return std::nullopt;
  const std::string_view padded = Padded(body);
  if (auto fast = ParseFast(body, padded)) return fast;
  return ParseDom(body, padded, bad);
}

std::optional<ClassifyRequest> ParseClassifyRequestOnDemand(std::string_view body) {
  if (body.size() > kMaxClassifyBodyBytes) return std::nullopt;
  return ParseFast(body, Padded(body));
}

std::optional<ClassifyRequest> ParseClassifyRequestDom(std::string_view body, http::Response* bad) {
  if (TooLarge(body, bad)) return std::nullopt;
  return ParseDom(body, Padded(body), bad);
}

std::string_view FeaturesArrayText(std::string_view body) {
  // The body is valid JSON holding one top-level "features" key whose value
  // is an array of numbers: walk its structure (strings skipped with their
  // escapes) to that key; the array runs to the first ']'.
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  int depth = 0;
  std::size_t i = 0;
  const std::size_t n = body.size();
  while (i < n) {
    const char c = body[i];
    if (c == '{' || c == '[') {
      ++depth;
      ++i;
    } else if (c == '}' || c == ']') {
      --depth;
      ++i;
    } else if (c == '"') {
      const std::size_t start = ++i;
      while (i < n && body[i] != '"') i += body[i] == '\\' ? 2u : 1u;
      if (i >= n) return {};
      const std::string_view text = body.substr(start, i - start);
      ++i;
      if (depth != 1 || text != "features") continue;
      std::size_t j = i;
      while (j < n && space(body[j])) ++j;
      if (j >= n || body[j] != ':') continue;  // a value, not the key
      ++j;
      while (j < n && space(body[j])) ++j;
      if (j >= n || body[j] != '[') return {};
      const std::size_t close = body.find(']', j);  // numbers only inside: the first ']' closes it
      if (close == std::string_view::npos) return {};
      return body.substr(j, close + 1 - j);
    } else {
      ++i;
    }
  }
  return {};
}

void AddClassifyRoutes(http::Routes& routes, ServerContext& ctx) {
  routes.Add(http::Method::kPost, "/classify", [&ctx](const http::Request& r) { return Classify(ctx, r); });
}

}  // namespace edgefleet::server::api
