#include "common/text.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

namespace edgefleet::common {

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07u;
    } else {
      return false;  // a continuation byte first, or 0xF8..0xFF
    }
    if (i + extra >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3Fu);
    }
    static constexpr std::uint32_t kMinimum[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMinimum[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

bool IsDeviceIdText(std::string_view id) {
  if (id.empty() || id.size() > kMaxDeviceIdBytes) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

Expected<void> CheckText(std::string_view field, std::string_view text, std::size_t max_bytes, bool allow_empty) {
  const auto invalid = [&](std::string_view what) {
    return Error(ErrorCode::kInvalidArgument, std::string(field) + " " + std::string(what));
  };
  if (!allow_empty && text.empty()) return invalid("is empty");
  if (text.size() > max_bytes) return invalid("is longer than " + std::to_string(max_bytes) + " bytes");
  if (text.find('\0') != std::string_view::npos) return invalid("holds a NUL byte");
  if (!IsValidUtf8(text)) return invalid("is not valid UTF-8");
  return Ok();
}

Expected<void> CheckFinite(std::string_view field, double value, double lo, double hi) {
  if (!std::isfinite(value) || value < lo || value > hi) {
    return Error(ErrorCode::kInvalidArgument, std::string(field) + " is not a finite number in range");
  }
  return Ok();
}

}  // namespace edgefleet::common
