// The seam between the HTTP transport (server/http/) and the API handlers
// (server/api/): what a handler sees of a request and what it answers.
//
// What it is for: handlers are plain functions of a Request, testable without
// a socket; the transport (Boost.Beast) owns sockets, parsing, limits,
// keep-alive and writing, and turns a Response into bytes. Nothing in
// server/api/ includes a Boost header.
//
// Ownership: a Request's string_views point into the transport's buffers and
// are valid only during the handler call. A Response owns its body; a
// Response with `file` set is sent from that file (Beast's file_body, so the
// bytes do not pass through a std::string) and `body` is ignored.
//
// Threads: a handler may be called on any of the transport's worker threads,
// concurrently with itself; handlers must be thread-safe. Routes is built
// before the server starts and is read-only afterwards.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgefleet::server::http {

enum class Method : std::uint8_t { kGet, kHead, kPost, kPut, kDelete, kOther };

struct Header {
  std::string_view name;   // as received; compare case-insensitively
  std::string_view value;
};

struct Request {
  Method method = Method::kGet;
  std::string_view target;  // path and query as received ("/model/version?device_id=a")
  std::string_view path;    // target up to '?'
  std::string_view query;   // after '?', raw (percent-encoded); "" when none
  std::string_view body;    // already limited in size by the transport
  std::vector<Header> headers;
  std::string_view remote;  // the peer's address, for logs

  // The first header with this name (case-insensitive), or nullopt.
  std::optional<std::string_view> HeaderValue(std::string_view name) const;
};

struct FileRange {
  std::string path;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  std::optional<FileRange> file;                              // send these bytes instead of body

  // {"error": code, "message": message}, the one error body (SPEC section 4).
  static Response Error(unsigned status, std::string_view code, std::string_view message);
  static Response Json(std::string json, unsigned status = 200);
};

using Handler = std::function<Response(const Request&)>;

// The route table: exact paths, and prefixes for paths that carry an id
// ("/api/devices/" matches "/api/devices/fan-1"). Exact routes win over
// prefixes; the longest prefix wins among prefixes.
class Routes {
 public:
  void Add(Method method, std::string path, Handler handler);
  void AddPrefix(Method method, std::string prefix, Handler handler);

  // What to do with a request: its handler; or 405 when the path is known
  // for other methods; or 404. The answer is a JSON error in the last two
  // cases. HEAD falls back to the GET handler (the transport drops the body).
  Response Dispatch(const Request& request) const;

  // Every route as "METHOD path" ("GET /model/version", "GET /api/devices/{id}"
  // for a prefix), sorted; the OpenAPI test compares it with docs/api/openapi.yaml.
  std::vector<std::string> Describe() const;

  // For the transport: which route serves a request, without calling it.
  // `handler` is null when there is none (then `route` names a route of the
  // same path with another method, which makes it a 405, or is -1: a 404).
  struct Match {
    const Handler* handler = nullptr;
    int route = -1;
  };
  Match Find(Method method, std::string_view path) const;
  // The 404 or 405 JSON error for a request whose Match has no handler (a
  // 405 carries the Allow header).
  Response NotRouted(const Request& request, const Match& match) const;
  // The number of routes and a route's pattern as Describe writes it
  // ("/api/devices/{id}"), the transport's `route` label in metrics.
  std::size_t size() const { return routes_.size(); }
  std::string Pattern(std::size_t route) const;

 private:
  struct Route {
    Method method;
    std::string path;
    bool prefix;
    Handler handler;
  };
  std::vector<Route> routes_;
};

// Query parameters: the decoded value of the first `name=` in a raw query
// string ('+' is a space, %XX decoded). nullopt when absent; an error text in
// `*error` (and nullopt) when the value's percent-encoding is malformed.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name,
                                      std::string* error = nullptr);

const char* ToString(Method method);  // "GET", "POST", ...

}  // namespace edgefleet::server::http
