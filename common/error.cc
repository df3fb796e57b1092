#include "common/error.h"

#include <cstdio>
#include <cstdlib>

namespace edgefleet::common {

const char* ToString(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kUnauthenticated: return "unauthenticated";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kFailedPrecondition: return "failed_precondition";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kAborted: return "aborted";
    case ErrorCode::kResourceExhausted: return "resource_exhausted";
    case ErrorCode::kDeadlineExceeded: return "deadline_exceeded";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kInternal: return "internal";
  }
  return "unknown";
}

std::string Error::ToString() const {
  std::string out = common::ToString(code_);
  out += ": ";
  out += message_;
  return out;
}

namespace internal {

void ExpectedAccessFailure(const char* what, const Error* error) {
  if (error != nullptr) {
    std::fprintf(stderr, "edgefleet: Expected: %s (%s)\n", what, error->ToString().c_str());
  } else {
    std::fprintf(stderr, "edgefleet: Expected: %s\n", what);
  }
  std::abort();
}

}  // namespace internal

}  // namespace edgefleet::common
