// Small text checks shared by the parsers and the store.
//
// Threads: pure functions.
#pragma once

#include <string_view>

namespace edgefleet::common {

// Strict UTF-8 (RFC 3629): no overlong forms, no UTF-16 surrogates, nothing
// above U+10FFFF, no truncated sequence. NUL bytes are valid UTF-8.
bool IsValidUtf8(std::string_view text);

}  // namespace edgefleet::common
