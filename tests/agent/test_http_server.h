// A small Beast HTTP server for the agent's tests (port 0, loopback).
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace edgefleet::agent::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Req = http::request<http::string_body>;
using Res = http::response<http::string_body>;

// An HTTP/1.1 server on 127.0.0.1:0 for the agent's tests: one connection
// at a time on its own thread, each request answered by `handler` (which may
// return false to hold the connection without answering). requests() is
// safe to read once the server is destroyed or the client is done.
class TestServer {
 public:
  using Handler = std::function<bool(const Req&, Res&)>;
  explicit TestServer(Handler handler) : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, handler = std::move(handler)] {
      while (!stop_) {
        tcp::socket socket(io_);
        beast::error_code ec;
        acceptor_.accept(socket, ec);
        if (ec || stop_) break;
        beast::flat_buffer buffer;
        http::request<http::string_body> req;
        http::read(socket, buffer, req, ec);
        if (ec) continue;
        {
          std::lock_guard<std::mutex> lock(mu_);
          requests_.push_back(req);
        }
        http::response<http::string_body> res{http::status::ok, 11};
        if (!handler(req, res)) {  // hold the connection without answering
          held_.push_back(std::move(socket));
          continue;
        }
        res.prepare_payload();
        http::write(socket, res, ec);
      }
    });
  }
  ~TestServer() {
    stop_ = true;
    beast::error_code ec;
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<http::request<http::string_body>> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<http::request<http::string_body>> requests_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<tcp::socket> held_;
  std::thread thread_;
};


}  // namespace edgefleet::agent::testing
