// Numbers read from JSON documents that come from disk or the network.
//
// nlohmann's get<T>() converts with a plain cast: a JSON float read as an
// integer (6.7e19 as std::uint64_t), or a double beyond float's range read as
// a float, is undefined behaviour (UBSan's float-cast-overflow; the OTA
// record's fuzz target found it). These accept only a value that fits T and
// throw nlohmann's out_of_range otherwise, so that the callers' existing
// `catch (const json::exception&)` turns it into a refused document.
//
// Threads: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>

namespace edgefleet::common {

// A JSON integer (not a float) whose value fits T.
template <typename T>
T JsonInteger(const nlohmann::json& v) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (std::in_range<T>(u)) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (std::in_range<T>(i)) return static_cast<T>(i);
  }
  throw nlohmann::json::out_of_range::create(406, "not an integer in range: " + v.dump(), &v);
}

// A finite JSON number (integer or float) that fits a float.
inline float JsonFloat(const nlohmann::json& v) {
  if (v.is_number()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::fabs(d) <= static_cast<double>(std::numeric_limits<float>::max())) {
      return static_cast<float>(d);
    }
  }
  throw nlohmann::json::out_of_range::create(406, "not a number a float can hold: " + v.dump(), &v);
}

}  // namespace edgefleet::common
