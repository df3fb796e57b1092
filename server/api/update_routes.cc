// OTA routes: GET /api/updates/check and POST /api/updates/status (SPEC
// sections 4 and 6; the manifest and its signature: docs/ota.md).
//
// Policy until the staged rollouts replace it: every eligible device is
// offered the latest published model (rollout_percentage 100). Eligible: its
// reported RAM is at least the model's min_device_ram_mb and its firmware is
// at least min_firmware_version (a device that does not say is not eligible
// for a model that has the constraint). Offered when its current version is
// another one (a device on a halted, newer version is offered the latest
// again).
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "common/manifest.h"
#include "server/api/context.h"
#include "server/api/handler_util.h"
#include "server/api/model_json.h"

namespace edgefleet::server::api {
namespace {

using common::ErrorCode;
using http::Request;
using http::Response;

constexpr std::int64_t kMaxVersion = std::numeric_limits<std::int64_t>::max();

// Signatures of canonical manifests: Ed25519 signing costs tens of
// microseconds and the same manifest is signed for every device.
class SignatureCache {
 public:
  common::Expected<std::string> Sign(const Registry& registry, const common::Manifest& m,
                                     const std::string& canonical) {
    {
      std::lock_guard lock(mu_);
      if (auto it = cache_.find(canonical); it != cache_.end()) return it->second;
    }
    EDGEFLEET_ASSIGN_OR_RETURN(std::string signature, registry.SignManifest(m));
    std::lock_guard lock(mu_);
    if (cache_.size() >= 256) cache_.clear();
    cache_.emplace(canonical, signature);
    return signature;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> cache_;
};

bool IsHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (const char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

Response NoUpdate(const char* reason) {
  return Response::Json(std::string("{\"update_available\":false,\"manifest\":null,\"signature\":null,\"reason\":\"") +
                        reason + "\"}");
}

Response Check(ServerContext& ctx, SignatureCache& signatures, const Request& request) {
  Response bad;
  const auto device_id = Query(request, "device_id", 256, &bad);
  if (!device_id) {
    if (bad.status != 200) return bad;
    return Response::Error(400, "invalid_argument", "device_id is missing.");
  }
  if (!IsDeviceId(*device_id)) return Response::Error(400, "invalid_argument", "device_id is not a valid device id.");
  const auto current_text = Query(request, "current_version", 32, &bad);
  if (!current_text && bad.status != 200) return bad;
  const auto ram_text = Query(request, "device_ram_mb", 32, &bad);
  if (!ram_text && bad.status != 200) return bad;
  const auto firmware = Query(request, "firmware_version", 64, &bad);
  if (!firmware && bad.status != 200) return bad;

  std::int64_t current = 0;
  if (current_text && !current_text->empty()) {
    auto v = ParseInteger(*current_text, "current_version", 0, kMaxVersion);
    if (!v.ok()) return ErrorResponse(v.error());
    current = v.value();
  }
  std::optional<std::int64_t> ram;
  if (ram_text) {
    auto v = ParseInteger(*ram_text, "device_ram_mb", 0, 1'000'000'000);
    if (!v.ok()) return ErrorResponse(v.error());
    ram = v.value();
  }
  if (firmware && !IsFirmwareVersion(*firmware)) {
    return Response::Error(400, "invalid_argument",
                           "firmware_version may hold only 1 to 64 letters, digits, '.', '-', '+' and '_'.");
  }
  if (!Authorize(ctx, request, Access::kThisDevice, *device_id, &bad)) return bad;

  store::DeviceReport report = SeenReport(ctx.clock.NowMs());
  report.ram_mb = ram;
  if (firmware) report.firmware_version = *firmware;
  ctx.writer->NoteReport(*device_id, report);

  auto latest = ctx.registry->Latest();
  if (!latest.ok()) {
    if (latest.error().code() != ErrorCode::kNotFound) return ErrorResponse(latest.error());
    Inc(ctx.metrics.update_checks_none);
    return NoUpdate("no_model");
  }
  const store::Model& model = latest.value();
  ctx.metrics.latest_model_version.store(model.version, std::memory_order_relaxed);
  const char* reason = nullptr;
  if (model.min_device_ram_mb > 0 && (!ram || *ram < model.min_device_ram_mb)) reason = "insufficient_ram";
  if (!model.min_firmware_version.empty() &&
      (!firmware || CompareVersions(*firmware, model.min_firmware_version) < 0)) {
    reason = "firmware_too_old";
  }
  if (reason == nullptr && current == model.version) reason = "up_to_date";
  if (reason != nullptr) {
    Inc(ctx.metrics.update_checks_none);
    return NoUpdate(reason);
  }

  std::string base = ctx.config.public_url;
  if (base.empty()) {
    const auto host = request.HeaderValue("Host");
    if (!host || !IsHost(*host)) {
      return Response::Error(400, "invalid_argument",
                             "The request has no valid Host header and server.public_url is not set.");
    }
    base = std::string(ctx.tls ? "https://" : "http://") + std::string(*host);
  }
  common::Manifest m;
  m.model_id = model.model_id;
  m.version = model.version;
  m.url = base + "/model/download?version=" + std::to_string(model.version);
  m.sha256 = model.sha256;
  m.size_bytes = model.size_bytes;
  m.min_device_ram_mb = model.min_device_ram_mb;
  m.min_firmware_version = model.min_firmware_version;
  m.rollout_percentage = 100;
  auto canonical = common::CanonicalManifestBytes(m);
  if (!canonical.ok()) return ErrorResponse(canonical.error());
  auto signature = signatures.Sign(*ctx.registry, m, canonical.value());
  if (!signature.ok()) {
    if (signature.error().code() == ErrorCode::kFailedPrecondition) {
      return Response::Error(503, "no_signing_key", "The server has no signing key; no update can be offered.");
    }
    return ErrorResponse(signature.error());
  }
  Inc(ctx.metrics.update_checks_offered);
  std::string body = "{\"update_available\":true,\"manifest\":";
  body += canonical.value();
  body += ",\"signature\":\"";
  body += signature.value();
  body += "\"}";
  return Response::Json(std::move(body));
}

Response Status(ServerContext& ctx, const Request& request) {
  Response bad;
  const auto body = ParseJsonObject(request.body, &bad);
  if (!body) return bad;
  const auto field = [&](const char* key) -> const nlohmann::json* {
    const auto it = body->find(key);
    return it == body->end() ? nullptr : &*it;
  };
  const nlohmann::json* device = field("device_id");
  if (device == nullptr || !device->is_string() || !IsDeviceId(device->get_ref<const std::string&>())) {
    return Response::Error(400, "invalid_argument", "device_id must be a valid device id string.");
  }
  const std::string device_id = device->get<std::string>();
  const nlohmann::json* status_json = field("status");
  if (status_json == nullptr || !status_json->is_string()) {
    return Response::Error(400, "invalid_argument", "status must be a string.");
  }
  auto status = store::ParseUpdateStatus(status_json->get_ref<const std::string&>());
  if (!status.ok()) {
    return Response::Error(400, "invalid_argument",
                           "status must be one of pending, downloading, validating, applying, active, "
                           "rolled_back, failed.");
  }
  std::int64_t version = 0;
  if (const nlohmann::json* v = field("version"); v != nullptr && !v->is_null()) {
    if (v->is_number_unsigned() || (v->is_number_integer() && v->get<std::int64_t>() >= 0)) {
      version = v->get<std::int64_t>();
    } else if (v->is_string()) {
      auto parsed = ParseInteger(v->get_ref<const std::string&>(), "version", 0, kMaxVersion);
      if (!parsed.ok()) return ErrorResponse(parsed.error());
      version = parsed.value();
    } else {
      return Response::Error(400, "invalid_argument", "version must be an integer >= 0.");
    }
  }
  std::string error;
  if (const nlohmann::json* e = field("error"); e != nullptr && !e->is_null()) {
    if (!e->is_string()) return Response::Error(400, "invalid_argument", "error must be a string or null.");
    error = e->get<std::string>();
    if (error.size() > store::kMaxErrorTextBytes) {
      return Response::Error(400, "invalid_argument", "error is longer than 4096 bytes.");
    }
  }
  if (!Authorize(ctx, request, Access::kThisDevice, device_id, &bad)) return bad;

  const std::int64_t now = ctx.clock.NowMs();
  auto recorded = ctx.store->RecordUpdateStatus({device_id, status.value(), version, error, now});
  if (!recorded.ok()) return ErrorResponse(recorded.error());
  // What the device says it runs: only an `active` report says that.
  store::DeviceReport report = SeenReport(now);
  if (status.value() == store::UpdateStatus::kActive) report.model_version = version;
  if (auto r = ctx.store->RecordDeviceReport(device_id, report); !r.ok()) return ErrorResponse(r.error());
  Inc(ctx.metrics.update_status_reports);
  nlohmann::json answer = {{"device_id", device_id},
                           {"status", store::ToString(status.value())},
                           {"version", version},
                           {"recorded", recorded.value()}};
  return Response::Json(answer.dump());
}

}  // namespace

void AddUpdateRoutes(http::Routes& routes, ServerContext& ctx) {
  auto signatures = std::make_shared<SignatureCache>();
  routes.Add(http::Method::kGet, "/api/updates/check",
             [&ctx, signatures](const Request& r) { return Check(ctx, *signatures, r); });
  routes.Add(http::Method::kPost, "/api/updates/status", [&ctx](const Request& r) { return Status(ctx, r); });
}

}  // namespace edgefleet::server::api
