// The listener side of HttpServer: workers, acceptors, the sweep timer,
// metrics handles, Start and Stop. The per-connection protocol is in
// connection.cc.
#include "server/http/server.h"

#include <pthread.h>
#include <sys/socket.h>

#include <csignal>

#include <boost/asio/post.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/system/error_code.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>

#include "common/this_thread.h"
#include "server/http/internal.h"

namespace edgefleet::server::http {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using internal::Clock;

namespace internal {

std::size_t Shared::BodyLimitFor(std::string_view target) const {
  std::size_t best_len = 0;
  std::size_t limit = options.body_limit;
  for (const auto& [prefix, bytes] : options.body_limits) {
    if (prefix.size() >= best_len && target.substr(0, prefix.size()) == prefix) {
      best_len = prefix.size();
      limit = bytes;
    }
  }
  return limit;
}

Worker::Worker(Shared& s, std::size_t i) : shared(s), index(i) { date_.reserve(32); }

void Worker::StartAccepting() {
  if (acceptor.is_open()) Accept();
  RunSweep();
}

// With one acceptor (the default), worker 0 accepts every connection onto the
// next worker's io_context in turn, so a burst of keep-alive connections is
// split exactly evenly; with reuse_port each worker accepts its own (the
// kernel hashes connections over the listeners).
void Worker::Accept() {
  Worker* target = NextTarget();
  acceptor.async_accept(target->ioc, [this, target](boost::system::error_code ec, tcp::socket socket) {
    if (stopping) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      // Out of descriptors or memory: retry shortly rather than spin.
      accept_retry.expires_after(std::chrono::milliseconds(20));
      accept_retry.async_wait([this](boost::system::error_code wait_ec) {
        if (!wait_ec && !stopping) Accept();
      });
      return;
    }
    Dispatch(*target, std::move(socket));
    // Drain the rest of a burst now (the acceptor is non-blocking): one
    // connection per trip through the event loop would leave a burst of
    // clients waiting behind every busy cycle of this worker.
    for (int i = 0; i < 256; ++i) {
      Worker* next = NextTarget();
      tcp::socket more(next->ioc);
      boost::system::error_code more_ec;
      acceptor.accept(more, more_ec);
      if (more_ec) break;
      Dispatch(*next, std::move(more));
    }
    Accept();
  });
}

Worker* Worker::NextTarget() {
  if (shared.options.reuse_port) return this;
  return shared.workers[next_++ % shared.workers.size()];
}

void Worker::Dispatch(Worker& target, tcp::socket socket) {
  if (&target == this) {
    Adopt(std::move(socket));
  } else {
    asio::post(target.ioc, [t = &target, s = std::move(socket)]() mutable { t->Adopt(std::move(s)); });
  }
}

void Worker::Adopt(tcp::socket socket) {
  if (stopping) return;  // the socket closes as it goes
  boost::system::error_code opt_ec;
  socket.set_option(tcp::no_delay(true), opt_ec);
  ConnectionBase* c = NewConnection(*this, std::move(socket));
  Add(c);
  c->Start();
}

void Worker::RunSweep() {
  sweep.expires_after(shared.sweep_interval);
  sweep.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    const Clock::time_point now = Tick();
    // Sweep may end a connection (it then unlinks itself later, from its
    // own completion handler), so walk with the next pointer taken first.
    for (ConnectionBase* c = head; c != nullptr;) {
      ConnectionBase* next = c->next;
      c->Sweep(now);
      c = next;
    }
    if (!stopping || live.load(std::memory_order_relaxed) > 0) RunSweep();
  });
}

void Worker::Add(ConnectionBase* c) {
  c->prev = nullptr;
  c->next = head;
  if (head != nullptr) head->prev = c;
  head = c;
  live.fetch_add(1, std::memory_order_relaxed);
  shared.open_connections->Add(1);
}

void Worker::Remove(ConnectionBase* c) {
  if (c->prev != nullptr) c->prev->next = c->next;
  if (c->next != nullptr) c->next->prev = c->prev;
  if (head == c) head = c->next;
  c->prev = c->next = nullptr;
  live.fetch_sub(1, std::memory_order_relaxed);
  shared.open_connections->Add(-1);
}

metrics::Counter& Worker::RequestCounter(std::size_t route, Method method, unsigned status) {
  const auto key = static_cast<std::uint32_t>((route << 16) | (static_cast<std::size_t>(method) << 12) |
                                              (status & 0xfffu));
  auto it = counters_.find(key);
  if (it != counters_.end()) return *it->second;
  metrics::Counter& c = shared.registry->GetCounter(
      "edgefleet_http_requests_total", "HTTP requests answered, by route pattern, method and status.",
      {{"route", shared.route_labels[route]}, {"method", ToString(method)}, {"code", std::to_string(status)}});
  counters_.emplace(key, &c);
  return c;
}

std::string_view Worker::Date() {
  const std::time_t now = std::time(nullptr);
  if (now != date_second_) {
    date_second_ = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    date_.assign(buf, n);
  }
  return date_;
}

}  // namespace internal

struct HttpServer::Impl {
  internal::Shared shared;
  metrics::Registry own_registry;
  std::vector<std::unique_ptr<internal::Worker>> workers;
  std::uint16_t port = 0;
  bool running = false;
  std::mutex stop_mu;
};

HttpServer::HttpServer(ServerOptions options, Routes routes, metrics::Registry* registry)
    : impl_(std::make_unique<Impl>()) {
  impl_->shared.options = std::move(options);
  impl_->shared.routes = std::move(routes);
  impl_->shared.registry = registry != nullptr ? registry : &impl_->own_registry;
}

HttpServer::~HttpServer() { Stop(); }

std::uint16_t HttpServer::port() const { return impl_->port; }
bool HttpServer::tls() const { return impl_->shared.ssl != nullptr; }
metrics::Registry& HttpServer::metrics() { return *impl_->shared.registry; }

namespace {

using common::Error;
using common::ErrorCode;

common::Expected<void> Listen(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, int backlog,
                              bool reuse_port) {
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) {
    const int one = 1;
    if (::setsockopt(acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      ec = boost::system::error_code(errno, boost::system::system_category());
    }
  }
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(backlog, ec);
  if (!ec) acceptor.non_blocking(true, ec);
  if (ec) {
    return Error(ErrorCode::kIo, "listening on " + endpoint.address().to_string() + ":" +
                                     std::to_string(endpoint.port()) + ": " + ec.message());
  }
  return common::Ok();
}

common::Expected<std::unique_ptr<asio::ssl::context>> MakeSsl(const ServerOptions& o) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use,
                   ec);
  if (!ec) ctx->use_certificate_chain_file(o.tls_certificate, ec);
  if (ec) return Error(ErrorCode::kInvalidArgument, "TLS certificate " + o.tls_certificate + ": " + ec.message());
  ctx->use_private_key_file(o.tls_private_key, asio::ssl::context::pem, ec);
  if (ec) return Error(ErrorCode::kInvalidArgument, "TLS private key " + o.tls_private_key + ": " + ec.message());
  return ctx;
}

}  // namespace

common::Expected<void> HttpServer::Start() {
  Impl& im = *impl_;
  if (im.running) return Error(ErrorCode::kFailedPrecondition, "the HTTP server is already running");
  internal::Shared& sh = im.shared;
  const ServerOptions& o = sh.options;

  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(o.bind_address, ec);
  if (ec) return Error(ErrorCode::kInvalidArgument, "bad bind address '" + o.bind_address + "'");
  if (o.tls_certificate.empty() != o.tls_private_key.empty()) {
    return Error(ErrorCode::kInvalidArgument, "TLS needs both a certificate and a private key");
  }
  if (!o.tls_certificate.empty()) {
    try {
      auto ssl = MakeSsl(o);
      if (!ssl.ok()) return std::move(ssl).error();
      sh.ssl = std::move(ssl).value();
    } catch (const std::exception& e) {
      return Error(ErrorCode::kInvalidArgument, std::string("TLS setup: ") + e.what());
    }
  }

  // Metric handles, created once so that the request path only indexes.
  metrics::Registry& reg = *sh.registry;
  sh.route_labels.assign(1, "unmatched");
  for (std::size_t i = 0; i < sh.routes.size(); ++i) sh.route_labels.push_back(sh.routes.Pattern(i));
  sh.duration.clear();
  for (const std::string& label : sh.route_labels) {
    sh.duration.push_back(&reg.GetHistogram("edgefleet_http_request_duration_seconds",
                                            "Time from a request's last byte read to its response written.",
                                            {{"route", label}}));
  }
  sh.open_connections = &reg.GetGauge("edgefleet_http_open_connections", "Open HTTP connections.");
  sh.bytes_in = &reg.GetCounter("edgefleet_http_received_bytes_total", "Bytes read from HTTP clients.");
  sh.bytes_out = &reg.GetCounter("edgefleet_http_sent_bytes_total", "Bytes written to HTTP clients.");
  auto shortest = std::min({o.header_timeout, o.body_timeout, o.write_timeout, o.idle_timeout});
  sh.sweep_interval = std::clamp<Clock::duration>(shortest / 4, std::chrono::milliseconds(5),
                                                  std::chrono::milliseconds(1000));

  unsigned threads = o.threads != 0 ? o.threads : 2 * std::thread::hardware_concurrency();
  if (threads == 0) threads = 1;
  im.workers.clear();
  std::uint16_t port = o.port;
  for (unsigned i = 0; i < threads; ++i) {
    auto w = std::make_unique<internal::Worker>(sh, i);
    if (i == 0 || o.reuse_port) {
      auto listened = Listen(w->acceptor, tcp::endpoint(address, port), o.backlog, o.reuse_port);
      if (!listened.ok()) {
        im.workers.clear();
        return std::move(listened).error();
      }
      if (i == 0) port = w->acceptor.local_endpoint().port();
    }
    im.workers.push_back(std::move(w));
  }
  sh.workers.clear();
  for (auto& w : im.workers) sh.workers.push_back(w.get());
  im.port = port;
  for (std::size_t i = 0; i < im.workers.size(); ++i) {
    internal::Worker* wp = im.workers[i].get();
    wp->StartAccepting();
    wp->thread = std::thread([wp, i] {
      common::NameThisThread("ef-http-" + std::to_string(i));
      if (wp->shared.options.worker_slice.count() > 0) {
        const int error = common::SetThisThreadSlice(wp->shared.options.worker_slice);
        if (error != 0 && i == 0 && wp->shared.options.warn) {
          wp->shared.options.warn(std::string("the HTTP workers keep the kernel's time slice (sched_setattr: ") +
                                  std::strerror(error) + ")");
        }
      }
      // sendfile(2) has no MSG_NOSIGNAL: a peer gone mid-download would
      // raise SIGPIPE. Blocked on the workers only, it stays pending and
      // harmless; the process's disposition is left to the program.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
      wp->ioc.run();
    });
  }
  im.running = true;
  return common::Ok();
}

void HttpServer::Stop() {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> lock(im.stop_mu);
  if (!im.running) return;
  im.running = false;

  for (auto& w : im.workers) {
    internal::Worker* wp = w.get();
    asio::post(wp->ioc, [wp] {
      wp->stopping = true;
      boost::system::error_code ec;
      wp->acceptor.close(ec);
      wp->accept_retry.cancel();
      for (internal::ConnectionBase* c = wp->head; c != nullptr;) {
        internal::ConnectionBase* next = c->next;
        c->BeginStop();
        c = next;
      }
    });
  }
  auto all_closed = [&im] {
    for (auto& w : im.workers) {
      if (w->live.load(std::memory_order_relaxed) > 0) return false;
    }
    return true;
  };
  auto wait_until = [&all_closed](Clock::time_point deadline) {
    while (!all_closed() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  };
  wait_until(Clock::now() + im.shared.options.stop_deadline);
  if (!all_closed()) {
    for (auto& w : im.workers) {
      internal::Worker* wp = w.get();
      asio::post(wp->ioc, [wp] {
        for (internal::ConnectionBase* c = wp->head; c != nullptr;) {
          internal::ConnectionBase* next = c->next;
          c->ForceClose();
          c = next;
        }
      });
    }
    wait_until(Clock::now() + std::chrono::seconds(1));
  }
  for (auto& w : im.workers) w->ioc.stop();
  for (auto& w : im.workers) {
    if (w->thread.joinable()) w->thread.join();
  }
  // Anything left could not finish: delete it before its io_context.
  for (auto& w : im.workers) {
    while (w->head != nullptr) {
      internal::ConnectionBase* c = w->head;
      w->Remove(c);
      delete c;
    }
  }
  im.workers.clear();
}

}  // namespace edgefleet::server::http
