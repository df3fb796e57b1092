// edgefleet-bench-http: the HTTP transport alone, with handlers of the
// shape and size of the real API, for bench/server_compare.sh. Not the
// product server: no store, no model, no auth.
//
//   GET  /model/version      a static JSON reply of the real reply's size
//   GET  /model/download     a file (FileRange, sent with sendfile)
//   GET  /api/updates/check  a small static JSON reply
//   POST /classify           parses the 300 features with simdjson and
//                            answers a JSON reply built from them
//   GET  /metrics            the registry in Prometheus text
//
// Usage: edgefleet-bench-http --port N --artifact FILE [--threads N] [--reuse-port 0|1]
// Runs until SIGINT/SIGTERM, then Stop()s.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <simdjson.h>
#include <string>
#include <thread>

#include "server/http/server.h"

namespace {

using edgefleet::server::http::FileRange;
using edgefleet::server::http::HttpServer;
using edgefleet::server::http::Method;
using edgefleet::server::http::Request;
using edgefleet::server::http::Response;
using edgefleet::server::http::Routes;
using edgefleet::server::http::ServerOptions;

volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

Response Classify(const Request& r) {
  thread_local simdjson::ondemand::parser parser;
  thread_local simdjson::padded_string padded;
  // The request body is not padded: copy it into a padded buffer we own.
  if (padded.size() < r.body.size()) padded = simdjson::padded_string(r.body.size() * 2);
  std::memcpy(padded.data(), r.body.data(), r.body.size());
  const simdjson::padded_string_view view(padded.data(), r.body.size(),
                                          padded.size() + simdjson::SIMDJSON_PADDING);
  auto doc = parser.iterate(view);
  double sum = 0;
  std::size_t n = 0;
  simdjson::ondemand::array features;
  if (doc["features"].get_array().get(features) != simdjson::SUCCESS) {
    return Response::Error(400, "invalid_argument", "features must be an array of 300 numbers");
  }
  for (auto v : features) {
    double d;
    if (v.get_double().get(d) != simdjson::SUCCESS) {
      return Response::Error(400, "invalid_argument", "features must be numbers");
    }
    sum += d * d;
    ++n;
  }
  if (n != 300) return Response::Error(400, "invalid_argument", "features must hold 300 numbers");
  const double mse = sum / 300.0;
  char buf[160];
  const int len = std::snprintf(buf, sizeof buf,
                                R"({"classification":"%s","label":%d,"confidence":0.91,"mse":%.6f,"model_version":1})",
                                mse > 1.0 ? "anomaly" : "normal", mse > 1.0 ? 1 : 0, mse);
  return Response::Json(std::string(buf, static_cast<std::size_t>(len)));
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions options;
  options.port = 8000;
  std::string artifact;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--port") options.port = static_cast<std::uint16_t>(std::atoi(argv[i + 1]));
    else if (flag == "--threads") options.threads = static_cast<unsigned>(std::atoi(argv[i + 1]));
    else if (flag == "--artifact") artifact = argv[i + 1];
    else if (flag == "--reuse-port") options.reuse_port = std::string(argv[i + 1]) == "1";
    else {
      std::fprintf(stderr, "usage: edgefleet-bench-http --port N --artifact FILE [--threads N]\n");
      return 2;
    }
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(artifact, ec);
  if (artifact.empty() || ec) {
    std::fprintf(stderr, "edgefleet-bench-http: --artifact must name a readable file\n");
    return 2;
  }
  const std::string version = R"({"version":1,"filename":"model.bin","size_bytes":)" + std::to_string(size) +
                              R"(,"sha256":")" + std::string(64, '0') + "\"}";

  edgefleet::server::http::metrics::Registry registry;
  Routes routes;
  routes.Add(Method::kGet, "/model/version", [&version](const Request&) { return Response::Json(version); });
  routes.Add(Method::kGet, "/api/updates/check",
             [](const Request&) { return Response::Json(R"({"update_available":false})"); });
  routes.Add(Method::kGet, "/model/download", [&artifact, size](const Request&) {
    Response r;
    r.content_type = "application/octet-stream";
    r.file = FileRange{artifact, 0, size};
    return r;
  });
  routes.Add(Method::kPost, "/classify", Classify);
  routes.Add(Method::kGet, "/metrics", [&registry](const Request&) {
    Response r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = registry.RenderPrometheus();
    return r;
  });

  HttpServer server(options, std::move(routes), &registry);
  auto started = server.Start();
  if (!started.ok()) {
    std::fprintf(stderr, "edgefleet-bench-http: %s\n", started.error().ToString().c_str());
    return 1;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::printf("listening on 127.0.0.1:%u\n", server.port());
  std::fflush(stdout);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server.Stop();
  return 0;
}
