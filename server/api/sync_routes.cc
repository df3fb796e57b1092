// POST /api/sync (SPEC sections 4 and 7): a batch from a device's buffer,
// decoded by common/sync_codec.h (JSON or columnar, optionally zstd; the
// format is docs/api/sync.md), stored by Store::IngestBatch in one
// transaction, acknowledged with exactly the rows stored and the rows
// already present (a replay stores nothing and acknowledges everything).
//
// The device is the message's device_id, or, for the seeds' shape which
// carries none, the device whose token sent it. The device's reported state
// (model version, buffer depth, drops, backoff, bytes per strategy) updates
// its record; the newest health row's statistics become its health JSON,
// with the bytes sent per strategy under "bytes_sent".
#include <nlohmann/json.hpp>

#include "common/sync_codec.h"
#include "server/api/context.h"
#include "server/api/handler_util.h"

namespace edgefleet::server::api {
namespace {

using http::Request;
using http::Response;

Response Sync(ServerContext& ctx, const Request& request) {
  Response bad;
  if (!ExtractToken(request)) {
    Authorize(ctx, request, Access::kAnyDevice, "", &bad);
    return bad;
  }
  const std::string_view type = request.HeaderValue("Content-Type").value_or(sync_codec::kJsonContentType);
  const std::string_view encoding = request.HeaderValue("Content-Encoding").value_or("");
  auto message = sync_codec::DecodeSyncMessage(request.body, type, encoding);
  if (!message.ok()) {
    const bool too_big = message.error().code() == common::ErrorCode::kResourceExhausted;
    std::string text = message.error().message();
    if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    if (!text.empty() && text.back() != '.') text += '.';
    return Response::Error(too_big ? 413 : 400, common::ToString(message.error().code()), text);
  }
  sync_codec::SyncMessage& m = message.value();
  auto principal = Authorize(ctx, request, m.device_id.empty() ? Access::kAnyDevice : Access::kThisDevice,
                             m.device_id, &bad);
  if (!principal) return bad;
  if (m.device_id.empty()) {
    if (principal->admin()) {
      return Response::Error(400, "invalid_argument", "A batch without device_id must be sent with a device's token.");
    }
    m.device_id = principal->device_id;
  }

  const std::int64_t now = ctx.clock.NowMs();
  auto result = ctx.store->IngestBatch(m.device_id, m.batch, now);
  if (!result.ok()) return ErrorResponse(result.error());

  if (m.state || !m.batch.health.empty()) {
    store::DeviceReport report = SeenReport(now);
    if (m.state) {
      const sync_codec::DeviceState& s = *m.state;
      report.model_version = s.model_version;
      report.buffer_depth = s.buffer_depth;
      report.dropped_rows = s.dropped_total();
      report.backoff = store::BackoffState{s.backoff_failures, s.backoff_delay_ms};
    }
    auto device = ctx.store->GetDevice(m.device_id);
    if (!device.ok()) return ErrorResponse(device.error());
    nlohmann::json health = nlohmann::json::parse(device.value().health_json, nullptr, false);
    if (!health.is_object()) health = nlohmann::json::object();
    const sync::HealthRow* newest = nullptr;
    for (const sync::HealthRow& h : m.batch.health) {
      if (newest == nullptr || h.period_end_ms >= newest->period_end_ms) newest = &h;
    }
    if (newest != nullptr) {
      nlohmann::json stats = nlohmann::json::parse(newest->stats_json, nullptr, false);
      if (stats.is_object()) health["stats"] = std::move(stats);
      health["stats_model_version"] = newest->model_version;
      health["stats_period_end_ms"] = newest->period_end_ms;
    }
    if (m.state && !m.state->bytes_sent.empty()) {
      nlohmann::json bytes = nlohmann::json::object();
      for (const sync_codec::StrategyBytes& b : m.state->bytes_sent) bytes[b.strategy] = b.bytes;
      health["bytes_sent"] = std::move(bytes);
    }
    std::string text = health.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() <= store::kMaxJsonBytes) report.health_json = std::move(text);
    if (auto r = ctx.store->RecordDeviceReport(m.device_id, report); !r.ok()) return ErrorResponse(r.error());
  }

  const sync::IngestResult& ack = result.value();
  Inc(ctx.metrics.sync_batches);
  Inc(ctx.metrics.sync_rows_stored,
      ack.inferences.stored.size() + ack.hard_samples.stored.size() + ack.health.stored.size());
  return Response::Json(sync_codec::EncodeSyncAck(ack));
}

}  // namespace

void AddSyncRoutes(http::Routes& routes, ServerContext& ctx) {
  routes.Add(http::Method::kPost, "/api/sync", [&ctx](const Request& r) { return Sync(ctx, r); });
}

}  // namespace edgefleet::server::api
