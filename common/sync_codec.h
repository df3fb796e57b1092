// The wire format of POST /api/sync (SPEC sections 4 and 7): what a device
// sends (its id, a batch of buffered rows, its reported state) and what the
// server answers (an acknowledgement naming exactly the rows it holds).
//
// What it is for: the agent's sync client encodes a SyncMessage from its
// buffer (agent/buffer.h) and decodes the acknowledgement; the server's
// /api/sync route decodes the message and encodes the acknowledgement of
// store::Store::IngestBatch. Both sides link only this library (it depends on
// zstd and simdjson, never on server/ or agent/). Byte-by-byte and
// key-by-key layouts are in docs/api/sync.md.
//
// Two encodings of one message, either optionally zstd-compressed
// (`Content-Encoding: zstd`):
//   - JSON (`Content-Type: application/json`): row objects with the field
//     names of common/sync_batch.h. The seeds' batch shape
//     (`{"metadata": [...], "hard_samples": [...]}` from their
//     get_sync_batch) is accepted too and mapped onto the rows.
//   - columnar (`Content-Type: application/x-edgefleet-sync`): per column,
//     delta-coded varints for sequence numbers and times, a dictionary for
//     decisions, byte planes for floats, int16 sensor counts for windows that
//     are exact multiples of the sensor step; built to compress well.
//
// Decoding is a trust boundary: every size is checked before anything is
// allocated from it, and every limit below (DecodeLimits) is enforced. Bad
// input is a kInvalidArgument Error with one sentence (kResourceExhausted when
// a size limit is exceeded); no input makes it crash, loop or allocate without
// bound. A decoded message satisfies every rule the store checks
// (docs/storage.md, "Limits"), so a batch that decodes is one the store takes.
//
// Round trips: Decode(Encode(m)) == m for any valid message in the JSON form
// and in the columnar form with FloatPrecision::kExact (JSON returns a health
// row's stats object minified, as simdjson writes it; columnar returns its
// bytes). FloatPrecision::kHalf
// (columnar only) rounds the confidences and MSEs of inference rows to IEEE
// half precision (about 3 significant digits) for the smallest messages; hard
// samples are always exact.
//
// Threads: pure functions; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/sync_batch.h"
#include "common/text.h"

namespace edgefleet::sync_codec {

template <typename T>
using Expected = common::Expected<T>;

inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kColumnarContentType = "application/x-edgefleet-sync";
inline constexpr std::string_view kZstdEncoding = "zstd";

// Bytes a sync strategy has sent (SPEC section 7: bandwidth per strategy).
struct StrategyBytes {
  std::string strategy;  // "periodic", "event", "opportunistic", "batched", "adaptive"
  std::int64_t bytes = 0;

  friend bool operator==(const StrategyBytes&, const StrategyBytes&) = default;
};

// What the device reports about itself with each sync. All counts >= 0 and
// cumulative since the buffer was created (the server keeps the latest).
struct DeviceState {
  std::optional<std::int64_t> model_version;  // the model the device runs now
  std::int64_t buffer_depth = 0;              // rows pending in the buffer, all kinds
  std::int64_t dropped_inferences = 0;        // rows the buffer dropped, by kind
  std::int64_t dropped_hard_samples = 0;
  std::int64_t dropped_health = 0;
  std::int64_t backoff_failures = 0;          // consecutive cloud failures
  std::int64_t backoff_delay_ms = 0;          // the current backoff wait
  std::vector<StrategyBytes> bytes_sent;      // at most kMaxStrategies entries, distinct names

  std::int64_t dropped_total() const {
    return dropped_inferences + dropped_hard_samples + dropped_health;
  }
  friend bool operator==(const DeviceState&, const DeviceState&) = default;
};

struct SyncMessage {
  // 1..128 bytes of [A-Za-z0-9-_.:]. Empty only when decoded from the seeds'
  // shape, which carries none: the server then names the device itself.
  std::string device_id;
  std::optional<DeviceState> state;  // unset: the sender reported nothing (seeds' shape)
  sync::SyncBatch batch;

  friend bool operator==(const SyncMessage& a, const SyncMessage& b) {
    return a.device_id == b.device_id && a.state == b.state &&
           a.batch.inferences == b.batch.inferences && a.batch.hard_samples == b.batch.hard_samples &&
           a.batch.health == b.batch.health;
  }
};

enum class SyncFormat : std::uint8_t { kJson, kColumnar };

enum class FloatPrecision : std::uint8_t {
  kExact,  // float32 where that is exact for every value of a column, else float64
  kHalf,   // columnar only: inference confidence and MSE as float16 (lossy), the rest exact
};

struct EncodeOptions {
  FloatPrecision precision = FloatPrecision::kExact;
  int zstd_level = 9;  // 1..19
};

// Limits of the decoder. The defaults match the store's (docs/storage.md).
inline constexpr std::size_t kMaxRowsPerKind = 10'000;
inline constexpr std::size_t kMaxDecisionBytes = 32;
inline constexpr std::size_t kMaxTextBytes = 256;       // input hashes, strategy names
inline constexpr std::size_t kMaxStatsJsonBytes = 64 * 1024;
inline constexpr std::size_t kMaxDeviceIdBytes = common::kMaxDeviceIdBytes;
inline constexpr std::size_t kMaxStrategies = 16;
inline constexpr std::size_t kMaxDecodedBytes = 16 * 1024 * 1024;  // after zstd, before parsing

// The body of a message. `content_type` may carry parameters
// ("application/json; charset=utf-8"); `content_encoding` is "" (identity)
// or "zstd". Anything else is kInvalidArgument.
Expected<SyncMessage> DecodeSyncMessage(std::string_view body, std::string_view content_type,
                                        std::string_view content_encoding);

// Encodes a message; kInvalidArgument if it breaks a rule the decoder checks
// (so nothing is sent that the server must refuse).
Expected<std::string> EncodeSyncMessage(const SyncMessage& message, SyncFormat format, bool zstd,
                                        const EncodeOptions& options = {});

// The Content-Type of a format.
std::string_view ContentType(SyncFormat format);

// The acknowledgement: JSON, {"inferences": {"stored": R, "already_present": R},
// "hard_samples": {...}, "health": {...}} where R lists inclusive ranges
// [[first, last], ...] of consecutive sequence numbers in the batch's order.
std::string EncodeSyncAck(const sync::IngestResult& result);
Expected<sync::IngestResult> DecodeSyncAck(std::string_view body);

// Checks what the decoder checks, for a message built in memory.
Expected<void> ValidateSyncMessage(const SyncMessage& message);

}  // namespace edgefleet::sync_codec
