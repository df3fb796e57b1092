#include "server/api/context.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <system_error>

namespace edgefleet::server::api {

using common::Error;
using common::ErrorCode;
using common::Expected;

common::Expected<std::unique_ptr<ServerContext>> OpenServerContext(const ServerConfig& config,
                                                                   const Clock& clock) {
  auto ctx = std::make_unique<ServerContext>(config, clock);
  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Error(ErrorCode::kIo, "cannot create the data dir " + config.data_dir + ": " + ec.message());

  auto store = store::OpenStore(config.db);
  if (!store.ok()) return std::move(store).error().WithContext("opening the database");
  ctx->store = std::move(store).value();

  auto key = LoadServerKey(config.data_dir);
  if (!key.ok()) return std::move(key).error();
  if (!key.value()) {
    spdlog::warn("no signing key at {}: update checks and publishing fail until `edgefleet keys generate`",
                 PrivateKeyPath(config.data_dir).string());
  }
  ctx->registry =
      std::make_unique<Registry>(*ctx->store, config.data_dir, std::move(key).value(), clock, config.cache_ms);

  auto cloud = ml::LoadCloudModel(config.cloud_model);
  if (!cloud.ok()) {
    ctx->cloud_error = "the cloud model is not loaded (" + cloud.error + ")";
    spdlog::warn("{}: /classify answers 503", ctx->cloud_error);
  } else if (cloud.value.window_len * cloud.value.axes != sync::kWindowValues) {
    ctx->cloud_error = "the cloud model expects windows of " +
                       std::to_string(cloud.value.window_len * cloud.value.axes) + " values, not 300";
    spdlog::warn("{}: /classify answers 503", ctx->cloud_error);
  } else {
    ctx->cloud = std::make_unique<ml::CloudModel>(std::move(cloud.value));
    spdlog::info("cloud model {} loaded from {}", ctx->cloud->version, config.cloud_model);
  }

  ctx->auth = std::make_unique<Authenticator>(*ctx->store, clock, config.token_refresh_ms, ctx->metrics);

  WriterOptions writer;
  writer.queue_capacity = config.queue_capacity;
  writer.batch_max = config.batch_max;
  writer.batch_interval_ms = config.batch_interval_ms;
  writer.log_path = config.log_path;
  writer.log_rotate_bytes = config.log_rotate_bytes;
  writer.log_fsync = config.log_fsync;
  writer.log_direct = config.log_direct;
  writer.writer_nice = config.writer_nice;
  auto started = BackgroundWriter::Start(*ctx->store, clock, writer, ctx->metrics);
  if (!started.ok()) return std::move(started).error().WithContext("starting the escalation writer");
  ctx->writer = std::move(started).value();
  ctx->tls = !config.tls_cert.empty();
  return ctx;
}

void Shutdown(ServerContext& context) {
  if (context.writer) context.writer->Stop();
}

http::Routes BuildRoutes(ServerContext& context) {
  http::Routes routes;
  AddClassifyRoutes(routes, context);
  AddModelRoutes(routes, context);
  AddUpdateRoutes(routes, context);
  AddDeviceRoutes(routes, context);
  AddOpsRoutes(routes, context);
  AddSyncRoutes(routes, context);
  return routes;
}

}  // namespace edgefleet::server::api
