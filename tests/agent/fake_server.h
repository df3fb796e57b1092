// An HttpClient (agent/ota/platform.h) that answers from memory what the
// edgefleet server answers over HTTP for OTA (SPEC section 4): the update
// check with a signed manifest, artifact downloads with Range / If-Range /
// ETag and the X-Edgefleet-Signature header, thresholds, and status reports,
// which it records. Failure injection: the whole server offline, only the
// status endpoint offline, connections that drop mid-chunk, 503s.
// Not thread-safe (tests are single-threaded).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/ota/platform.h"
#include "common/crypto.h"
#include "common/manifest.h"

namespace edgefleet::ota::testing {

inline constexpr const char* kServerUrl = "http://127.0.0.1:8000";

struct Artifact {
  std::string bytes;
  std::string signature;  // base64; empty: unsigned (no header)
};

class FakeServer final : public HttpClient {
 public:
  Expected<HttpResponse> Send(const HttpRequest& request) override;

  // Offers `manifest` (signed with `key`) to devices not running its version;
  // the artifact is served at manifest.url.
  void Offer(const common::Manifest& manifest, const common::Ed25519PrivateKey& key);
  void OfferRaw(common::Manifest manifest, std::string signature) {
    offer_ = std::move(manifest);
    offer_signature_ = std::move(signature);
  }
  void Withdraw() { offer_.reset(); }
  void Put(std::int64_t version, Artifact artifact) { artifacts_[version] = std::move(artifact); }
  void SetThresholds(std::string body, std::string signature) {
    thresholds_body_ = std::move(body);
    thresholds_signature_ = std::move(signature);
  }

  bool offline = false;             // every request fails to connect
  bool status_offline = false;      // only POST /api/updates/status fails
  std::uint32_t drop_every = 0;     // every n-th download request drops mid-body (0: never)
  bool downloads_fail = false;      // every download answers 503
  bool ignore_range = false;        // answers 200 with the whole artifact

  const std::vector<nlohmann::json>& statuses() const { return statuses_; }
  std::uint64_t download_bytes_sent() const { return download_bytes_sent_; }
  std::uint32_t download_requests() const { return download_requests_; }
  std::uint32_t drops() const { return drops_; }

 private:
  Expected<HttpResponse> Download(const HttpRequest& request, std::int64_t version);

  std::optional<common::Manifest> offer_;
  std::string offer_signature_;
  std::map<std::int64_t, Artifact> artifacts_;
  std::optional<std::string> thresholds_body_;
  std::string thresholds_signature_;
  std::vector<nlohmann::json> statuses_;
  std::uint64_t download_bytes_sent_ = 0;
  std::uint32_t download_requests_ = 0;
  std::uint32_t drops_ = 0;
};

// A clock the test moves.
class FakeClock final : public Clock {
 public:
  std::int64_t NowMs() override { return now_ms; }
  std::int64_t now_ms = 1'700'000'000'000;
};

}  // namespace edgefleet::ota::testing
