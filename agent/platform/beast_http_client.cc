#include "agent/platform/beast_http_client.h"

#include <charconv>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace edgefleet::agent {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using common::Error;
using common::ErrorCode;
using common::Expected;

constexpr std::uint64_t kMaxResponseBytes = 16u << 20;

Error ToError(const beast::error_code& ec, const char* stage) {
  if (ec == beast::error::timeout || ec == asio::error::operation_aborted) {
    return Error(ErrorCode::kDeadlineExceeded, std::string(stage) + ": no answer within the timeout");
  }
  if (ec == asio::error::connection_refused || ec == asio::error::host_not_found ||
      ec == asio::error::host_not_found_try_again || ec == asio::error::network_unreachable ||
      ec == asio::error::host_unreachable) {
    return Error(ErrorCode::kUnavailable, std::string(stage) + ": " + ec.message());
  }
  if (ec == http::error::body_limit) return Error(ErrorCode::kResourceExhausted, "response too large");
  return Error(ErrorCode::kIo, std::string(stage) + ": " + ec.message());
}

class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(asio::io_context& io, HttpEndpoint endpoint, HttpRequest request, HttpCallback done)
      : resolver_(io), stream_(io), endpoint_(std::move(endpoint)), request_(std::move(request)),
        done_(std::move(done)) {}

  void Start() {
    deadline_ = std::chrono::steady_clock::now() + request_.timeout;
    req_.method_string(request_.method);
    req_.target(request_.target);
    req_.version(11);
    req_.set(http::field::host, endpoint_.host + ":" + endpoint_.port);
    req_.set(http::field::user_agent, "edgefleet-agent");
    req_.set(http::field::connection, "close");
    if (!request_.body.empty() || request_.method == "POST") req_.set(http::field::content_type, request_.content_type);
    for (const auto& [name, value] : request_.headers) req_.set(name, value);
    req_.body() = std::move(request_.body);
    req_.prepare_payload();
    parser_.body_limit(kMaxResponseBytes);
    // The resolver has no deadline of its own: a timer cancels it.
    timer_ = std::make_unique<asio::steady_timer>(stream_.get_executor(), deadline_);
    timer_->async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->resolver_.cancel();
    });
    resolver_.async_resolve(endpoint_.host, endpoint_.port,
                            [self = shared_from_this()](beast::error_code ec, asio::ip::tcp::resolver::results_type r) {
                              self->OnResolve(ec, std::move(r));
                            });
  }

 private:
  void OnResolve(beast::error_code ec, asio::ip::tcp::resolver::results_type results) {
    if (ec) return Finish(ToError(ec, "resolving the server"));
    stream_.expires_at(deadline_);
    stream_.async_connect(results, [self = shared_from_this()](beast::error_code e, auto) { self->OnConnect(e); });
  }
  void OnConnect(beast::error_code ec) {
    if (ec) return Finish(ToError(ec, "connecting to the server"));
    stream_.expires_at(deadline_);
    http::async_write(stream_, req_, [self = shared_from_this()](beast::error_code e, std::size_t) {
      self->OnWrite(e);
    });
  }
  void OnWrite(beast::error_code ec) {
    if (ec) return Finish(ToError(ec, "sending the request"));
    stream_.expires_at(deadline_);
    http::async_read(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code e, std::size_t) {
      self->OnRead(e);
    });
  }
  void OnRead(beast::error_code ec) {
    if (ec) return Finish(ToError(ec, "reading the response"));
    auto& res = parser_.get();
    HttpResponse out;
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    Finish(std::move(out));
  }
  void Finish(Expected<HttpResponse> result) {
    if (timer_) timer_->cancel();
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

  asio::ip::tcp::resolver resolver_;
  beast::tcp_stream stream_;
  HttpEndpoint endpoint_;
  HttpRequest request_;
  HttpCallback done_;
  std::chrono::steady_clock::time_point deadline_;
  std::unique_ptr<asio::steady_timer> timer_;
  http::request<http::string_body> req_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
};

}  // namespace

Expected<HttpEndpoint> ParseBaseUrl(const std::string& url) {
  const Error bad(ErrorCode::kInvalidArgument, "the server URL must look like http://HOST[:PORT], not \"" + url + "\"");
  constexpr std::string_view kScheme = "http://";
  if (url.rfind(kScheme, 0) != 0) return bad;
  std::string rest = url.substr(kScheme.size());
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.empty() || rest.find('/') != std::string::npos || rest.find('@') != std::string::npos) return bad;
  HttpEndpoint endpoint;
  std::string host = rest;
  if (rest.front() == '[') {  // [::1]:8000
    const auto close = rest.find(']');
    if (close == std::string::npos) return bad;
    host = rest.substr(1, close - 1);
    const std::string after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad;
      endpoint.port = after.substr(1);
    }
  } else if (const auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    endpoint.port = rest.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(endpoint.port.data(), endpoint.port.data() + endpoint.port.size(), port);
  if (host.empty() || ec != std::errc() || end != endpoint.port.data() + endpoint.port.size() || port == 0 ||
      port > 65535) {
    return bad;
  }
  endpoint.host = host;
  return endpoint;
}

BeastHttpClient::BeastHttpClient(asio::io_context& io, HttpEndpoint endpoint)
    : io_(io), endpoint_(std::move(endpoint)) {}

void BeastHttpClient::Send(HttpRequest request, HttpCallback done) {
  std::make_shared<Exchange>(io_, endpoint_, std::move(request), std::move(done))->Start();
}

}  // namespace edgefleet::agent
