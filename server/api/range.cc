#include "server/api/range.h"

#include <charconv>

namespace edgefleet::server::api {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

// Digits only (no sign, no space), no overflow.
std::optional<std::uint64_t> Number(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  std::uint64_t v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

RangeDecision Unsatisfiable(std::string reason) {
  RangeDecision d;
  d.kind = RangeDecision::Kind::kUnsatisfiable;
  d.reason = std::move(reason);
  return d;
}

}  // namespace

RangeDecision DecideRange(std::optional<std::string_view> range_header, std::uint64_t size) {
  if (!range_header) return {};
  const std::string_view header = Trim(*range_header);
  const std::size_t eq = header.find('=');
  if (eq == std::string_view::npos) return Unsatisfiable("The Range header is malformed.");
  if (!EqualsIgnoreCase(Trim(header.substr(0, eq)), "bytes")) return {};  // other units are ignored
  const std::string_view set = Trim(header.substr(eq + 1));
  if (set.find(',') != std::string_view::npos) {
    return Unsatisfiable("Only one byte range per request is served.");
  }
  const std::size_t dash = set.find('-');
  if (dash == std::string_view::npos) return Unsatisfiable("The byte range is malformed.");
  const std::string_view a = Trim(set.substr(0, dash));
  const std::string_view b = Trim(set.substr(dash + 1));
  RangeDecision d;
  d.kind = RangeDecision::Kind::kPartial;
  if (a.empty()) {  // suffix: the last n bytes
    const auto n = Number(b);
    if (!n) return Unsatisfiable("The byte range is malformed.");
    if (*n == 0 || size == 0) return Unsatisfiable("The byte range selects no bytes.");
    d.length = *n < size ? *n : size;
    d.first = size - d.length;
    return d;
  }
  const auto first = Number(a);
  if (!first) return Unsatisfiable("The byte range is malformed.");
  std::uint64_t last = size == 0 ? 0 : size - 1;
  if (!b.empty()) {
    const auto l = Number(b);
    if (!l) return Unsatisfiable("The byte range is malformed.");
    if (*l < *first) return Unsatisfiable("The byte range ends before it starts.");
    if (*l < last) last = *l;
  }
  if (*first >= size) {
    return Unsatisfiable("The byte range starts at or past the end (" + std::to_string(size) + " bytes).");
  }
  d.first = *first;
  d.length = last - *first + 1;
  return d;
}

bool IfNoneMatchMatches(std::string_view header, std::string_view etag) {
  const std::string_view opaque = etag.substr(0, etag.size());
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    std::string_view tag = Trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.size() > 2 && tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == opaque) return true;
  }
  return false;
}

}  // namespace edgefleet::server::api
