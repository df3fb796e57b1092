// Small text checks shared by the parsers and the store.
//
// Threads: pure functions.
#pragma once

#include <cstddef>
#include <string_view>

namespace edgefleet::common {

// Device ids: 1 to 128 bytes of letters, digits and - _ . : (they appear in
// URLs, the database and the sync format). The MQTT side is stricter
// (telemetry::IsValidDeviceId: no ':', no leading '.' or '-').
inline constexpr std::size_t kMaxDeviceIdBytes = 128;
bool IsDeviceIdText(std::string_view id);

// Strict UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates, nothing
// above U+10FFFF, no truncated sequence. NUL bytes are valid UTF-8.
bool IsValidUtf8(std::string_view text);

}  // namespace edgefleet::common
