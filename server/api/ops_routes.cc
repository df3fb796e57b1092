// Operations routes: GET /metrics and GET /healthz (no token: for scrapers
// and load balancers; they name no device), and GET / (the fleet page, admin
// token as Bearer or as the password of HTTP Basic auth, so a browser asks
// for it).
#include <ctime>
#include <nlohmann/json.hpp>

#include "server/api/context.h"
#include "server/api/handler_util.h"
#include "server/api/model_json.h"

namespace edgefleet::server::api {
namespace {

using http::Request;
using http::Response;

Response Metrics(ServerContext& ctx, const Request&) {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  if (ctx.transport_metrics) r.body = ctx.transport_metrics();
  ctx.metrics.escalation_queue_depth.store(static_cast<std::int64_t>(ctx.writer->depth()),
                                           std::memory_order_relaxed);
  r.body += ctx.metrics.Render();
  return r;
}

Response Health(ServerContext& ctx, const Request&) {
  auto schema = ctx.store->SchemaVersion();
  auto latest = ctx.registry->Latest();
  nlohmann::json body = {
      {"status", schema.ok() ? "ok" : "degraded"},
      {"database", schema.ok() ? std::string(ctx.store->backend()) : schema.error().message()},
      {"cloud_model", ctx.cloud ? nlohmann::json(ctx.cloud->version) : nlohmann::json(nullptr)},
      {"latest_model_version", latest.ok() ? nlohmann::json(latest.value().version) : nlohmann::json(nullptr)},
      {"signing_key", ctx.registry->has_key()},
      {"escalation_queue_depth", ctx.writer->depth()}};
  return Response::Json(body.dump(), schema.ok() ? 200 : 503);
}

std::string Escape(std::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string Time(std::optional<std::int64_t> ms) {
  if (!ms) return "never";
  const std::time_t secs = static_cast<std::time_t>(*ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

Response FleetPage(ServerContext& ctx, const Request& request) {
  Response denied;
  if (!Authorize(ctx, request, Access::kAdmin, "", &denied)) {
    if (denied.status == 401) {
      denied.headers.clear();
      denied.headers.emplace_back("WWW-Authenticate", "Basic realm=\"edgefleet admin\", charset=\"UTF-8\"");
    }
    return denied;
  }
  auto devices = ctx.store->ListDevices();
  if (!devices.ok()) return ErrorResponse(devices.error());
  auto models = ctx.store->ListModels();
  if (!models.ok()) return ErrorResponse(models.error());
  const std::int64_t now = ctx.clock.NowMs();
  std::string html =
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>edgefleet</title>"
      "<meta http-equiv=\"refresh\" content=\"10\">"
      "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
      ".online{color:#070}.stale{color:#a60}.offline{color:#a00}</style></head><body>"
      "<h1>edgefleet fleet</h1>";
  html += "<p>" + std::to_string(devices.value().size()) + " devices; cloud model " +
          (ctx.cloud ? "version " + std::to_string(ctx.cloud->version) : std::string("not loaded")) +
          "; page generated " + Time(now) + ".</p>";
  html +=
      "<h2>Devices</h2><table><tr><th>device</th><th>state</th><th>model version</th><th>last seen</th>"
      "<th>escalations</th><th>rows synced</th><th>fallbacks</th><th>buffer</th><th>dropped</th>"
      "<th>backoff failures</th></tr>";
  for (const store::Device& d : devices.value()) {
    const char* state = DeviceState(d, now, ctx.config.online_window_s, ctx.config.stale_after_s);
    html += "<tr><td>" + Escape(d.id) + "</td><td class=\"" + state + "\">" + state + "</td><td>" +
            (d.reported_model_version ? std::to_string(*d.reported_model_version) : "-") + "</td><td>" +
            Time(d.last_seen_ms) + "</td><td>" + std::to_string(d.counters.escalations) + "</td><td>" +
            std::to_string(d.counters.rows_synced) + "</td><td>" + std::to_string(d.counters.fallbacks) +
            "</td><td>" + std::to_string(d.buffer_depth) + "</td><td>" + std::to_string(d.counters.dropped_rows) +
            "</td><td>" + std::to_string(d.backoff.failures) + "</td></tr>";
  }
  html += "</table><h2>Models</h2><table><tr><th>version</th><th>model</th><th>status</th><th>size</th>"
          "<th>sha256</th><th>published</th></tr>";
  for (const store::Model& m : models.value()) {
    html += "<tr><td>" + std::to_string(m.version) + "</td><td>" + Escape(m.model_id) + "</td><td>" +
            store::ToString(m.status) + "</td><td>" + std::to_string(m.size_bytes) + "</td><td>" +
            Escape(m.sha256.substr(0, 16)) + "...</td><td>" + Time(m.created_ms) + "</td></tr>";
  }
  html += "</table></body></html>\n";
  Response r;
  r.content_type = "text/html; charset=utf-8";
  r.body = std::move(html);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

void AddOpsRoutes(http::Routes& routes, ServerContext& ctx) {
  routes.Add(http::Method::kGet, "/metrics", [&ctx](const Request& r) { return Metrics(ctx, r); });
  routes.Add(http::Method::kGet, "/healthz", [&ctx](const Request& r) { return Health(ctx, r); });
  routes.Add(http::Method::kGet, "/", [&ctx](const Request& r) { return FleetPage(ctx, r); });
}

}  // namespace edgefleet::server::api
