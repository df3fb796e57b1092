// HttpServer over TLS (a self-signed certificate made by the `openssl`
// command in a temp dir, a Beast client), and the metrics it records,
// rendered in the Prometheus text format.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <regex>
#include <sstream>

#include "tests/server/http_fixture.h"

namespace edgefleet::server::http::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;

TEST_F(HttpServerTest, ServesOverTlsWithASelfSignedCertificate) {
  const std::string cert = (dir_ / "cert.pem").string();
  const std::string key = (dir_ / "key.pem").string();
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 -keyout " + key +
                          " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ServerOptions o;
  o.tls_certificate = cert;
  o.tls_private_key = key;
  StartServer(o);
  ASSERT_TRUE(server_->tls());

  asio::io_context ioc;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(cert);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<asio::ip::tcp::socket> stream(ioc, ctx);
  stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port()});
  stream.handshake(asio::ssl::stream_base::client);
  beast::flat_buffer buffer;
  for (const char* target : {"/hello", "/file/range", "/nope"}) {
    beast::http::request<beast::http::empty_body> req{beast::http::verb::get, target, 11};
    req.set(beast::http::field::host, "127.0.0.1");
    beast::http::write(stream, req);
    beast::http::response<beast::http::string_body> res;
    beast::http::read(stream, buffer, res);
    if (std::string(target) == "/hello") {
      EXPECT_EQ(res.result_int(), 200);
      EXPECT_EQ(res.body(), R"({"hello":"world"})");
    } else if (std::string(target) == "/file/range") {
      EXPECT_EQ(res.result_int(), 206);
      EXPECT_TRUE(res.body() == file_bytes_.substr(1000, 70'000));
    } else {
      EXPECT_EQ(res.result_int(), 404);
    }
  }
  // A plain-text client gets nothing useful and is closed.
  RawClient plain(port(), 2000);
  ASSERT_TRUE(plain.Send(Get("/hello")));
  EXPECT_FALSE(plain.Read());
}

TEST_F(HttpServerTest, MissingTlsFilesFailStart) {
  ServerOptions o;
  o.tls_certificate = (dir_ / "absent.pem").string();
  o.tls_private_key = (dir_ / "absent.key").string();
  HttpServer server(o, MakeRoutes(), &registry_);
  auto started = server.Start();
  ASSERT_FALSE(started.ok());
  EXPECT_EQ(started.error().code(), common::ErrorCode::kInvalidArgument);
}

TEST_F(HttpServerTest, MetricsCountRequestsByRoutePatternAndParse) {
  StartServer();
  RawClient c(port());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.Send(Get("/api/devices/fan-" + std::to_string(i))));
    ASSERT_TRUE(c.Read());
  }
  ASSERT_TRUE(c.Send(Get("/no/such/path")));
  ASSERT_TRUE(c.Read());
  ASSERT_TRUE(c.Send(Post("/hello", "{}")));
  ASSERT_TRUE(c.Read());
  EXPECT_EQ(Sample(R"(edgefleet_http_requests_total{route="/api/devices/{id}",method="GET",code="200"})", 5), 5);
  EXPECT_EQ(Sample(R"(edgefleet_http_requests_total{route="unmatched",method="GET",code="404"})", 1), 1);
  EXPECT_EQ(Sample(R"(edgefleet_http_requests_total{route="/hello",method="POST",code="405"})", 1), 1);
  EXPECT_EQ(Sample(R"(edgefleet_http_request_duration_seconds_count{route="/api/devices/{id}"})", 5), 5);
  EXPECT_EQ(Sample(R"(edgefleet_http_open_connections)", 1), 1);
  EXPECT_GT(Sample("edgefleet_http_received_bytes_total", 1), 0);
  EXPECT_GT(Sample("edgefleet_http_sent_bytes_total", 1), 0);

  // Every line is a comment or `name{labels} value` of the text format.
  const std::string text = registry_.RenderPrometheus();
  const std::regex sample(R"(^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (\S+)$)");
  const std::regex comment(R"(^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$)");
  std::istringstream lines(text);
  std::string line;
  int samples = 0;
  while (std::getline(lines, line)) {
    if (line.rfind("#", 0) == 0) {
      EXPECT_TRUE(std::regex_match(line, comment)) << line;
    } else {
      EXPECT_TRUE(std::regex_match(line, sample)) << line;
      ++samples;
    }
  }
  EXPECT_GT(samples, 10);
  EXPECT_NE(text.find("# TYPE edgefleet_http_request_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(text.find(R"(edgefleet_http_request_duration_seconds_bucket{route="/hello",le="+Inf"})"),
            std::string::npos);
}

}  // namespace
}  // namespace edgefleet::server::http::testing
