// Model routes: GET /model/version, GET /model/download, GET
// /model/thresholds (devices), POST /api/models and GET /api/models (admin).
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "server/api/context.h"
#include "server/api/handler_util.h"
#include "server/api/model_json.h"
#include "server/api/range.h"

namespace edgefleet::server::api {
namespace {

using common::ErrorCode;
using http::Request;
using http::Response;

constexpr std::int64_t kMaxVersion = std::numeric_limits<std::int64_t>::max();
// The base64 Ed25519 signature of the artifact's bytes (on /model/download,
// 200, 206 and HEAD) or of the response body's exact bytes (/model/thresholds);
// docs/ota.md, "Signature transport".
constexpr const char* kSignatureHeader = "X-Edgefleet-Signature";

// The model a request asks for: ?version=N, or the one the server offers.
// Halted models are never served.
std::optional<store::Model> ResolveModel(ServerContext& ctx, const Request& request, Response* bad) {
  const auto version_text = Query(request, "version", 32, bad);
  if (!version_text && bad->status != 200) return std::nullopt;
  if (version_text) {
    auto version = ParseInteger(*version_text, "version", 1, kMaxVersion);
    if (!version.ok()) {
      *bad = ErrorResponse(version.error());
      return std::nullopt;
    }
    auto model = ctx.registry->Get(version.value());
    if (!model.ok()) {
      *bad = model.error().code() == ErrorCode::kNotFound
                 ? Response::Error(404, "not_found", "No model version " + *version_text + " is published.")
                 : ErrorResponse(model.error());
      return std::nullopt;
    }
    if (model.value().status == store::ModelStatus::kHalted) {
      *bad = Response::Error(404, "not_found", "Model version " + *version_text + " is halted.");
      return std::nullopt;
    }
    return std::move(model).value();
  }
  auto latest = ctx.registry->Latest();
  if (!latest.ok()) {
    *bad = latest.error().code() == ErrorCode::kNotFound
               ? Response::Error(404, "no_model", "No model has been published yet.")
               : ErrorResponse(latest.error());
    return std::nullopt;
  }
  ctx.metrics.latest_model_version.store(latest.value().version, std::memory_order_relaxed);
  return std::move(latest).value();
}

Response ModelVersion(ServerContext& ctx, const Request& request) {
  Response bad;
  const auto device_id = Query(request, "device_id", 256, &bad);
  if (!device_id && bad.status != 200) return bad;
  if (device_id && !IsDeviceId(*device_id)) {
    return Response::Error(400, "invalid_argument", "device_id is not a valid device id.");
  }
  // The latest version's metadata is public, as on the seeds' server (load
  // balancers, probes and compare.py ask without a token); it reveals nothing
  // the signed manifest does not. A request naming a device, or carrying a
  // token, is authenticated: it counts as that device being seen.
  if (device_id || request.HeaderValue("Authorization")) {
    const Access access = device_id ? Access::kThisDevice : Access::kAnyDevice;
    if (!Authorize(ctx, request, access, device_id.value_or(""), &bad)) return bad;
  }
  if (device_id) ctx.writer->NoteReport(*device_id, SeenReport(ctx.clock.NowMs()));
  const auto model = ResolveModel(ctx, request, &bad);
  if (!model) return bad;
  nlohmann::json body = {{"version", model->version},
                         {"filename", model->filename},
                         {"size_bytes", model->size_bytes},
                         {"sha256", model->sha256}};
  return Response::Json(body.dump());
}

Response Download(ServerContext& ctx, const Request& request) {
  Response bad;
  if (!Authorize(ctx, request, Access::kAnyDevice, "", &bad)) return bad;
  const auto model = ResolveModel(ctx, request, &bad);
  if (!model) return bad;
  auto path = ctx.registry->ArtifactPath(*model);
  if (!path.ok()) return ErrorResponse(path.error());
  struct stat st{};
  if (::stat(path.value().c_str(), &st) != 0 || static_cast<std::int64_t>(st.st_size) != model->size_bytes) {
    spdlog::error("artifact of model version {} is missing or has the wrong size: {}", model->version,
                  path.value().string());
    return Response::Error(503, "artifact_unavailable",
                           "The artifact of model version " + std::to_string(model->version) +
                               " cannot be read; the event is logged.");
  }
  const auto size = static_cast<std::uint64_t>(model->size_bytes);
  const std::string etag = "\"" + model->sha256 + "\"";

  Response r;
  r.content_type = "application/octet-stream";
  r.headers = {{"ETag", etag},
               {"Accept-Ranges", "bytes"},
               {"Cache-Control", "no-cache"},
               {"Content-Disposition", "attachment; filename=\"" + model->filename + "\""},
               {kSignatureHeader, model->signature}};
  if (const auto inm = request.HeaderValue("If-None-Match"); inm && IfNoneMatchMatches(*inm, etag)) {
    r.status = 304;
    r.content_type.clear();
    return r;
  }
  std::optional<std::string_view> range = request.HeaderValue("Range");
  // If-Range with another validator: the representation changed, send it whole.
  if (const auto if_range = request.HeaderValue("If-Range"); range && if_range && *if_range != etag) {
    range.reset();
  }
  const RangeDecision decision = DecideRange(range, size);
  switch (decision.kind) {
    case RangeDecision::Kind::kUnsatisfiable: {
      Response e = Response::Error(416, "range_not_satisfiable", decision.reason);
      e.headers = {{"Content-Range", "bytes */" + std::to_string(size)}, {"Accept-Ranges", "bytes"}};
      return e;
    }
    case RangeDecision::Kind::kPartial:
      r.status = 206;
      r.headers.emplace_back("Content-Range", "bytes " + std::to_string(decision.first) + "-" +
                                                  std::to_string(decision.first + decision.length - 1) + "/" +
                                                  std::to_string(size));
      r.file = http::FileRange{path.value().string(), decision.first, decision.length};
      break;
    case RangeDecision::Kind::kWhole:
      r.file = http::FileRange{path.value().string(), 0, size};
      break;
  }
  Inc(ctx.metrics.model_downloads);
  return r;
}

Response Thresholds(ServerContext& ctx, const Request& request) {
  Response bad;
  if (!Authorize(ctx, request, Access::kAnyDevice, "", &bad)) return bad;
  const auto model = ResolveModel(ctx, request, &bad);
  if (!model) return bad;
  const store::ModelThresholds& t = model->thresholds;
  nlohmann::json body = {{"version", model->version}, {"low_threshold", t.low}, {"high_threshold", t.high},
                         {"mu", t.mu},                {"sigma", t.sigma},      {"k_low", t.k_low},
                         {"k_high", t.k_high}};
  Response r = Response::Json(body.dump());
  if (ctx.registry->has_key()) {  // without a key nothing was published, so nothing is served here
    auto signature = ctx.registry->SignBytes(r.body);
    if (!signature.ok()) return ErrorResponse(signature.error());
    r.headers.emplace_back(kSignatureHeader, std::move(signature).value());
  }
  return r;
}

Response Publish(ServerContext& ctx, const Request& request) {
  Response bad;
  if (!Authorize(ctx, request, Access::kAdmin, "", &bad)) return bad;
  PublishOptions options;
  const auto ram = Query(request, "min_device_ram_mb", 32, &bad);
  if (!ram && bad.status != 200) return bad;
  if (ram) {
    auto v = ParseInteger(*ram, "min_device_ram_mb", 0, 1'000'000'000);
    if (!v.ok()) return ErrorResponse(v.error());
    options.min_device_ram_mb = v.value();
  }
  const auto firmware = Query(request, "min_firmware_version", 64, &bad);
  if (!firmware && bad.status != 200) return bad;
  if (firmware) {
    if (!IsFirmwareVersion(*firmware)) {
      return Response::Error(400, "invalid_argument",
                             "min_firmware_version may hold only letters, digits, '.', '-', '+' and '_'.");
    }
    options.min_firmware_version = *firmware;
  }
  if (request.body.empty()) return Response::Error(400, "invalid_argument", "The body must be the artifact's bytes.");
  auto model = ctx.registry->Publish(common::AsBytes(request.body), options);
  if (!model.ok()) return ErrorResponse(model.error());
  Inc(ctx.metrics.models_published);
  spdlog::info("published model {} version {} ({} bytes, sha256 {})", model.value().model_id,
               model.value().version, model.value().size_bytes, model.value().sha256);
  return Response::Json(ModelJson(model.value()).dump(), 201);
}

Response ListModels(ServerContext& ctx, const Request& request) {
  Response bad;
  if (!Authorize(ctx, request, Access::kAdmin, "", &bad)) return bad;
  auto models = ctx.store->ListModels();
  if (!models.ok()) return ErrorResponse(models.error());
  nlohmann::json list = nlohmann::json::array();
  for (const store::Model& m : models.value()) list.push_back(ModelJson(m));
  return Response::Json(nlohmann::json{{"models", std::move(list)}}.dump());
}

}  // namespace

void AddModelRoutes(http::Routes& routes, ServerContext& ctx) {
  routes.Add(http::Method::kGet, "/model/version", [&ctx](const Request& r) { return ModelVersion(ctx, r); });
  routes.Add(http::Method::kGet, "/model/download", [&ctx](const Request& r) { return Download(ctx, r); });
  routes.Add(http::Method::kGet, "/model/thresholds", [&ctx](const Request& r) { return Thresholds(ctx, r); });
  routes.Add(http::Method::kPost, "/api/models", [&ctx](const Request& r) { return Publish(ctx, r); });
  routes.Add(http::Method::kGet, "/api/models", [&ctx](const Request& r) { return ListModels(ctx, r); });
}

}  // namespace edgefleet::server::api
