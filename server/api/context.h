// ServerContext: everything the API handlers share (SPEC section 4), and the
// route table built over it.
//
// What it is for: `edgefleet server` opens one context (store, registry,
// cloud model, authenticator, background writer, metrics, config, clock),
// builds the Routes over it and hands them to the HTTP transport. Tests build
// the same context on a temporary data dir and call the handlers with
// hand-built Requests.
//
// Ownership: the context owns every component; the Clock is borrowed and
// must outlive it. Members are declared so that destruction stops the
// background writer (draining its queue into the store) before the store
// closes. Call Shutdown() once the transport has stopped calling handlers.
//
// Threads: handlers run on any transport thread; every component is
// thread-safe. The context is not modified after OpenServerContext except by
// setting transport_metrics before the transport starts.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/error.h"
#include "ml/cloud_model.h"
#include "server/api/auth.h"
#include "server/api/background_writer.h"
#include "server/api/config.h"
#include "server/api/metrics.h"
#include "server/clock.h"
#include "server/http/message.h"
#include "server/registry.h"
#include "server/store/store.h"

namespace edgefleet::server::api {

struct ServerContext {
  ServerContext(const ServerConfig& cfg, const Clock& clk) : config(cfg), clock(clk) {}
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  ServerConfig config;
  const Clock& clock;
  ApiMetrics metrics;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<Registry> registry;
  std::unique_ptr<ml::CloudModel> cloud;  // null: /classify answers 503 with cloud_error
  std::string cloud_error;
  std::unique_ptr<Authenticator> auth;
  std::unique_ptr<BackgroundWriter> writer;
  // The transport's Prometheus text, rendered before the API's own metrics.
  std::function<std::string()> transport_metrics;
  bool tls = false;  // manifests' URLs use https:// when no public_url is set
};

// Opens the store (migrating it), loads the signing key (absent: publishing
// and update checks fail with a clear error, the rest works), loads the cloud
// model (absent or invalid: logged, /classify answers 503), starts the
// background writer. `config` must be Resolve()d.
common::Expected<std::unique_ptr<ServerContext>> OpenServerContext(const ServerConfig& config,
                                                                   const Clock& clock);

// Stops accepting escalations and drains the writer. Idempotent.
void Shutdown(ServerContext& context);

// Every route of the API (SPEC section 4), bound to `context`, which must
// outlive the returned table.
http::Routes BuildRoutes(ServerContext& context);

// The groups BuildRoutes adds, one file each.
void AddClassifyRoutes(http::Routes& routes, ServerContext& context);
void AddModelRoutes(http::Routes& routes, ServerContext& context);
void AddUpdateRoutes(http::Routes& routes, ServerContext& context);
void AddDeviceRoutes(http::Routes& routes, ServerContext& context);
void AddOpsRoutes(http::Routes& routes, ServerContext& context);
void AddSyncRoutes(http::Routes& routes, ServerContext& context);

}  // namespace edgefleet::server::api
