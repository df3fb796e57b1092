// Internal to server/http/: what the listener (server.cc) and the connections
// (connection.cc) share. Not for use outside the transport.
//
// Ownership: the Shared state is owned by HttpServer::Impl and outlives every
// Worker; a Worker owns its io_context, acceptor and the connections living
// on it (an intrusive list; a connection deletes itself when it ends).
//
// Threads: a Worker and its connections are touched only by the worker's own
// thread (the controlling thread reaches them through post()), except
// `live`, which Stop() polls.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/http/message.h"
#include "server/http/metrics.h"
#include "server/http/server.h"

namespace edgefleet::server::http::internal {

using Clock = std::chrono::steady_clock;

class Worker;

// Read-only after Start: options, routes and the metric handles.
struct Shared {
  ServerOptions options;
  Routes routes;
  metrics::Registry* registry = nullptr;
  std::unique_ptr<boost::asio::ssl::context> ssl;  // null: plain TCP

  std::vector<std::string> route_labels;            // [0] "unmatched", [i + 1] route i
  std::vector<metrics::Histogram*> duration;        // by the same index
  metrics::Gauge* open_connections = nullptr;
  metrics::Counter* bytes_in = nullptr;
  metrics::Counter* bytes_out = nullptr;
  Clock::duration sweep_interval{};
  std::vector<Worker*> workers;  // for round-robin accepting

  std::size_t BodyLimitFor(std::string_view target) const;
};

// What a Worker needs of a connection, whatever its stream type.
class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  virtual void Start() = 0;
  // Ends the connection if it is past its deadline (a 408 when a request
  // was being read).
  virtual void Sweep(Clock::time_point now) = 0;
  // Stop(): closes an idle connection; one with a request in flight ends
  // after answering it.
  virtual void BeginStop() = 0;
  virtual void ForceClose() = 0;

  ConnectionBase* prev = nullptr;
  ConnectionBase* next = nullptr;
};

class Worker {
 public:
  Worker(Shared& shared, std::size_t index);

  void StartAccepting();
  void RunSweep();
  void Add(ConnectionBase* c);
  void Remove(ConnectionBase* c);
  // The request counter for this route index (0 = unmatched), method and
  // status, cached per worker so that the hot path does not lock.
  metrics::Counter& RequestCounter(std::size_t route, Method method, unsigned status);
  // The Date header value, formatted once a second.
  std::string_view Date();
  // The time as of the last Tick(): deadlines use it (they only need the
  // sweep's resolution), saving a clock read per step of a request.
  Clock::time_point Now() const { return now_; }
  Clock::time_point Tick() { return now_ = Clock::now(); }

  Shared& shared;
  const std::size_t index;
  boost::asio::io_context ioc{1};
  boost::asio::ip::tcp::acceptor acceptor{ioc};  // open on worker 0 only, unless reuse_port
  boost::asio::steady_timer sweep{ioc};
  boost::asio::steady_timer accept_retry{ioc};
  ConnectionBase* head = nullptr;  // the live connections
  std::atomic<std::size_t> live{0};
  bool stopping = false;
  std::thread thread;

 private:
  void Accept();
  // The worker the next accepted connection goes to.
  Worker* NextTarget();
  // Hands an accepted socket to its worker; Adopt starts its connection.
  void Dispatch(Worker& target, boost::asio::ip::tcp::socket socket);
  void Adopt(boost::asio::ip::tcp::socket socket);
  std::size_t next_ = 0;  // round-robin position
  std::unordered_map<std::uint32_t, metrics::Counter*> counters_;
  Clock::time_point now_ = Clock::now();
  std::time_t date_second_ = 0;
  std::string date_;
};

// A new connection on `worker` for this accepted socket (TLS when the server
// has an SSL context).
ConnectionBase* NewConnection(Worker& worker, boost::asio::ip::tcp::socket socket);

}  // namespace edgefleet::server::http::internal
