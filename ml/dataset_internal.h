// Internal to the dataset library: helpers shared by the CSV reader
// (dataset.cc) and the packed format (dataset_packed.cc). Not installed, not
// for other modules.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <exception>
#include <new>

#include "ml/dataset.h"

namespace edgefleet::ml::internal {

namespace fs = std::filesystem;

// Shows a piece of untrusted input in an error message, quoted and bounded.
std::string Quote(std::string_view text);
std::string ErrnoText(int err);


// An error result of type R (a DataResult<T> or a DataStatus).
template <typename R>
R Failure(std::string message) {
  if constexpr (std::is_same_v<R, DataStatus>) {
    return DataStatus{std::move(message)};
  } else {
    return R::Fail(std::move(message));
  }
}

// Runs a public entry point's body, turning anything the standard library
// throws (allocation failure, in practice) into an error result, so no
// exception crosses the API.
template <typename F>
auto Guarded(std::string_view what, F&& body) -> decltype(body()) {
  using R = decltype(body());
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Failure<R>("ran out of memory while " + std::string(what) + ".");
  } catch (const std::exception& e) {
    return Failure<R>("failed while " + std::string(what) + ": " + e.what() + ".");
  }
}


// Reads a whole regular file of at most `max_bytes`.
DataResult<std::string> ReadFile(const fs::path& path, std::size_t max_bytes);

bool StartsWith(std::string_view s, std::string_view prefix);

// Empty when `name` may name a recording, else why not (a sentence fragment).
std::string CheckName(std::string_view name);

}  // namespace edgefleet::ml::internal
