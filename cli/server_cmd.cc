#include "cli/server_cmd.h"

#include <pthread.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <memory>

#include "cli/common.h"
#include "common/file.h"
#include "server/api/context.h"
#include "server/clock.h"
#include "server/http/metrics.h"
#include "server/http/server.h"

namespace edgefleet::cli {
namespace {

using server::api::ServerConfig;

struct ServerArgs {
  std::string data_dir;
  std::string config;
  std::string db;
  std::string bind;
  std::string public_url;
  std::string tls_cert;
  std::string tls_key;
  std::string port_file;
  int port = -1;
  int threads = -1;
};

// The message of a log line as a JSON string's content.
class JsonMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    for (const char c : std::string_view(msg.payload.data(), msg.payload.size())) {
      if (c == '"' || c == '\\') {
        dest.push_back('\\');
        dest.push_back(c);
      } else if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
        dest.append(buf, buf + 6);
      } else {
        dest.push_back(c);
      }
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessage>(); }
};

void ConfigureLogging(const ServerConfig& config) {
  auto logger = spdlog::stderr_logger_mt("edgefleet");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(config.log_level));
  if (config.log_format == "json") {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<JsonMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","thread":%t,"msg":"%*"})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v", spdlog::pattern_time_type::utc);
  }
}

int RunServer(const ServerArgs& args) {
  ServerConfig config;
  if (!args.config.empty()) {
    if (auto r = server::api::LoadConfigFile(args.config, config); !r.ok()) return Fail(r.error().message() + ".");
  }
  if (!args.data_dir.empty()) config.data_dir = args.data_dir;
  if (!args.db.empty()) config.db = args.db;
  if (!args.bind.empty()) config.bind = args.bind;
  if (!args.public_url.empty()) config.public_url = args.public_url;
  if (!args.tls_cert.empty()) config.tls_cert = args.tls_cert;
  if (!args.tls_key.empty()) config.tls_key = args.tls_key;
  if (args.port >= 0) config.port = static_cast<std::uint16_t>(args.port);
  if (args.threads >= 0) config.threads = static_cast<unsigned>(args.threads);
  if (config.data_dir.empty()) {
    Fail("no data dir: give --data-dir DIR (or server.data_dir in --config).");
    return 2;
  }
  if (auto r = config.Resolve(); !r.ok()) return Fail(r.error().message() + ".");
  ConfigureLogging(config);

  // Every thread started from here on (writer, transport) inherits the mask;
  // this thread takes the signals with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  server::SystemClock clock;
  auto opened = server::api::OpenServerContext(config, clock);
  if (!opened.ok()) return Fail(opened.error().message() + ".");
  server::api::ServerContext& ctx = *opened.value();

  server::http::metrics::Registry registry;
  ctx.transport_metrics = [&registry] { return registry.RenderPrometheus(); };
  server::http::ServerOptions options;
  options.bind_address = config.bind;
  options.port = config.port;
  options.threads = config.threads;
  options.worker_slice = std::chrono::microseconds(config.worker_slice_us);
  options.warn = [](const std::string& problem) { spdlog::warn("{}", problem); };
  options.body_limit = config.max_body_bytes;
  options.body_limits = {{"/api/sync", config.sync_max_body_bytes}};
  options.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  options.tls_certificate = config.tls_cert;
  options.tls_private_key = config.tls_key;
  server::http::HttpServer http(options, server::api::BuildRoutes(ctx), &registry);
  if (auto started = http.Start(); !started.ok()) {
    server::api::Shutdown(ctx);
    return Fail("cannot serve on " + config.bind + ":" + std::to_string(config.port) + ": " +
                started.error().message() + ".");
  }
  const std::string url = std::string(http.tls() ? "https" : "http") + "://" + config.bind + ":" +
                          std::to_string(http.port());
  spdlog::info("edgefleet server listening on {} (data dir {}, database {})", url, config.data_dir,
               std::string(ctx.store->backend()));
  if (!args.port_file.empty()) {
    if (auto w = common::WriteFileAtomically(args.port_file, std::to_string(http.port()) + "\n",
                                             std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
        !w.ok()) {
      spdlog::error("cannot write the port file: {}", w.error().message());
    }
  }
  std::printf("listening on %s\n", url.c_str());
  std::fflush(stdout);

  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("signal {}: stopping (requests in flight finish, escalations drain)", received);
  http.Stop();
  server::api::Shutdown(ctx);
  spdlog::info("stopped");
  spdlog::shutdown();
  return 0;
}

}  // namespace

void AddServerCommand(CLI::App& app, Action& action) {
  auto args = std::make_shared<ServerArgs>();
  CLI::App* cmd = app.add_subcommand("server", "Run the cloud server (HTTP API, registry, ingestion).");
  cmd->add_option("--data-dir", args->data_dir, "data folder: database, keys, models, escalation log");
  cmd->add_option("--config", args->config, "TOML config file (docs/operations.md lists every key)");
  cmd->add_option("--port", args->port, "TCP port (default 8000; 0: any free port)")->check(CLI::Range(0, 65535));
  cmd->add_option("--bind", args->bind, "listening address (default 0.0.0.0)");
  cmd->add_option("--db", args->db, "database: sqlite:PATH or postgresql://... (default sqlite:DIR/edgefleet.db)");
  cmd->add_option("--threads", args->threads, "HTTP worker threads (default: two per core)")
      ->check(CLI::Range(0, 256));
  cmd->add_option("--tls-cert", args->tls_cert, "PEM certificate chain: serve HTTPS");
  cmd->add_option("--tls-key", args->tls_key, "PEM private key of the certificate");
  cmd->add_option("--public-url", args->public_url, "base URL of manifests (default: the request's Host)");
  cmd->add_option("--port-file", args->port_file, "write the bound port to this file once listening");
  cmd->callback([&action, args] { action = [args] { return RunServer(*args); }; });
}

}  // namespace edgefleet::cli
