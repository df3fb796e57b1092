// HttpServer: the server's HTTP/1.1 transport (Boost.Asio/Beast), serving a
// Routes table (server/http/message.h) over plain TCP or TLS.
//
// What it is for: it owns the sockets, parses requests under size and time
// limits, keeps connections alive, calls the handler on a worker thread and
// writes its Response (a file range goes out with sendfile(2) on plain TCP,
// never through a std::string). Every error the transport itself produces
// (400, 404, 405, 408, 413, 431, 500) carries the JSON body
// {"error","message"}. It records edgefleet_http_* metrics in a Registry.
//
// Design: one io_context per worker thread; one acceptor deals connections
// to the workers in turn (or, with reuse_port, an SO_REUSEPORT acceptor per
// worker), so a connection lives on one thread from accept to close and the
// request path takes no lock. Per connection, the read
// buffer, the parsed header storage and the response head are reused from
// request to request. Timeouts are checked by one sweep timer per worker
// (a quarter of the shortest timeout), not by a timer per operation.
//
// Ownership: the server copies the Routes and Options; `registry` (may be
// null: the server then keeps its own) must outlive the server.
//
// Use:
//   metrics::Registry registry;
//   Routes routes;
//   routes.Add(Method::kGet, "/model/version", [](const Request&) { return Response::Json("{}"); });
//   routes.Add(Method::kGet, "/metrics", [&registry](const Request&) {
//     Response r; r.content_type = "text/plain; version=0.0.4"; r.body = registry.RenderPrometheus(); return r;
//   });
//   ServerOptions options;
//   options.port = 8000;
//   HttpServer server(options, std::move(routes), &registry);
//   if (auto started = server.Start(); !started.ok()) return started.error();
//   ...                 // on SIGTERM:
//   server.Stop();
//
// Threads: Start and Stop are called from one controlling thread. Handlers
// run on the worker threads, concurrently. port() and metrics() are safe from
// any thread after Start.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "server/http/message.h"
#include "server/http/metrics.h"

namespace edgefleet::server::http {

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 0;  // 0: an ephemeral port, see HttpServer::port()
  // 0: twice the number of cores. Measured on the 2-core bench machine with
  // wrk and other work on the same cores (bench/server_compare.sh), 4
  // workers beat 2 on every route: classify at 1,024 connections 57k req/s
  // with p99 30 ms against 34k and 79 ms; a worker preempted by another
  // process then stalls a quarter of the connections, not half.
  unsigned threads = 0;
  // The workers' scheduler time slice (common/this_thread.h), 0: the
  // kernel's default. Short slices let a worker woken by a request preempt
  // a long-running thread sooner (docs/DECISIONS.md).
  std::chrono::microseconds worker_slice{0};
  int backlog = 4096;
  // false: one acceptor (on the first worker) deals connections to the
  // workers in turn, an even split; true: an SO_REUSEPORT listener per
  // worker, the kernel hashing connections over them.
  bool reuse_port = false;
  std::size_t header_limit = 8 * 1024;     // request line + headers; 431 beyond
  std::size_t body_limit = 1024 * 1024;    // 413 beyond
  // Larger or smaller limits by path prefix ("/api/sync", 8 MiB); the
  // longest matching prefix wins over body_limit.
  std::vector<std::pair<std::string, std::size_t>> body_limits;
  // From the first byte of a request (or the accept) to its last header
  // byte; a client slower than this gets 408 and is closed (slowloris).
  std::chrono::milliseconds header_timeout{10'000};
  // For the body once the header is in, and for writing a response.
  std::chrono::milliseconds body_timeout{30'000};
  std::chrono::milliseconds write_timeout{60'000};
  std::chrono::milliseconds idle_timeout{60'000};  // keep-alive, between requests
  std::uint64_t max_requests_per_connection = 0;   // 0: unbounded
  // TLS when both are set (PEM files).
  std::string tls_certificate;
  std::string tls_private_key;
  // How long Stop() lets in-flight requests finish before closing them.
  std::chrono::milliseconds stop_deadline{5'000};
  // Told one-sentence problems the server works around (called from a
  // worker thread); empty: they go unreported.
  std::function<void(const std::string&)> warn;
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, Routes routes, metrics::Registry* registry = nullptr);
  ~HttpServer();  // Stop()s if running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the worker threads. Errors: kIo when the
  // address cannot be bound, kInvalidArgument for a bad address or TLS files.
  common::Expected<void> Start();

  // Stops accepting, closes idle keep-alive connections, lets requests in
  // flight finish (answering them with Connection: close) until
  // stop_deadline, then closes the rest and joins the threads. Idempotent.
  void Stop();

  std::uint16_t port() const;  // the bound port, after Start
  bool tls() const;
  metrics::Registry& metrics();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgefleet::server::http
