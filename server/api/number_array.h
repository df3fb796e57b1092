// ParseNumberArray: /classify's "features" array read straight from its JSON
// text when it holds only plain decimal numbers, the form devices send
// (0.184570, -0.041016; the seeds' Python clients write json.dumps of floats
// read from the recordings). Anything else is left to the general parser.
//
// Why: simdjson's On-Demand parser, stepping through the 300 elements one
// value at a time, was the largest part of parsing a /classify body, and
// the function holding it the largest in a profile of the server under load.
// Reading the digits eight at a time from the array's text took a body's
// parse from 3.78 to 3.24-3.31 us and the server's /classify rate up 6.8%
// (docs/BENCHMARKS.md, "Server against the peers"; docs/DECISIONS.md).
//
// What is accepted: '[' number (',' number)* ']' with JSON whitespace
// between tokens and exactly out.size() numbers, each
// -?(0|[1-9][0-9]{0,7})(.[0-9]{1,16})? whose digits form an integer m of at
// most 2^53 and whose magnitude is at most max_abs. Anything else
// (exponents, longer numbers, other tokens, a wrong count, a larger value)
// returns false and writes nothing the caller may use.
//
// Values: m / 10^k, where k is the number of fraction digits, is one IEEE
// division of two exactly represented doubles (m <= 2^53, 10^k <= 10^16), so
// it is the correctly rounded double, the value a JSON parser that rounds
// correctly gives (Clinger's fast path); it is then rounded to float as the
// general path does. A minus sign is kept on zero (-0 is -0.0).
//
// Precondition: at least 8 readable bytes follow `text` (the caller's
// padded copy of the body); they are read, never used.
#pragma once

#include <span>
#include <string_view>

namespace edgefleet::server::api {

bool ParseNumberArray(std::string_view text, std::span<float> out, double max_abs);

}  // namespace edgefleet::server::api
