#include "server/http/message.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace edgefleet::server::http {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return Lower(x) == Lower(y); });
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes one query component; false on a malformed %-escape.
bool Decode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = HexValue(in[i + 1]);
      const int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return true;
}

}  // namespace

std::optional<std::string_view> Request::HeaderValue(std::string_view name) const {
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return h.value;
  }
  return std::nullopt;
}

Response Response::Error(unsigned status, std::string_view code, std::string_view message) {
  nlohmann::json body = {{"error", std::string(code)}, {"message", std::string(message)}};
  Response r;
  r.status = status;
  // Messages may quote client input that is not UTF-8: replace, never throw.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::Json(std::string json, unsigned status) {
  Response r;
  r.status = status;
  r.body = std::move(json);
  return r;
}

void Routes::Add(Method method, std::string path, Handler handler) {
  routes_.push_back(Route{method, std::move(path), false, std::move(handler)});
}

void Routes::AddPrefix(Method method, std::string prefix, Handler handler) {
  routes_.push_back(Route{method, std::move(prefix), true, std::move(handler)});
}

Routes::Match Routes::Find(Method method, std::string_view path) const {
  const Method wanted = method == Method::kHead ? Method::kGet : method;
  int exact = -1;
  int best_prefix = -1;
  int known = -1;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const Route& route = routes_[i];
    const bool matches = route.prefix ? (path.size() > route.path.size() &&
                                         path.substr(0, route.path.size()) == route.path)
                                      : path == route.path;
    if (!matches) continue;
    if (known < 0) known = static_cast<int>(i);
    if (route.method != wanted) continue;
    if (!route.prefix) {
      exact = static_cast<int>(i);
      break;
    }
    if (best_prefix < 0 || route.path.size() > routes_[static_cast<std::size_t>(best_prefix)].path.size()) {
      best_prefix = static_cast<int>(i);
    }
  }
  const int found = exact >= 0 ? exact : best_prefix;
  if (found >= 0) return Match{&routes_[static_cast<std::size_t>(found)].handler, found};
  return Match{nullptr, known};
}

Response Routes::NotRouted(const Request& request, const Match& match) const {
  if (match.route >= 0) {
    Response r = Response::Error(405, "method_not_allowed",
                                 std::string(ToString(request.method)) + " is not allowed on this path.");
    std::string allow;
    for (const Route& route : routes_) {
      const bool matches = route.prefix ? (request.path.size() > route.path.size() &&
                                           request.path.substr(0, route.path.size()) == route.path)
                                        : request.path == route.path;
      if (!matches || allow.find(ToString(route.method)) != std::string::npos) continue;
      if (!allow.empty()) allow += ", ";
      allow += ToString(route.method);
      if (route.method == Method::kGet) allow += ", HEAD";
    }
    r.headers.emplace_back("Allow", std::move(allow));
    return r;
  }
  return Response::Error(404, "not_found", "No route for this path.");
}

Response Routes::Dispatch(const Request& request) const {
  const Match match = Find(request.method, request.path);
  if (match.handler != nullptr) return (*match.handler)(request);
  return NotRouted(request, match);
}

std::string Routes::Pattern(std::size_t route) const {
  const Route& r = routes_.at(route);
  return r.prefix ? r.path + "{id}" : r.path;
}

std::vector<std::string> Routes::Describe() const {
  std::vector<std::string> out;
  for (const Route& route : routes_) {
    out.push_back(std::string(ToString(route.method)) + " " + route.path + (route.prefix ? "{id}" : ""));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view name,
                                      std::string* error) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    std::string decoded_key;
    if (!Decode(key, decoded_key) || decoded_key != name) continue;
    std::string value;
    if (eq != std::string_view::npos && !Decode(pair.substr(eq + 1), value)) {
      if (error != nullptr) *error = "the query parameter '" + std::string(name) + "' has a malformed %-escape";
      return std::nullopt;
    }
    return value;
  }
  return std::nullopt;
}

const char* ToString(Method method) {
  switch (method) {
    case Method::kGet: return "GET";
    case Method::kHead: return "HEAD";
    case Method::kPost: return "POST";
    case Method::kPut: return "PUT";
    case Method::kDelete: return "DELETE";
    case Method::kOther: return "OTHER";
  }
  return "OTHER";
}

}  // namespace edgefleet::server::http
