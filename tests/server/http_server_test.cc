// HttpServer over real loopback sockets: keep-alive, routing errors, HEAD,
// files and ranges, pipelining, HTTP/1.0, graceful stop, concurrency, the
// workers' names and scheduler slice.
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "tests/server/http_fixture.h"

namespace edgefleet::server::http::testing {
namespace {

void ExpectJsonError(const ParsedResponse& r, unsigned status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.status_line;
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  const auto body = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(body.value("error", ""), code);
  EXPECT_FALSE(body.value("message", "").empty());
}

TEST_F(HttpServerTest, ServesManyRequestsOnOneKeepAliveConnection) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 300; ++i) {
    const std::string body = R"({"i":)" + std::to_string(i) + "}";
    ASSERT_TRUE(c.Send(i % 2 == 0 ? Get("/hello") : Post("/echo", body)));
    auto r = c.Read();
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->status, 200u);
    EXPECT_EQ(r->body, i % 2 == 0 ? std::string(R"({"hello":"world"})") : body);
    EXPECT_EQ(r->headers.count("connection"), 0u);
  }
}

TEST_F(HttpServerTest, UnknownPathIs404AndWrongMethodIs405WithJsonBodies) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/nope")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  ExpectJsonError(*r, 404, "not_found");
  ASSERT_TRUE(c.Send(Post("/hello", "{}")));
  r = c.Read();
  ASSERT_TRUE(r);
  ExpectJsonError(*r, 405, "method_not_allowed");
  EXPECT_EQ(r->headers.at("allow"), "GET, HEAD");
  // The connection survives routing errors.
  ASSERT_TRUE(c.Send(Get("/hello")));
  r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
}

TEST_F(HttpServerTest, PrefixRoutesSeePathAndQuery) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/api/devices/fan-7?x=1")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, R"({"path":"/api/devices/fan-7","query":"x=1"})");
}

TEST_F(HttpServerTest, HandlerHeadersAndDateAreSent) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nX-Tag: abc\r\nContent-Length: 2\r\n\r\n{}"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers.at("x-tag"), "abc");
  EXPECT_TRUE(r->headers.count("date"));
}

TEST_F(HttpServerTest, HeadHasGetHeadersAndNoBody) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/hello")));
  auto get = c.Read();
  ASSERT_TRUE(get);
  ASSERT_TRUE(c.Send("HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto head = c.Read(/*head_request=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200u);
  EXPECT_EQ(head->headers.at("content-length"), get->headers.at("content-length"));
  EXPECT_EQ(head->headers.at("content-type"), get->headers.at("content-type"));
  // Nothing follows the head: the next response is the next request's.
  ASSERT_TRUE(c.Send("HEAD /file HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto file_head = c.Read(true);
  ASSERT_TRUE(file_head);
  EXPECT_EQ(file_head->headers.at("content-length"), std::to_string(file_bytes_.size()));
  ASSERT_TRUE(c.Send(Get("/hello")));
  auto again = c.Read();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, get->body);
}

TEST_F(HttpServerTest, SendsWholeFilesAndRanges) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/file")));
  auto whole = c.Read();
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->status, 200u);
  EXPECT_EQ(whole->headers.at("content-type"), "application/octet-stream");
  EXPECT_TRUE(whole->body == file_bytes_);
  ASSERT_TRUE(c.Send(Get("/file/range")));
  auto range = c.Read();
  ASSERT_TRUE(range);
  EXPECT_EQ(range->status, 206u);
  EXPECT_EQ(range->headers.at("content-length"), "70000");
  EXPECT_EQ(range->headers.at("content-range"), "bytes 1000-70999/200000");
  EXPECT_TRUE(range->body == file_bytes_.substr(1000, 70'000));
}

// Regression: sendfile(2) to a peer that has gone raised SIGPIPE, which
// killed the whole server under load.
TEST_F(HttpServerTest, SurvivesClientsLeavingMidDownload) {
  StartServer();
  for (int i = 0; i < 20; ++i) {
    RawClient c(port());
    ASSERT_TRUE(c.Send(Get("/file")));
    if (i % 2 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/file")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->body == file_bytes_);
}

TEST_F(HttpServerTest, AnswersPipelinedRequestsInOrder) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/hello") + Post("/echo", "[1]") + Get("/nope") + Post("/echo", "[2]")));
  std::vector<std::string> bodies;
  for (int i = 0; i < 4; ++i) {
    auto r = c.Read();
    ASSERT_TRUE(r);
    bodies.push_back(r->body);
  }
  EXPECT_EQ(bodies[0], R"({"hello":"world"})");
  EXPECT_EQ(bodies[1], "[1]");
  EXPECT_NE(bodies[2].find("not_found"), std::string::npos);
  EXPECT_EQ(bodies[3], "[2]");
}

TEST_F(HttpServerTest, Http10ClosesUnlessKeepAliveAsked) {
  StartServer();
  {
    RawClient c(port());
    ASSERT_TRUE(c.Send("GET /hello HTTP/1.0\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status_line.substr(0, 8), "HTTP/1.0");
    EXPECT_EQ(r->headers.at("connection"), "close");
    EXPECT_TRUE(c.ClosedByPeer());
  }
  RawClient c(port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->headers.at("connection"), "keep-alive");
  }
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/hello", "Connection: close\r\n")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->headers.at("connection"), "close");
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(HttpServerTest, BodiesArrivingInPiecesAreWhole) {
  StartServer();
  RawClient c(port());
  const std::string body = "[" + std::string(20'000, '7') + "]";
  const std::string request = Post("/echo", body);
  for (int round = 0; round < 3; ++round) {
    // Header and the body's start together, the rest later (a copied body),
    // then the whole request at once (a body read in place).
    ASSERT_TRUE(c.Send(request.substr(0, request.size() - 5000)));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(c.Send(request.substr(request.size() - 5000)));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->body == body);
    ASSERT_TRUE(c.Send(Post("/echo", "[1,2,3]")));
    r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "[1,2,3]");
  }
}

TEST_F(HttpServerTest, ExpectContinueGets100BeforeTheBody) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"));
  auto cont = c.Read();
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100u);
  ASSERT_TRUE(c.Send("[1,2]"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "[1,2]");
}

TEST_F(HttpServerTest, StopLetsAnInFlightRequestFinish) {
  StartServer();
  RawClient idle(port());
  ASSERT_TRUE(idle.Send(Get("/hello")));
  ASSERT_TRUE(idle.Read());
  RawClient busy(port());
  ASSERT_TRUE(busy.Send(Get("/slow")));
  while (!slow_entered_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::thread stopper([this] { server_->Stop(); });
  auto r = busy.Read();
  stopper.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, R"({"slow":true})");
  // (Connection: close is sent only if Stop came before the response was
  // written; either way the connection ends after it.)
  EXPECT_TRUE(busy.ClosedByPeer());
  EXPECT_TRUE(idle.ClosedByPeer());  // idle keep-alive connections are closed
  RawClient late(port(), 500);
  EXPECT_FALSE(late.connected() && late.Send(Get("/hello")) && late.Read());
}

TEST_F(HttpServerTest, ServesConcurrentClientsOnSeveralThreads) {
  StartServer();
  constexpr int kClients = 8;
  constexpr int kRequests = 150;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([this, t, &ok] {
      RawClient c(port());
      for (int i = 0; i < kRequests; ++i) {
        const std::string body = "[" + std::to_string(t) + "," + std::to_string(i) + "]";
        if (!c.Send(Post("/echo", body))) return;
        auto r = c.Read();
        if (r && r->status == 200 && r->body == body) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients * kRequests);
  EXPECT_EQ(Sample(R"(edgefleet_http_requests_total{route="/echo",method="POST",code="200"})",
                   kClients * kRequests),
            kClients * kRequests);
}

TEST_F(HttpServerTest, ServesWithAReusePortListenerPerWorker) {
  ServerOptions o;
  o.reuse_port = true;
  o.threads = 3;
  StartServer(o);
  for (int i = 0; i < 12; ++i) {
    RawClient c(port());
    ASSERT_TRUE(c.Send(Get("/hello")));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200u);
  }
}

// The workers are named and take the configured scheduler slice (custom
// slices came with Linux 6.12; /proc/<pid>/task/<tid>/sched shows them).
TEST_F(HttpServerTest, WorkersAreNamedAndTakeTheConfiguredSlice) {
  ServerOptions o;
  o.threads = 3;
  o.worker_slice = std::chrono::microseconds(250);
  std::vector<std::string> warnings;
  std::mutex mu;
  o.warn = [&](const std::string& w) {
    std::lock_guard lock(mu);
    warnings.push_back(w);
  };
  StartServer(o);
  RawClient c(port());  // the workers start at once; the loop below waits for all three
  ASSERT_TRUE(c.Send(Get("/hello")));
  ASSERT_TRUE(c.Read());
  utsname u{};
  ASSERT_EQ(::uname(&u), 0);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  const bool custom_slices = major > 6 || (major == 6 && minor >= 12);
  std::map<std::string, std::string> slices;  // worker name -> se.slice
  // Until all three workers have run far enough to set their slice (they
  // start asynchronously), for up to 2 s.
  const auto all_set = [&] {
    if (slices.size() < 3) return false;
    for (const auto& [name, slice] : slices) {
      if (slice.empty() || std::stoll(slice) != 250'000) return false;
    }
    return true;
  };
  for (int attempt = 0; attempt < 200 && !all_set(); ++attempt) {
    slices.clear();
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      std::getline(comm, name);
      if (name.rfind("ef-http-", 0) != 0) continue;
      std::ifstream sched(task.path() / "sched");
      std::string line;
      while (std::getline(sched, line)) {
        if (line.rfind("se.slice", 0) == 0) slices[name] = line.substr(line.find(':') + 1);
      }
      if (!slices.contains(name)) slices[name] = "";
    }
    if (!all_set()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(slices.size(), 3u) << "ef-http-0..2 expected";
  const bool shown = std::none_of(slices.begin(), slices.end(), [](const auto& s) { return s.second.empty(); });
  if (!custom_slices || !shown) {
    GTEST_SKIP() << "kernel " << u.release << " has no custom slices (or no se.slice in /proc)";
  }
  {
    // A kernel or a sandbox that refuses the call: the server said so, and serves on.
    std::lock_guard lock(mu);
    if (!warnings.empty()) GTEST_SKIP() << warnings.front();
  }
  for (const auto& [name, slice] : slices) EXPECT_EQ(std::stoll(slice), 250'000) << name;
}

TEST_F(HttpServerTest, RestartsOnAnotherServerAfterStop) {
  StartServer();
  server_->Stop();
  server_->Stop();  // idempotent
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.Send(Get("/hello")));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
}

}  // namespace
}  // namespace edgefleet::server::http::testing
