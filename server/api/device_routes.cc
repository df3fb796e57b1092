// Fleet routes (admin token): GET /api/devices and GET /api/devices/{id}.
//
// The list gives every device with its latest OTA status ("ota_latest");
// the detail adds the whole OTA history ("ota_history", oldest first).
#include <nlohmann/json.hpp>

#include "server/api/context.h"
#include "server/api/handler_util.h"
#include "server/api/model_json.h"

namespace edgefleet::server::api {
namespace {

using common::ErrorCode;
using http::Request;
using http::Response;

nlohmann::json Describe(ServerContext& ctx, const store::Device& d, std::int64_t now) {
  return DeviceJson(d, DeviceState(d, now, ctx.config.online_window_s, ctx.config.stale_after_s));
}

Response List(ServerContext& ctx, const Request& request) {
  Response bad;
  if (!Authorize(ctx, request, Access::kAdmin, "", &bad)) return bad;
  auto devices = ctx.store->ListDevices();
  if (!devices.ok()) return ErrorResponse(devices.error());
  const std::int64_t now = ctx.clock.NowMs();
  nlohmann::json list = nlohmann::json::array();
  for (const store::Device& d : devices.value()) {
    nlohmann::json j = Describe(ctx, d, now);
    auto latest = ctx.store->LatestUpdateStatus(d.id);
    if (latest.ok()) {
      j["ota_latest"] = UpdateEntryJson(latest.value());
    } else if (latest.error().code() == ErrorCode::kNotFound) {
      j["ota_latest"] = nullptr;
    } else {
      return ErrorResponse(latest.error());
    }
    list.push_back(std::move(j));
  }
  return Response::Json(nlohmann::json{{"devices", std::move(list)}, {"now_ms", now}}.dump());
}

Response Detail(ServerContext& ctx, const Request& request) {
  Response bad;
  if (!Authorize(ctx, request, Access::kAdmin, "", &bad)) return bad;
  const std::string_view id = request.path.substr(std::string_view("/api/devices/").size());
  if (!IsDeviceId(id)) return Response::Error(400, "invalid_argument", "The path does not name a valid device id.");
  auto device = ctx.store->GetDevice(id);
  if (!device.ok()) {
    if (device.error().code() == ErrorCode::kNotFound) {
      return Response::Error(404, "unknown_device", "No device '" + std::string(id) + "' is registered.");
    }
    return ErrorResponse(device.error());
  }
  auto history = ctx.store->UpdateHistory(id);
  if (!history.ok()) return ErrorResponse(history.error());
  nlohmann::json j = Describe(ctx, device.value(), ctx.clock.NowMs());
  nlohmann::json entries = nlohmann::json::array();
  for (const store::UpdateStatusEntry& e : history.value()) entries.push_back(UpdateEntryJson(e));
  j["ota_latest"] = entries.empty() ? nlohmann::json(nullptr) : entries.back();
  j["ota_history"] = std::move(entries);
  return Response::Json(j.dump());
}

}  // namespace

void AddDeviceRoutes(http::Routes& routes, ServerContext& ctx) {
  routes.Add(http::Method::kGet, "/api/devices", [&ctx](const Request& r) { return List(ctx, r); });
  routes.AddPrefix(http::Method::kGet, "/api/devices/", [&ctx](const Request& r) { return Detail(ctx, r); });
}

}  // namespace edgefleet::server::api
