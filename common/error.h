// Error and Expected<T>: the error vocabulary of everything above the core
// (agent, server, common/; STYLE.md practice 2).
//
// What it is for: every fallible function outside core/ returns an
// Expected<T> (or Expected<void>) instead of throwing. An Error carries a code
// from a small fixed set, so callers branch on what happened (the HTTP server
// maps codes to statuses), and a one-sentence message for humans, to which
// each layer may prefix its context ("opening store: sqlite: disk I/O error").
// Libraries that throw (nlohmann::json, libpqxx, ...) are converted to Error in
// the one adapter that calls them; exceptions never cross a layer.
//
// Contract:
//   - Expected is [[nodiscard]]: dropping one is a compile warning (an error in
//     CI). Read value() only after ok(); reading the value of an error (or the
//     error of a value) is a programming error and aborts the process with a
//     message, it does not throw.
//   - EDGEFLEET_RETURN_IF_ERROR(expr) returns expr's Error from the enclosing
//     function when expr (any Expected) is an error.
//   - EDGEFLEET_ASSIGN_OR_RETURN(lhs, expr) evaluates expr once; on error it
//     returns the Error, otherwise it moves the value into lhs, which may be a
//     declaration (`auto x`) or an existing variable.
//
// Ownership and threads: Error and Expected are plain values (copyable when T
// is); no shared state, so any number of threads may use distinct objects.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace edgefleet::common {

// What went wrong, from the caller's point of view. Stable: the names from
// ToString appear in logs and in the HTTP error bodies' "error" field.
enum class ErrorCode : std::uint8_t {
  kInvalidArgument = 1,  // the caller's input is malformed or out of range
  kNotFound,             // the named thing does not exist
  kAlreadyExists,        // creating something that exists
  kUnauthenticated,      // missing or wrong credentials, or a signature that does not verify
  kPermissionDenied,     // authenticated, but not allowed
  kFailedPrecondition,   // the system is not in a state that allows this (e.g. a DB newer than the code)
  kConflict,             // the request contradicts stored state (e.g. a model version not above the latest)
  kAborted,              // a concurrent operation won; retrying the whole operation may succeed
  kResourceExhausted,    // a size, count or quota limit was hit
  kDeadlineExceeded,     // a timeout expired
  kUnavailable,          // a dependency (database, network peer) cannot be reached now; retry later
  kIo,                   // the operating system failed a file or socket operation
  kCorrupt,              // stored or received data fails an integrity check
  kInternal,             // a bug or an unexpected library failure
};

// A stable snake_case name ("invalid_argument", "not_found", ...). Never null.
const char* ToString(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

  // The same error with "context: " prefixed to its message, so an error
  // reads outermost-first: "opening store: migrating: disk I/O error".
  [[nodiscard]] Error WithContext(std::string_view context) const& {
    return Error(code_, Prefixed(context));
  }
  [[nodiscard]] Error WithContext(std::string_view context) && {
    message_ = Prefixed(context);
    return std::move(*this);
  }

  // "<code name>: <message>", for logs.
  std::string ToString() const;

  friend bool operator==(const Error&, const Error&) = default;

 private:
  std::string Prefixed(std::string_view context) const {
    std::string out(context);
    out += ": ";
    out += message_;
    return out;
  }

  ErrorCode code_;
  std::string message_;
};

namespace internal {
[[noreturn]] void ExpectedAccessFailure(const char* what, const Error* error);
}  // namespace internal

// A T or an Error. Implicitly constructible from either, so a function
// returning Expected<T> can `return value;` or `return Error(...)`.
template <typename T>
class [[nodiscard]] Expected {
  static_assert(!std::is_same_v<std::remove_cv_t<T>, Error>, "Expected<Error> is ambiguous");
  static_assert(!std::is_reference_v<T>, "Expected holds values");

 public:
  template <typename U = T>
    requires(std::is_constructible_v<T, U &&> &&
             !std::is_same_v<std::remove_cvref_t<U>, Expected> &&
             !std::is_same_v<std::remove_cvref_t<U>, Error>)
  Expected(U&& value)  // NOLINT(google-explicit-constructor): intended
      : storage_(std::in_place_index<0>, std::forward<U>(value)) {}
  Expected(Error error)  // NOLINT(google-explicit-constructor): intended
      : storage_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return storage_.index() == 0; }

  T& value() & {
    if (!ok()) internal::ExpectedAccessFailure("value() of an error", ErrorPtr());
    return *std::get_if<0>(&storage_);
  }
  const T& value() const& {
    if (!ok()) internal::ExpectedAccessFailure("value() of an error", ErrorPtr());
    return *std::get_if<0>(&storage_);
  }
  T&& value() && {
    if (!ok()) internal::ExpectedAccessFailure("value() of an error", ErrorPtr());
    return std::move(*std::get_if<0>(&storage_));
  }

  const Error& error() const& {
    if (ok()) internal::ExpectedAccessFailure("error() of a value", nullptr);
    return *std::get_if<1>(&storage_);
  }
  Error&& error() && {
    if (ok()) internal::ExpectedAccessFailure("error() of a value", nullptr);
    return std::move(*std::get_if<1>(&storage_));
  }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? *std::get_if<0>(&storage_) : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  const Error* ErrorPtr() const { return std::get_if<1>(&storage_); }

  std::variant<T, Error> storage_;
};

// Success with no value, or an Error. Default-constructed is success.
template <>
class [[nodiscard]] Expected<void> {
 public:
  Expected() = default;
  Expected(Error error)  // NOLINT(google-explicit-constructor): intended
      : error_(std::move(error)) {}

  bool ok() const noexcept { return !error_.has_value(); }

  const Error& error() const& {
    if (ok()) internal::ExpectedAccessFailure("error() of a success", nullptr);
    return *error_;
  }
  Error&& error() && {
    if (ok()) internal::ExpectedAccessFailure("error() of a success", nullptr);
    return std::move(*error_);
  }

 private:
  std::optional<Error> error_;
};

// Success, for functions returning Expected<void>: `return Ok();`.
inline Expected<void> Ok() { return {}; }

}  // namespace edgefleet::common

#define EDGEFLEET_INTERNAL_CONCAT_(a, b) a##b
#define EDGEFLEET_INTERNAL_CONCAT(a, b) EDGEFLEET_INTERNAL_CONCAT_(a, b)

// Returns the error of `expr` (an Expected of any T) from the enclosing
// function, whose return type must be constructible from an Error.
#define EDGEFLEET_RETURN_IF_ERROR(...)                                       \
  do {                                                                       \
    auto&& edgefleet_internal_result_ = (__VA_ARGS__);                       \
    if (!edgefleet_internal_result_.ok()) {                                  \
      return ::edgefleet::common::Error(edgefleet_internal_result_.error()); \
    }                                                                        \
  } while (false)

// `EDGEFLEET_ASSIGN_OR_RETURN(auto rows, conn.Query(...));` Expands to
// several statements: use it only where a statement may appear (not as the
// body of an unbraced if).
#define EDGEFLEET_ASSIGN_OR_RETURN(lhs, ...) \
  EDGEFLEET_INTERNAL_ASSIGN_OR_RETURN(       \
      EDGEFLEET_INTERNAL_CONCAT(edgefleet_internal_expected_, __LINE__), lhs, __VA_ARGS__)

#define EDGEFLEET_INTERNAL_ASSIGN_OR_RETURN(tmp, lhs, ...) \
  auto tmp = (__VA_ARGS__);                                \
  if (!tmp.ok()) return std::move(tmp).error();            \
  lhs = std::move(tmp).value()
