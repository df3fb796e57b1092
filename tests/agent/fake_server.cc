#include "fake_server.h"

#include <algorithm>
#include <charconv>

namespace edgefleet::ota::testing {
namespace {

using common::Error;
using common::ErrorCode;

std::string PathOf(const std::string& url) {
  const std::size_t scheme = url.find("://");
  const std::size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

std::string QueryValue(const std::string& path, const std::string& key) {
  const std::size_t q = path.find('?');
  if (q == std::string::npos) return {};
  std::string_view rest(path);
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    const std::size_t amp = rest.find('&');
    const std::string_view kv = rest.substr(0, amp);
    if (kv.substr(0, kv.find('=')) == key) return std::string(kv.substr(kv.find('=') + 1));
    rest.remove_prefix(amp == std::string_view::npos ? rest.size() : amp + 1);
  }
  return {};
}

std::optional<std::string> HeaderOf(const HttpRequest& r, std::string_view name) {
  for (const auto& h : r.headers) {
    if (h.name == name) return h.value;
  }
  return std::nullopt;
}

HttpResponse Json(int status, const nlohmann::json& body) {
  HttpResponse r;
  r.status = status;
  r.headers.push_back({"Content-Type", "application/json"});
  r.body = body.dump();
  return r;
}

}  // namespace

void FakeServer::Offer(const common::Manifest& manifest, const common::Ed25519PrivateKey& key) {
  offer_ = manifest;
  offer_signature_ = common::SignManifest(key, manifest).value();
}

Expected<HttpResponse> FakeServer::Send(const HttpRequest& request) {
  if (offline) return Error(ErrorCode::kUnavailable, "connection refused");
  const std::string path = PathOf(request.url);
  const std::string route = path.substr(0, path.find('?'));
  if (request.method == "POST" && route == "/api/updates/status") {
    if (status_offline) return Error(ErrorCode::kUnavailable, "connection refused");
    statuses_.push_back(nlohmann::json::parse(request.body));
    return Json(200, {{"ok", true}});
  }
  if (request.method != "GET") return Json(405, {{"error", "method_not_allowed"}, {"message", "no"}});
  if (route == "/api/updates/check") {
    const std::string current = QueryValue(path, "current_version");
    if (!offer_ || current == std::to_string(offer_->version)) return Json(200, {{"update_available", false}});
    nlohmann::json manifest = nlohmann::json::parse(common::CanonicalManifestBytes(*offer_).value());
    return Json(200, {{"update_available", true}, {"manifest", manifest}, {"signature", offer_signature_}});
  }
  if (route == "/model/thresholds") {
    if (!thresholds_body_) return Json(404, {{"error", "not_found"}, {"message", "no thresholds"}});
    HttpResponse r;
    r.status = 200;
    r.body = *thresholds_body_;
    if (!thresholds_signature_.empty()) r.headers.push_back({"X-Edgefleet-Signature", thresholds_signature_});
    return r;
  }
  if (route == "/model/download") {
    std::int64_t version = 0;
    const std::string v = QueryValue(path, "version");
    std::from_chars(v.data(), v.data() + v.size(), version);
    return Download(request, version);
  }
  return Json(404, {{"error", "not_found"}, {"message", "no route"}});
}

Expected<HttpResponse> FakeServer::Download(const HttpRequest& request, std::int64_t version) {
  ++download_requests_;
  if (downloads_fail) return Json(503, {{"error", "unavailable"}, {"message", "try later"}});
  const auto it = artifacts_.find(version);
  if (it == artifacts_.end()) return Json(404, {{"error", "not_found"}, {"message", "no such version"}});
  const Artifact& a = it->second;
  const std::string etag = "\"v" + std::to_string(version) + "-" + std::to_string(a.bytes.size()) + "\"";
  HttpResponse r;
  r.headers.push_back({"ETag", etag});
  if (!a.signature.empty()) r.headers.push_back({"X-Edgefleet-Signature", a.signature});
  std::uint64_t first = 0, last = a.bytes.size() - 1;
  const auto range = HeaderOf(request, "Range");
  const auto if_range = HeaderOf(request, "If-Range");
  bool partial = range.has_value() && !ignore_range && (!if_range || *if_range == etag);
  if (partial) {
    const std::string spec = range->substr(6);  // "bytes="
    const std::size_t dash = spec.find('-');
    first = std::stoull(spec.substr(0, dash));
    if (dash + 1 < spec.size()) last = std::min<std::uint64_t>(last, std::stoull(spec.substr(dash + 1)));
    if (first >= a.bytes.size()) return Json(416, {{"error", "range"}, {"message", "not satisfiable"}});
  }
  const std::uint64_t length = last - first + 1;
  if (drop_every != 0 && download_requests_ % drop_every == 0) {
    ++drops_;
    download_bytes_sent_ += length / 2;  // half the body went over the wire, then the connection dropped
    return Error(ErrorCode::kUnavailable, "connection reset by peer");
  }
  download_bytes_sent_ += length;
  if (partial) {
    r.status = 206;
    r.headers.push_back({"Content-Range", "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" +
                                              std::to_string(a.bytes.size())});
    r.body = a.bytes.substr(first, length);
  } else {
    r.status = 200;
    r.body = a.bytes;
  }
  return r;
}

}  // namespace edgefleet::ota::testing
