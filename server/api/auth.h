// Authenticator: who a bearer token belongs to (a device or an admin), with
// the answers cached in memory so that auth costs no database round trip per
// request (SPEC section 4: per-device tokens, an admin token for admin
// routes).
//
// How a token is checked: first in a per-thread cache of the tokens this
// thread has accepted (as received, compared in constant time: no SHA-256
// and no shared lock per request; at most 16,384 entries, cleared when
// full). Then its SHA-256 (the form the store keeps, tokens are never
// stored) is looked up in the shared cache. On a miss:
//   1. with a device id named by the request: Store::AuthenticateDevice(id,
//      hash) (constant-time in the store);
//   2. Store::AuthenticateAdmin(hash);
//   3. otherwise the device tokens are reloaded (ListDevices), at most once
//      per `refresh_ms`, so a token whose request names no device (an
//      artifact download) or names another device is still recognised.
// A success is cached for the life of the process, in both caches: the
// store has no way to revoke a token yet, so none is ever invalidated
// (docs/operations.md); revocation would have to clear the per-thread
// caches too. A failure is not cached; at most one reload per refresh_ms
// bounds what wrong tokens cost.
//
// Tokens are also accepted as the password of HTTP Basic auth (any user
// name), so a browser can open the admin-only fleet page.
//
// Ownership and threads: borrows the Store and Clock; all methods are
// thread-safe (a shared mutex over the shared cache; the per-thread caches
// are thread_local, tagged with the Authenticator they belong to).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/error.h"
#include "server/api/metrics.h"
#include "server/clock.h"
#include "server/store/store.h"
#include "server/http/message.h"

namespace edgefleet::server::api {

struct Principal {
  enum class Kind : std::uint8_t { kDevice, kAdmin };
  Kind kind = Kind::kDevice;
  std::string device_id;  // for kDevice

  bool admin() const { return kind == Kind::kAdmin; }
};

// The token of `Authorization: Bearer <token>` or the password of
// `Authorization: Basic ...`; nullopt when absent or malformed.
std::optional<std::string> ExtractToken(const http::Request& request);

inline constexpr std::size_t kMaxTokenBytes = 256;

class Authenticator {
 public:
  Authenticator(store::Store& store, const Clock& clock, std::int64_t refresh_ms, ApiMetrics& metrics);

  // kUnauthenticated for an unknown token (or one over kMaxTokenBytes);
  // kUnavailable when the store cannot be asked.
  common::Expected<Principal> Authenticate(std::string_view token, std::string_view device_hint);

 private:
  common::Expected<Principal> AuthenticateByHash(std::string_view token, std::string_view device_hint);
  std::optional<Principal> Cached(const std::string& hash) const;
  void Remember(const std::string& hash, const Principal& principal);

  store::Store& store_;
  const Clock& clock_;
  std::int64_t refresh_ms_;
  ApiMetrics& metrics_;

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Principal> cache_;  // token sha256 -> principal

  std::mutex refresh_mu_;
  std::optional<std::int64_t> last_refresh_ms_;

  const std::uint64_t id_;  // tags this Authenticator's entries in the per-thread caches
};

}  // namespace edgefleet::server::api
