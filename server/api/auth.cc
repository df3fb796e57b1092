#include "server/api/auth.h"

#include <openssl/crypto.h>

#include <atomic>
#include <functional>
#include <unordered_map>

#include "common/crypto.h"

namespace edgefleet::server::api {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsTokenText(std::string_view token) {
  if (token.empty() || token.size() > kMaxTokenBytes) return false;
  for (const char c : token) {
    if (c <= ' ' || c > '~') return false;  // visible ASCII only
  }
  return true;
}

Error Denied() { return Error(ErrorCode::kUnauthenticated, "missing or wrong token"); }

// The per-thread cache: tokens as received (no SHA-256 per request, no
// shared lock), compared in constant time once a bucket holds one.
struct TokenHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view token) const { return std::hash<std::string_view>{}(token); }
};
struct SameToken {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
  }
};
struct ThreadCache {
  std::uint64_t owner = 0;  // the Authenticator's id_; another one clears it
  std::unordered_map<std::string, Principal, TokenHash, SameToken> principals;
};
constexpr std::size_t kThreadCacheEntries = 16'384;  // cleared when full
std::atomic<std::uint64_t> g_next_authenticator_id{1};

}  // namespace

std::optional<std::string> ExtractToken(const http::Request& request) {
  const auto header = request.HeaderValue("Authorization");
  if (!header) return std::nullopt;
  const std::string_view value = Trim(*header);
  if (StartsWithIgnoreCase(value, "bearer ")) {
    const std::string_view token = Trim(value.substr(7));
    if (!IsTokenText(token)) return std::nullopt;
    return std::string(token);
  }
  if (StartsWithIgnoreCase(value, "basic ")) {
    const std::string_view encoded = Trim(value.substr(6));
    if (encoded.size() > 4 * kMaxTokenBytes) return std::nullopt;
    auto decoded = common::Base64Decode(encoded);
    if (!decoded.ok()) return std::nullopt;
    const std::string text(decoded.value().begin(), decoded.value().end());
    const std::size_t colon = text.find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string token = text.substr(colon + 1);
    if (!IsTokenText(token)) return std::nullopt;
    return token;
  }
  return std::nullopt;
}

Authenticator::Authenticator(store::Store& store, const Clock& clock, std::int64_t refresh_ms,
                             ApiMetrics& metrics)
    : store_(store), clock_(clock), refresh_ms_(refresh_ms), metrics_(metrics), id_(g_next_authenticator_id++) {}

std::optional<Principal> Authenticator::Cached(const std::string& hash) const {
  std::shared_lock lock(mu_);
  const auto it = cache_.find(hash);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

void Authenticator::Remember(const std::string& hash, const Principal& principal) {
  std::unique_lock lock(mu_);
  cache_.insert_or_assign(hash, principal);
}

Expected<Principal> Authenticator::Authenticate(std::string_view token, std::string_view device_hint) {
  if (!IsTokenText(token)) return Denied();
  thread_local ThreadCache mine;
  if (mine.owner != id_) {
    mine.principals.clear();
    mine.owner = id_;
  }
  if (const auto it = mine.principals.find(token); it != mine.principals.end()) return it->second;
  Expected<Principal> found = AuthenticateByHash(token, device_hint);
  if (found.ok()) {
    if (mine.principals.size() >= kThreadCacheEntries) mine.principals.clear();
    mine.principals.emplace(std::string(token), found.value());
  }
  return found;
}

Expected<Principal> Authenticator::AuthenticateByHash(std::string_view token, std::string_view device_hint) {
  EDGEFLEET_ASSIGN_OR_RETURN(const std::string hash, common::Sha256Hex(token));
  if (auto hit = Cached(hash)) return *hit;
  Inc(metrics_.auth_cache_misses);

  if (!device_hint.empty()) {
    auto device = store_.AuthenticateDevice(device_hint, hash);
    if (device.ok()) {
      Principal p{Principal::Kind::kDevice, std::string(device_hint)};
      Remember(hash, p);
      return p;
    }
    if (device.error().code() != ErrorCode::kUnauthenticated) return std::move(device).error();
  }
  auto admin = store_.AuthenticateAdmin(hash);
  if (admin.ok()) {
    Principal p{Principal::Kind::kAdmin, ""};
    Remember(hash, p);
    return p;
  }
  if (admin.error().code() != ErrorCode::kUnauthenticated) return std::move(admin).error();

  {
    std::lock_guard refresh(refresh_mu_);
    const std::int64_t now = clock_.NowMs();
    // A concurrent miss may have reloaded while this one waited.
    if (auto hit = Cached(hash)) return *hit;
    if (last_refresh_ms_ && now - *last_refresh_ms_ < refresh_ms_ && now >= *last_refresh_ms_) return Denied();
    last_refresh_ms_ = now;
    EDGEFLEET_ASSIGN_OR_RETURN(const std::vector<store::Device> devices, store_.ListDevices());
    std::unique_lock lock(mu_);
    for (const store::Device& d : devices) {
      cache_.insert_or_assign(d.token_sha256, Principal{Principal::Kind::kDevice, d.id});
    }
  }
  if (auto hit = Cached(hash)) return *hit;
  return Denied();
}

}  // namespace edgefleet::server::api
