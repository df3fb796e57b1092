// Small checks of received and stored fields, shared by the parsers and the
// store.
//
// Threads: pure functions.
#pragma once

#include <cstddef>
#include <string_view>

#include "common/error.h"

namespace edgefleet::common {

// Device ids: 1 to 128 bytes of letters, digits and - _ . : (they appear in
// URLs, the database and the sync format). The MQTT side is stricter
// (telemetry::IsValidDeviceId: no ':', no leading '.' or '-').
inline constexpr std::size_t kMaxDeviceIdBytes = 128;
bool IsDeviceIdText(std::string_view id);

// A text field of a stored or received record: not empty unless allowed, at
// most max_bytes, no NUL byte, valid UTF-8. kInvalidArgument names `field`.
Expected<void> CheckText(std::string_view field, std::string_view text, std::size_t max_bytes, bool allow_empty);

// A finite number in [lo, hi]; kInvalidArgument names `field`.
Expected<void> CheckFinite(std::string_view field, double value, double lo, double hi);

// Strict UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates, nothing
// above U+10FFFF, no truncated sequence. NUL bytes are valid UTF-8.
bool IsValidUtf8(std::string_view text);

}  // namespace edgefleet::common
