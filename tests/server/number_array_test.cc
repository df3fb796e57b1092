// ParseNumberArray (server/api/number_array.h): plain decimals read exactly
// as a correctly rounding parser reads them, everything else declined.

#include "server/api/number_array.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace edgefleet::server::api {
namespace {

constexpr double kMaxAbs = 1e6;

// `text` followed by padding the parser may read but must not use: digits,
// so that reading past the end would change a number.
struct Padded {
  explicit Padded(std::string text) : size(text.size()), storage(std::move(text) + "9999999999999999]") {}
  std::string_view view() const { return {storage.data(), size}; }
  std::size_t size;
  std::string storage;
};

bool Parse(const std::string& text, std::vector<float>& out) {
  const Padded padded(text);
  return ParseNumberArray(padded.view(), out, kMaxAbs);
}

// The value strtod (correctly rounded) gives, rounded to float.
float Expected(const std::string& token) { return static_cast<float>(std::strtod(token.c_str(), nullptr)); }

TEST(ParseNumberArray, ReadsPlainDecimalsBitForBitAsStrtodThenFloat) {
  std::mt19937_64 rng(7);
  const char* const spaces[] = {"", " ", "\n", "\t ", "\r\n"};
  for (int round = 0; round < 2'000; ++round) {
    const std::size_t count = 1 + rng() % 40;
    std::vector<std::string> tokens;
    std::string text = spaces[rng() % 5] + std::string("[");
    for (std::size_t i = 0; i < count; ++i) {
      std::string t = rng() % 2 ? "-" : "";
      const int int_digits = static_cast<int>(rng() % 7) + 1;
      if (rng() % 3 == 0) {
        t += "0";
      } else {
        t += static_cast<char>('1' + rng() % 9);
        for (int d = 1; d < int_digits && std::fabs(std::strtod(t.c_str(), nullptr)) < 1e5; ++d) {
          t += static_cast<char>('0' + rng() % 10);
        }
      }
      const int frac_digits = static_cast<int>(rng() % 16);
      if (frac_digits > 0) {
        t += '.';
        for (int d = 0; d < frac_digits; ++d) t += static_cast<char>('0' + rng() % 10);
      }
      tokens.push_back(t);
      text += spaces[rng() % 5] + t + spaces[rng() % 5] + (i + 1 == count ? "]" : ",");
    }
    text += spaces[rng() % 5];
    std::vector<float> out(count);
    const bool read = Parse(text, out);
    // Numbers whose digits make an integer above 2^53 are declined.
    bool exact = true;
    for (const std::string& t : tokens) {
      std::string digits;
      for (const char c : t) {
        if (c >= '0' && c <= '9') digits += c;
      }
      digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
      exact = exact && (digits.empty() || (digits.size() <= 16 && std::stoull(digits) <= (1ull << 53)));
    }
    ASSERT_EQ(read, exact) << text;
    if (!read) continue;
    for (std::size_t i = 0; i < count; ++i) {
      ASSERT_EQ(std::bit_cast<std::uint32_t>(out[i]), std::bit_cast<std::uint32_t>(Expected(tokens[i])))
          << tokens[i] << " in " << text;
    }
  }
}

TEST(ParseNumberArray, ReadsTheFormsDevicesSend) {
  std::vector<float> out(4);
  ASSERT_TRUE(Parse("[-0.041016, 0.18457, 0.969238, 12]", out));
  EXPECT_EQ(out, (std::vector<float>{-0.041016f, 0.18457f, 0.969238f, 12.0f}));
  ASSERT_TRUE(Parse("[0,-0,-0.0,1000000]", out));
  EXPECT_FALSE(std::signbit(out[0]));
  EXPECT_TRUE(std::signbit(out[1]));
  EXPECT_TRUE(std::signbit(out[2]));
  EXPECT_EQ(out[3], 1e6f);
  std::vector<float> one(1);
  ASSERT_TRUE(Parse("[0.123456789012345]", one));  // 15 fraction digits
  EXPECT_EQ(one[0], Expected("0.123456789012345"));
}

TEST(ParseNumberArray, DeclinesWhatItDoesNotRead) {
  std::vector<float> two(2);
  for (const std::string text : {
           "[1e5, 1]", "[1E5, 1]", "[1.5e-3, 1]",          // exponents: the general parser's
           "[01, 1]", "[-01, 1]", "[00.5, 1]",             // leading zeros: not JSON
           "[1., 1]", "[.5, 1]", "[-, 1]", "[+1, 1]", "[--1, 1]", "[1.2.3, 1]", "[1-2, 1]",
           "[0.1234567890123456, 1]",                      // 16 fraction digits: m above 2^53
           "[0.12345678901234567, 1]",                     // 17 fraction digits
           "[12345678, 1]",                                // 8 digits before the point
           "[1000000.5, 1]", "[-1000001, 1]",             // above max_abs
           "[1, 2, 3]", "[1]", "[]", "[1,]", "[1 2]", "[1,,2]",  // counts and separators
           "1, 2]", "[1, 2", "[1, 2]x", "[1, 2],", "[\"1\", 2]", "[1, null]", "[1, [2]]", "[1, 2}",
           "[1, 2", "[1, 2.", "[1, 2.5",                   // cut short: the padding holds digits
           "",
       }) {
    EXPECT_FALSE(Parse(text, two)) << text;
  }
}

}  // namespace
}  // namespace edgefleet::server::api
