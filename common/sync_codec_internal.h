// Internals shared by the files of the sync codec (common/sync_codec*.cc);
// not part of its API. Threads: pure functions and per-call objects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/sync_codec.h"

namespace edgefleet::sync_codec::internal {

using common::Error;
using common::ErrorCode;

inline Error Invalid(std::string message) {
  return Error(ErrorCode::kInvalidArgument, std::move(message));
}

// The checks of ValidateSyncMessage; `allow_empty_id` for the seeds' shape.
Expected<void> Validate(const SyncMessage& message, bool allow_empty_id);
Expected<void> CheckStatsJson(std::string_view json);

// The two encodings, without compression.
std::string EncodeJson(const SyncMessage& message);
Expected<SyncMessage> DecodeJson(std::string_view body);
std::string EncodeColumnar(const SyncMessage& message, FloatPrecision precision);
Expected<SyncMessage> DecodeColumnar(std::string_view body);

// IEEE-754 binary16 conversions (round to nearest even).
std::uint16_t FloatToHalf(float value);
float HalfToFloat(std::uint16_t half);

inline std::uint64_t ZigZag(std::int64_t v) {
  return (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63);
}
inline std::int64_t UnZigZag(std::uint64_t v) {
  return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
}

// Appends little-endian fixed-width values and LEB128 varints.
class ByteWriter {
 public:
  void Byte(std::uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void Varint(std::uint64_t v) {
    while (v >= 0x80) {
      Byte(static_cast<std::uint8_t>(v | 0x80));
      v >>= 7;
    }
    Byte(static_cast<std::uint8_t>(v));
  }
  void Signed(std::int64_t v) { Varint(ZigZag(v)); }
  void Bytes(std::string_view s) { out_.append(s); }
  void String(std::string_view s) {
    Varint(s.size());
    Bytes(s);
  }
  std::string Take() { return std::move(out_); }
  std::size_t size() const { return out_.size(); }

 private:
  std::string out_;
};

// Reads what ByteWriter wrote; every read is bounds-checked and a failure is
// sticky (later reads fail too), so callers check ok() at the end of a
// section and before using a count to allocate.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  bool ok() const { return ok_; }
  std::size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }
  bool at_end() const { return ok_ && pos_ == in_.size(); }
  void Invalidate() { ok_ = false; }

  std::uint8_t Byte() {
    if (!ok_ || pos_ >= in_.size()) return Fail<std::uint8_t>();
    return static_cast<std::uint8_t>(in_[pos_++]);
  }
  std::uint64_t Varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      const std::uint8_t b = Byte();
      if (!ok_) return 0;
      if (shift == 63 && b > 1) return Fail<std::uint64_t>();  // beyond 64 bits
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return Fail<std::uint64_t>();
  }
  std::int64_t Signed() { return UnZigZag(Varint()); }
  // A count or length that must not exceed `max` (checked before any use).
  std::size_t Count(std::size_t max) {
    const std::uint64_t v = Varint();
    if (!ok_ || v > max) return Fail<std::size_t>();
    return static_cast<std::size_t>(v);
  }
  std::string_view Bytes(std::size_t n) {
    if (!ok_ || n > in_.size() - pos_) return Fail<std::string_view>();
    std::string_view s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::string_view String(std::size_t max) { return Bytes(Count(max)); }

 private:
  template <typename T>
  T Fail() {
    ok_ = false;
    return T{};
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace edgefleet::sync_codec::internal
