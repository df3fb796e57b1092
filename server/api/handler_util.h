// What every API handler needs: errors as HTTP answers, authorization,
// small JSON bodies, query parameters, number formatting.
//
// Threads: pure functions, or thread-safe through the ServerContext.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "server/api/auth.h"
#include "server/api/context.h"
#include "server/http/message.h"

namespace edgefleet::server::api {

// An Error as an HTTP answer: invalid_argument 400, unauthenticated 401,
// permission_denied 403, not_found 404, already_exists / conflict /
// failed_precondition 409, resource_exhausted 413, unavailable 503,
// deadline_exceeded 504, everything else 500 (whose message is logged, and
// answered as "internal error" so no internals leak).
http::Response ErrorResponse(const common::Error& error);

enum class Access : std::uint8_t {
  kAnyDevice,   // any device token, or the admin token
  kThisDevice,  // the token of the named device, or the admin token
  kAdmin,       // the admin token only
};

// Authorizes the request. On success the principal; otherwise nullopt and
// `*denied` is the answer: 401 (no or unknown token, with WWW-Authenticate),
// 403 (a device token on an admin route, or another device's token), 404
// (the admin token naming an unknown device), 503 (the store is down).
std::optional<Principal> Authorize(ServerContext& ctx, const http::Request& request, Access access,
                                   std::string_view device_id, http::Response* denied);

// A JSON object body (nlohmann; for the small bodies, not /classify), or a
// 400 answer in `*bad`: malformed JSON, not an object, NaN/Infinity tokens.
std::optional<nlohmann::json> ParseJsonObject(std::string_view body, http::Response* bad);

// Decimal integer in [min, max]; kInvalidArgument naming `name` otherwise.
common::Expected<std::int64_t> ParseInteger(std::string_view text, std::string_view name, std::int64_t min,
                                            std::int64_t max);

// A query parameter: nullopt when absent; a 400 answer in `*bad` (and
// nullopt) when its %-escapes are malformed or it is longer than max_bytes.
std::optional<std::string> Query(const http::Request& request, std::string_view name, std::size_t max_bytes,
                                 http::Response* bad);

// Device ids as the store accepts them: 1..128 of [A-Za-z0-9-_.:].
bool IsDeviceId(std::string_view id);

// A device report that says only "seen at now_ms".
inline store::DeviceReport SeenReport(std::int64_t now_ms) {
  store::DeviceReport r;
  r.seen_ms = now_ms;
  return r;
}

// Shortest round-trip text of a number (JSON has no NaN or Infinity: those
// become null).
void AppendJsonNumber(std::string& out, double value);
void AppendJsonNumber(std::string& out, float value);

}  // namespace edgefleet::server::api
