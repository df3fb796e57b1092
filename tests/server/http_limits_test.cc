// HttpServer's limits over real loopback sockets: 400 for a bad request line,
// 413 for a body over the limit, 431 for huge headers, 408 for a slow
// header (slowloris), and the idle keep-alive timeout. Each error is JSON and
// ends the connection.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "tests/server/http_fixture.h"

namespace edgefleet::server::http::testing {
namespace {

std::string ErrorCode(const ParsedResponse& r) {
  const auto body = nlohmann::json::parse(r.body, nullptr, false);
  if (!body.is_object() || !body.contains("message")) return "<not a JSON error: " + r.body + ">";
  return body.value("error", "");
}

TEST_F(HttpServerTest, MalformedRequestLineIs400AndCloses) {
  StartServer();
  RawClient c(port());
  ASSERT_TRUE(c.Send("GARBAGE\x01 / HTTP/9\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400u);
  EXPECT_EQ(ErrorCode(*r), "bad_request");
  EXPECT_EQ(r->headers.at("connection"), "close");
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413) {
  ServerOptions o;
  o.body_limit = 1024;
  StartServer(o);
  RawClient c(port());
  // Declared too large: answered from the header alone.
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(2000, 'x')));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413u);
  EXPECT_EQ(ErrorCode(*r), "payload_too_large");
  EXPECT_TRUE(c.ClosedByPeer());
  // Chunked, growing past the limit.
  RawClient chunked(port());
  std::string req = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) req += "200\r\n" + std::string(512, 'y') + "\r\n";
  ASSERT_TRUE(chunked.Send(req));
  r = chunked.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413u);
  // Within the limit, chunked works.
  RawClient small(port());
  ASSERT_TRUE(small.Send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
  r = small.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "abc");
}

TEST_F(HttpServerTest, PerPathBodyLimitOverridesTheDefault) {
  ServerOptions o;
  o.body_limit = 100;
  o.body_limits = {{"/echo", 10'000}};
  StartServer(o);
  RawClient c(port());
  const std::string body(5000, 'z');
  ASSERT_TRUE(c.Send(Post("/echo", body)));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body.size(), body.size());
  ASSERT_TRUE(c.Send(Post("/hello", body)));  // default limit elsewhere
  r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413u);
}

TEST_F(HttpServerTest, HugeHeadersAre431) {
  ServerOptions o;
  o.header_limit = 8 * 1024;
  StartServer(o);
  RawClient c(port());
  ASSERT_TRUE(c.Send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10'000, 'h') + "\r\n\r\n"));
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431u);
  EXPECT_EQ(ErrorCode(*r), "request_header_fields_too_large");
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(HttpServerTest, SlowHeaderClientIsAnswered408AndCutOff) {
  ServerOptions o;
  o.header_timeout = std::chrono::milliseconds(300);
  StartServer(o);
  RawClient c(port());
  // 200 header bytes at one per 50 ms would take 10 s; the server must cut
  // the client off long before the header is complete.
  const std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(160, 'p') + "\r\n\r\n";
  std::size_t sent = 0;
  bool answered = false;
  for (; sent < request.size(); ++sent) {
    if (!c.Send(request.substr(sent, 1))) break;
    if (c.Readable(50)) {
      answered = true;
      break;
    }
  }
  ASSERT_TRUE(answered) << "the whole slow header was accepted";
  EXPECT_LT(sent, request.size());
  auto r = c.Read();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408u);
  EXPECT_EQ(ErrorCode(*r), "request_timeout");
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  ServerOptions o;
  o.idle_timeout = std::chrono::milliseconds(200);
  StartServer(o);
  RawClient c(port(), 5000);
  ASSERT_TRUE(c.Send(Get("/hello")));
  ASSERT_TRUE(c.Read());
  EXPECT_TRUE(c.ClosedByPeer());  // silently, with no 408
  bool zero = false;
  for (int i = 0; i < 200 && !zero; ++i) {
    zero = registry_.RenderPrometheus().find("edgefleet_http_open_connections 0\n") != std::string::npos;
    if (!zero) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(zero);
}

TEST_F(HttpServerTest, MaxRequestsPerConnectionClosesAfterTheLast) {
  ServerOptions o;
  o.max_requests_per_connection = 3;
  StartServer(o);
  RawClient c(port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.Send(Get("/hello")));
    auto r = c.Read();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->headers.count("connection") != 0, i == 2);
  }
  EXPECT_TRUE(c.ClosedByPeer());
}

}  // namespace
}  // namespace edgefleet::server::http::testing
