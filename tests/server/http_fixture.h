// The transport tests' fixture: a real HttpServer on 127.0.0.1 port 0 with a
// few routes (JSON, echo, file ranges, a slow handler), stopped at the end.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "server/http/server.h"
#include "tests/server/http_test_client.h"

namespace edgefleet::server::http::testing {

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("edgefleet-http-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    file_path_ = (dir_ / "artifact.bin").string();
    file_bytes_.resize(200'000);
    for (std::size_t i = 0; i < file_bytes_.size(); ++i) file_bytes_[i] = static_cast<char>('a' + (i * 7) % 26);
    std::ofstream(file_path_, std::ios::binary).write(file_bytes_.data(), static_cast<std::streamsize>(file_bytes_.size()));
  }

  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  Routes MakeRoutes() {
    Routes routes;
    routes.Add(Method::kGet, "/hello", [](const Request&) { return Response::Json(R"({"hello":"world"})"); });
    routes.Add(Method::kPost, "/echo", [](const Request& r) {
      Response resp = Response::Json(std::string(r.body));
      if (auto v = r.HeaderValue("x-tag")) resp.headers.emplace_back("X-Tag", std::string(*v));
      return resp;
    });
    routes.Add(Method::kGet, "/file", [this](const Request&) {
      Response resp;
      resp.content_type = "application/octet-stream";
      resp.file = FileRange{file_path_, 0, file_bytes_.size()};
      return resp;
    });
    routes.Add(Method::kGet, "/file/range", [this](const Request&) {
      Response resp;
      resp.status = 206;
      resp.content_type = "application/octet-stream";
      resp.file = FileRange{file_path_, 1000, 70'000};
      resp.headers.emplace_back("Content-Range", "bytes 1000-70999/" + std::to_string(file_bytes_.size()));
      return resp;
    });
    routes.Add(Method::kGet, "/slow", [this](const Request&) {
      slow_entered_ = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return Response::Json(R"({"slow":true})");
    });
    routes.AddPrefix(Method::kGet, "/api/devices/", [](const Request& r) {
      return Response::Json("{\"path\":\"" + std::string(r.path) + "\",\"query\":\"" + std::string(r.query) + "\"}");
    });
    return routes;
  }

  void StartServer(ServerOptions options = {}) {
    options.port = 0;
    if (options.threads == 0) options.threads = 2;
    server_ = std::make_unique<HttpServer>(options, MakeRoutes(), &registry_);
    auto started = server_->Start();
    ASSERT_TRUE(started.ok()) << started.error().ToString();
    ASSERT_NE(server_->port(), 0);
  }

  std::uint16_t port() const { return server_->port(); }

  // The value of one sample line of the registry's text, or -1. Polls
  // briefly: the transport counts a request once its response is written,
  // which may be just after the client has read it.
  double Sample(const std::string& line_prefix, double at_least = 0) {
    double value = -1;
    for (int i = 0; i < 200; ++i) {
      const std::string text = registry_.RenderPrometheus();
      const std::size_t at = text.find("\n" + line_prefix + " ");
      value = at == std::string::npos ? -1 : std::stod(text.substr(at + line_prefix.size() + 2));
      if (value >= at_least) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return value;
  }

  std::filesystem::path dir_;
  std::string file_path_;
  std::string file_bytes_;
  std::atomic<bool> slow_entered_{false};
  metrics::Registry registry_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace edgefleet::server::http::testing
