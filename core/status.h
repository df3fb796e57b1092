// Status: the core's one error vocabulary.
//
// The core is freestanding (no exceptions, no heap), so every fallible call
// returns a Status, or a Result<T> that pairs one with a value. Both are
// [[nodiscard]]: a caller cannot silently drop an error.
#pragma once

#include <cstdint>

namespace edgefleet::core {

enum class [[nodiscard]] Status : std::uint8_t {
  kOk = 0,
  kTruncated,           // buffer shorter than a header, a section or total_size
  kBadMagic,            // not an edgefleet model artifact
  kUnsupportedVersion,  // format version this core does not read
  kBadCrc,              // integrity check failed
  kBadSize,             // a size or count field out of its documented bounds
  kBadHeader,           // a header field (id, flags, reserved, shape) invalid
  kBadSection,          // unknown, misaligned, duplicate or overlapping section
  kMissingSection,      // a required section is absent
  kBadPreprocessing,    // preprocessing parameters invalid
  kBadShape,            // layers that do not chain, or do not match the features
  kBadQuantization,     // scale, zero point, multiplier or bias out of range
  kBadThresholds,       // thresholds not finite or not ordered
  kMisaligned,          // artifact buffer not 4-byte aligned
  kArenaTooSmall,       // caller's arena cannot hold what the model needs
  kBadInput,            // a window of the wrong length or with non-finite values
  kBadArgument,         // a caller's argument outside the documented contract
};

// A stable, human-readable name ("ok", "bad_crc", ...). Never null.
const char* ToString(Status status);

// A value with the status that produced it. `value` is meaningful only when
// ok(); on error it holds a default-constructed T.
template <class T>
struct [[nodiscard]] Result {
  Status status = Status::kOk;
  T value{};

  constexpr bool ok() const { return status == Status::kOk; }
};

}  // namespace edgefleet::core
