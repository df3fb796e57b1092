// HTTP Range requests for artifact downloads (RFC 9110 section 14), the
// part a resumed download needs: one byte range.
//
// Policy (docs/api/openapi.yaml, GET /model/download):
//   - no Range header, or a unit other than "bytes": the whole artifact, 200;
//   - one range ("bytes=a-b", "bytes=a-", "bytes=-n") that overlaps the
//     artifact: 206 with those bytes (b past the end is clamped, a suffix
//     longer than the artifact is the whole artifact);
//   - a range starting at or past the end, "bytes=-0", a malformed range
//     ("bytes=5-2", "bytes=x-", "bytes=" ...) or several ranges (overlapping
//     or not; multipart/byteranges is not served): 416 with
//     `Content-Range: bytes */<size>` and a JSON error.
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace edgefleet::server::api {

struct RangeDecision {
  enum class Kind : std::uint8_t { kWhole, kPartial, kUnsatisfiable };
  Kind kind = Kind::kWhole;
  std::uint64_t first = 0;   // kPartial: first byte
  std::uint64_t length = 0;  // kPartial: bytes
  std::string reason;        // kUnsatisfiable: one sentence
};

RangeDecision DecideRange(std::optional<std::string_view> range_header, std::uint64_t size);

// Whether an If-None-Match header value matches the entity tag `etag` (with
// its quotes): "*", or any tag of the list, weak or strong (weak comparison,
// as RFC 9110 requires for If-None-Match).
bool IfNoneMatchMatches(std::string_view header, std::string_view etag);

}  // namespace edgefleet::server::api
