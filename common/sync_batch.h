// The rows a device syncs to the server (SPEC section 7), shared by the
// agent's buffer and sync codec (agent/, common/sync_codec.h) and the
// server's store (server/store/store.h), so both sides speak one vocabulary.
//
// Each row carries a sequence number the device assigned (its buffer's row
// id), unique per (device, kind). A row whose (device, kind, seq) is stored
// already is not stored again: the first stored content wins, and the batch
// acknowledgement lists it as already present.
//
// Threads: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "common/error.h"

namespace edgefleet::sync {

// A window: 100 samples x 3 axes (SPEC section 2).
inline constexpr std::size_t kWindowValues = 300;

struct InferenceRow {
  std::int64_t seq = 0;  // >= 0
  std::int64_t ts_ms = 0;
  std::int64_t model_version = 0;
  std::string decision;  // e.g. "normal", "anomaly"; 1..32 bytes
  double confidence = 0;
  double mse = 0;
  std::int64_t latency_us = 0;
  std::string input_hash;
  bool fallback = false;  // decided locally because the cloud was unreachable

  friend bool operator==(const InferenceRow&, const InferenceRow&) = default;
};

struct HardSampleRow {
  std::int64_t seq = 0;
  std::int64_t ts_ms = 0;
  std::int64_t model_version = 0;
  std::vector<float> window;  // kWindowValues finite values
  double edge_mse = 0;
  double confidence = 0;
  std::string decision;
  bool fallback = false;

  friend bool operator==(const HardSampleRow&, const HardSampleRow&) = default;
};

struct HealthRow {
  std::int64_t seq = 0;
  std::int64_t model_version = 0;
  std::int64_t period_start_ms = 0;
  std::int64_t period_end_ms = 0;  // >= period_start_ms
  std::string stats_json;          // a JSON object

  friend bool operator==(const HealthRow&, const HealthRow&) = default;
};

struct SyncBatch {
  std::vector<InferenceRow> inferences;
  std::vector<HardSampleRow> hard_samples;
  std::vector<HealthRow> health;
};

// Sequence numbers of one kind, in the order they appeared in the batch.
struct SeqAck {
  std::vector<std::int64_t> stored;           // newly stored by this call
  std::vector<std::int64_t> already_present;  // stored by an earlier call

  friend bool operator==(const SeqAck&, const SeqAck&) = default;
};

struct IngestResult {
  SeqAck inferences;
  SeqAck hard_samples;
  SeqAck health;
};

// Every row's seq is >= 0 and appears once in `rows` (one kind of a
// batch); kInvalidArgument naming `kind` otherwise. The codec and the store
// both check it.
template <typename RowT>
common::Expected<void> CheckUniqueSeqs(std::string_view kind, const std::vector<RowT>& rows) {
  std::unordered_set<std::int64_t> seen;
  seen.reserve(rows.size());
  for (const RowT& row : rows) {
    if (row.seq < 0) return common::Error(common::ErrorCode::kInvalidArgument, std::string(kind) + ": negative seq");
    if (!seen.insert(row.seq).second) {
      return common::Error(common::ErrorCode::kInvalidArgument,
                           std::string(kind) + ": seq " + std::to_string(row.seq) + " appears twice");
    }
  }
  return common::Ok();
}

}  // namespace edgefleet::sync
