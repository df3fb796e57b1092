#include "server/api/number_array.h"

#include <bit>
#include <cstdint>
#include <cstring>

namespace edgefleet::server::api {
namespace {

constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16};
constexpr std::uint64_t kPow10Int[] = {1, 10, 100, 1'000, 10'000, 100'000, 1'000'000, 10'000'000, 100'000'000};
constexpr std::uint64_t kExact = std::uint64_t{1} << 53;

bool Space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
bool Digit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

// The digits at the start of the 8 bytes at `p` (0 to 8 of them) and their
// value, without a branch per digit: bytes are classified in one 64-bit word
// and the digits combined pairwise (SWAR; simdjson and fast_float parse
// eight digits the same way).
int LeadingDigits(const char* p, std::uint64_t* value) {
  std::uint64_t word;
  std::memcpy(&word, p, 8);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  const std::uint64_t digits = word - 0x3030303030303030ULL;  // byte - '0'
  // A byte is a digit when byte - '0' does not borrow and byte + 0x46 does
  // not carry into its top bit ('0' <= byte <= '9').
  const std::uint64_t other = (digits | (word + 0x4646464646464646ULL)) & 0x8080808080808080ULL;
  const int n = other == 0 ? 8 : std::countr_zero(other) / 8;
  if (n == 0) {
    *value = 0;
    return 0;
  }
  // The n digits moved to the top bytes, zeros (which add nothing) below.
  std::uint64_t x = digits << (8 * (8 - n));
  x = x * 10 + (x >> 8);  // pairs
  x = (((x & 0x000000FF000000FFULL) * (100 + (1'000'000ULL << 32))) +
       (((x >> 16) & 0x000000FF000000FFULL) * (1 + (10'000ULL << 32)))) >>
      32;
  *value = x;
  return n;
}

}  // namespace

bool ParseNumberArray(std::string_view text, std::span<float> out, double max_abs) {
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end && Space(*p)) ++p;
  if (p == end || *p != '[') return false;
  ++p;
  for (std::size_t i = 0; i < out.size(); ++i) {
    while (p < end && Space(*p)) ++p;
    if (end - p < 1) return false;
    const bool negative = *p == '-';
    p += negative ? 1 : 0;
    if (p == end) return false;
    std::uint64_t m = 0;
    int digits = 0;  // of m, at most 19 (no overflow)
    if (*p == '0') {
      ++p;  // a leading zero stands alone
    } else {
      digits = LeadingDigits(p, &m);
      if (digits == 0 || digits == 8) return false;  // no digit, or 8 or more before the point
      p += digits;
    }
    if (p > end) return false;
    int k = 0;
    if (p < end && *p == '.') {
      ++p;
      std::uint64_t part = 0;
      int n = LeadingDigits(p, &part);
      if (n == 0) return false;
      m = m * kPow10Int[n] + part;
      p += n;
      k = n;
      if (n == 8) {
        if (p > end) return false;  // the next read stays within 8 bytes past the end
        n = LeadingDigits(p, &part);
        if (n == 8) return false;  // more than 16 fraction digits
        m = m * kPow10Int[n] + part;
        p += n;
        k += n;
      }
      digits += k;
    }
    // The digits must end inside the text, and the number with them: no
    // further digit (an integer part with a leading zero), no exponent.
    if (p >= end || Digit(*p) || *p == 'e' || *p == 'E' || *p == '.' || digits > 19 || m > kExact) return false;
    double value = static_cast<double>(m);
    if (k > 0) value /= kPow10[k];
    if (!(value <= max_abs)) return false;
    out[i] = static_cast<float>(negative ? -value : value);
    while (p < end && Space(*p)) ++p;
    if (p == end || *p != (i + 1 == out.size() ? ']' : ',')) return false;
    ++p;
  }
  while (p < end && Space(*p)) ++p;
  return p == end;
}

}  // namespace edgefleet::server::api
