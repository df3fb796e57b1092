#include "server/api/handler_util.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "common/text.h"

namespace edgefleet::server::api {

using common::Error;
using common::ErrorCode;
using common::Expected;
using http::Response;

http::Response ErrorResponse(const common::Error& error) {
  unsigned status = 500;
  switch (error.code()) {
    case ErrorCode::kInvalidArgument: status = 400; break;
    case ErrorCode::kUnauthenticated: status = 401; break;
    case ErrorCode::kPermissionDenied: status = 403; break;
    case ErrorCode::kNotFound: status = 404; break;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
    case ErrorCode::kFailedPrecondition: status = 409; break;
    case ErrorCode::kResourceExhausted: status = 413; break;
    case ErrorCode::kUnavailable:
    case ErrorCode::kAborted: status = 503; break;
    case ErrorCode::kDeadlineExceeded: status = 504; break;
    default: break;
  }
  if (status == 500) {
    spdlog::error("internal error: {}", error.ToString());
    return Response::Error(500, "internal", "The server failed to answer; the event is logged.");
  }
  std::string message = error.message();
  if (!message.empty()) message[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(message[0])));
  if (!message.empty() && message.back() != '.') message += '.';
  return Response::Error(status, common::ToString(error.code()), message);
}

std::optional<Principal> Authorize(ServerContext& ctx, const http::Request& request, Access access,
                                   std::string_view device_id, http::Response* denied) {
  const auto unauthorized = [&](std::string_view message) {
    Inc(ctx.metrics.auth_failures);
    *denied = Response::Error(401, "unauthenticated", message);
    denied->headers.emplace_back("WWW-Authenticate", "Bearer realm=\"edgefleet\"");
    return std::nullopt;
  };
  const auto forbidden = [&](std::string_view message) {
    Inc(ctx.metrics.auth_failures);
    *denied = Response::Error(403, "permission_denied", message);
    return std::nullopt;
  };
  const std::optional<std::string> token = ExtractToken(request);
  if (!token) return unauthorized("This route needs an Authorization: Bearer <token> header.");
  auto principal = ctx.auth->Authenticate(*token, access == Access::kAdmin ? std::string_view() : device_id);
  if (!principal.ok()) {
    if (principal.error().code() == ErrorCode::kUnauthenticated) return unauthorized("The token is not valid.");
    *denied = ErrorResponse(principal.error());
    return std::nullopt;
  }
  const Principal& p = principal.value();
  switch (access) {
    case Access::kAdmin:
      if (!p.admin()) return forbidden("This route needs the admin token.");
      break;
    case Access::kThisDevice:
      if (p.admin()) {
        auto device = ctx.store->GetDevice(device_id);
        if (!device.ok()) {
          *denied = device.error().code() == ErrorCode::kNotFound
                        ? Response::Error(404, "unknown_device",
                                          "No device '" + std::string(device_id) + "' is registered.")
                        : ErrorResponse(device.error());
          return std::nullopt;
        }
      } else if (p.device_id != device_id) {
        return forbidden("This token belongs to another device.");
      }
      break;
    case Access::kAnyDevice:
      break;
  }
  return p;
}

std::optional<nlohmann::json> ParseJsonObject(std::string_view body, http::Response* bad) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    *bad = Response::Error(400, "invalid_json", "The body is not valid JSON.");
    return std::nullopt;
  }
  if (!parsed.is_object()) {
    *bad = Response::Error(400, "invalid_json", "The body must be a JSON object.");
    return std::nullopt;
  }
  return parsed;
}

Expected<std::int64_t> ParseInteger(std::string_view text, std::string_view name, std::int64_t min,
                                    std::int64_t max) {
  std::int64_t value = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || value < min || value > max) {
    return Error(ErrorCode::kInvalidArgument, std::string(name) + " must be an integer from " +
                                                  std::to_string(min) + " to " + std::to_string(max));
  }
  return value;
}

std::optional<std::string> Query(const http::Request& request, std::string_view name, std::size_t max_bytes,
                                 http::Response* bad) {
  std::string error;
  auto value = http::QueryParam(request.query, name, &error);
  if (!error.empty()) {
    *bad = Response::Error(400, "invalid_argument", "The query parameter '" + std::string(name) +
                                                        "' has a malformed %-escape.");
    return std::nullopt;
  }
  if (value && value->size() > max_bytes) {
    *bad = Response::Error(400, "invalid_argument",
                           "The query parameter '" + std::string(name) + "' is too long.");
    return std::nullopt;
  }
  return value;
}

bool IsDeviceId(std::string_view id) { return common::IsDeviceIdText(id); }

void AppendJsonNumber(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, r.ptr);
}

void AppendJsonNumber(std::string& out, float value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, r.ptr);
}

}  // namespace edgefleet::server::api
