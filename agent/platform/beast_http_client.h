// BeastHttpClient: the real HttpClient, asynchronous on the agent's
// io_context (Boost.Beast), so the loop never blocks on the network.
//
// What it is for: the agent's escalations and syncs to one server given by
// its base URL ("http://HOST[:PORT]", no path; plain HTTP: put TLS in front
// with a local proxy for now). One connection per request (HTTP/1.1,
// Connection: close): requests are rare (escalations ~5% of windows, a sync
// every few minutes), and nothing stale is kept across network changes.
// Every request has its own deadline covering resolve, connect, write and
// read; past it the callback gets kDeadlineExceeded. A connection refused or
// a name that does not resolve is kUnavailable; a response above 16 MiB is
// kResourceExhausted.
//
// Ownership: the caller owns the client and the io_context; requests in
// flight keep what they need alive, and their callbacks run even if the
// client is destroyed first (with whatever result the socket gives).
// Threads: Send() and every callback on the io_context's thread.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "agent/platform/http_client.h"
#include "common/error.h"

namespace edgefleet::agent {

struct HttpEndpoint {
  std::string host;
  std::string port = "80";
};

// "http://host[:port]" (trailing '/' allowed). kInvalidArgument otherwise.
common::Expected<HttpEndpoint> ParseBaseUrl(const std::string& url);

class BeastHttpClient final : public HttpClient {
 public:
  BeastHttpClient(boost::asio::io_context& io, HttpEndpoint endpoint);
  void Send(HttpRequest request, HttpCallback done) override;

 private:
  boost::asio::io_context& io_;
  HttpEndpoint endpoint_;
};

}  // namespace edgefleet::agent
