// HttpClient: how the agent talks HTTP to the cloud, without blocking.
//
// What it is for: the agent's escalations (POST /classify) and syncs (POST
// /api/sync) go through this interface, so the inference loop never waits on
// the network: Send() returns at once and the callback runs later on the
// agent's event loop with the response or an Error (kDeadlineExceeded when
// `timeout` passed, kUnavailable when the peer could not be reached, kIo on a
// broken connection). A non-2xx status is a response, not an Error.
//
// Ownership: the caller owns the client and keeps it alive longer than every
// outstanding request. Threads: call Send() and receive callbacks on the one
// thread that runs the agent's io_context (the implementation's contract).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"

namespace edgefleet::agent {

struct HttpRequest {
  std::string method = "POST";
  std::string target;  // path and query, e.g. "/classify"
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{5000};
};

struct HttpResponse {
  int status = 0;
  std::string content_type;
  std::string body;
};

using HttpCallback = std::function<void(common::Expected<HttpResponse>)>;

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual void Send(HttpRequest request, HttpCallback done) = 0;
};

}  // namespace edgefleet::agent
