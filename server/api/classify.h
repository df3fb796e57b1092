// POST /classify: the cloud tier of SPEC section 3.
//
// Request (the seeds' field names): {"device_id": str, "features": [300
// numbers], "edge_mse": number >= 0, "model_version": integer >= 0
// (optional, or a string of digits)}. Unknown keys are ignored, a key given
// twice is refused. Every feature must be a finite number with |x| <= 1e6
// (in g); NaN and Infinity are not JSON and are refused as such, and so is a
// number too large for a double (1e999).
//
// Answer: {"classification": "normal"|"anomaly", "label": 0|1, "confidence",
// "mse" (the cloud model's score), "model_version" (the edge model version
// the server offers, 0 when none), "cloud_model_version"}.
// confidence = 0.5 + 0.5 * tanh(|mse - t| / t) with t the cloud model's
// threshold: 0.5 at the threshold, towards 1 away from it.
//
// The escalation is handed to the BackgroundWriter (store + JSON-lines log)
// before the answer; a full queue answers 503 (the device falls back).
//
// Threads: the parse uses a per-thread simdjson parser and a per-thread
// feature scratch; nothing is shared but the read-only cloud model.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "server/http/message.h"

namespace edgefleet::server::api {

inline constexpr std::size_t kMaxClassifyBodyBytes = 64 * 1024;
inline constexpr double kMaxAbsFeature = 1e6;

struct ClassifyRequest {
  std::string device_id;
  std::array<float, 300> features{};
  double edge_mse = 0;
  std::int64_t model_version = 0;
  // The features array's text as the device sent it ("[0.1, -2e-3, ...]"),
  // pointing into the request's body (valid while the body is): the
  // escalation log copies it, line breaks removed, instead of formatting
  // 300 floats. Empty when the key was written with escapes (the log then
  // formats the floats).
  std::string_view features_text;
};

// Parses and validates a /classify body. On failure nullopt and `*bad` holds
// the 4xx answer. Exposed for tests and the fuzz target.
//
// Two parsers behind it: a body of exactly the four keys, each once, well
// formed and in range, is read by simdjson's On-Demand API straight into the
// request (ParseClassifyRequestOnDemand: about half the time of building a
// DOM for 300 numbers). Anything else (any error, an unknown or repeated key,
// trailing text) falls to the DOM parser (ParseClassifyRequestDom), which
// validates the whole document and words the 4xx answer. The fast path only
// accepts bodies the DOM parser accepts with the same result: a test and
// the fuzz target check that.
std::optional<ClassifyRequest> ParseClassifyRequest(std::string_view body, http::Response* bad);
std::optional<ClassifyRequest> ParseClassifyRequestOnDemand(std::string_view body);  // nullopt: not decided
std::optional<ClassifyRequest> ParseClassifyRequestDom(std::string_view body, http::Response* bad);

// The text of the top-level "features" array of a body that
// ParseClassifyRequest accepted (a view into `body`); "" if the key is not
// spelt plainly.
std::string_view FeaturesArrayText(std::string_view body);

}  // namespace edgefleet::server::api
