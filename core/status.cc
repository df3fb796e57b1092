#include "core/status.h"

namespace edgefleet::core {

const char* ToString(Status status) {
  switch (status) {
    case Status::kOk: return "ok";
    case Status::kTruncated: return "truncated";
    case Status::kBadMagic: return "bad_magic";
    case Status::kUnsupportedVersion: return "unsupported_version";
    case Status::kBadCrc: return "bad_crc";
    case Status::kBadSize: return "bad_size";
    case Status::kBadHeader: return "bad_header";
    case Status::kBadSection: return "bad_section";
    case Status::kMissingSection: return "missing_section";
    case Status::kBadPreprocessing: return "bad_preprocessing";
    case Status::kBadShape: return "bad_shape";
    case Status::kBadQuantization: return "bad_quantization";
    case Status::kBadThresholds: return "bad_thresholds";
    case Status::kMisaligned: return "misaligned";
    case Status::kArenaTooSmall: return "arena_too_small";
    case Status::kBadInput: return "bad_input";
    case Status::kBadArgument: return "bad_argument";
  }
  return "unknown";
}

}  // namespace edgefleet::core
