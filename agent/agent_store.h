// AgentStore: what the agent needs from its store-and-forward buffer (SPEC
// section 7), as a narrow interface.
//
// What it is for: every inference becomes a row here before anything else
// happens to it, so nothing the device collected is lost if the process dies
// or the network is down. The real implementation is an adapter over the
// SQLite buffer (agent/buffer, buffer_store.h); tests use an in-memory one.
//
// Provisional rows (the escalation design, docs/agent.md "Escalation"): an
// ambiguous window is appended at once with its fallback decision
// (closer threshold, fallback = true) and its hard sample, both flagged
// provisional. A provisional row is never put in a sync batch.
// Complete() replaces the decision with the cloud's (fallback = false) or
// confirms the fallback, and clears the flag. After a crash, the agent calls
// ReleaseProvisional() at start: the rows keep the fallback decision they were
// stored with, which is then true (the cloud never answered this process).
//
// Ownership: the caller owns the store. Threads: the agent's loop thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/sync_batch.h"

namespace edgefleet::agent {

struct Completion {
  std::string decision;  // final decision
  double confidence = 0;
  bool fallback = false;
};

class AgentStore {
 public:
  virtual ~AgentStore() = default;

  // Appends an inference row (and a hard sample when `hard` is non-null),
  // atomically; returns the inference row's seq. The rows' seq fields are
  // assigned by the store.
  virtual common::Expected<std::int64_t> Append(sync::InferenceRow row, const sync::HardSampleRow* hard,
                                                bool provisional) = 0;
  // Finishes a provisional inference row and its hard sample.
  virtual common::Expected<void> Complete(std::int64_t inference_seq, const Completion& completion) = 0;
  // Clears every provisional flag left by a previous process.
  virtual common::Expected<std::size_t> ReleaseProvisional() = 0;

  virtual common::Expected<std::int64_t> AppendHealth(sync::HealthRow row) = 0;

  // A batch of unsynced, non-provisional rows under `byte_budget` (hard
  // samples first, then recent, then old metadata).
  virtual common::Expected<sync::SyncBatch> BuildBatch(std::size_t byte_budget) = 0;
  // Marks synced exactly the rows of `sent` that the acknowledgement names
  // (stored or already present); the rest stay pending.
  virtual common::Expected<void> MarkSynced(const sync::SyncBatch& sent, const sync::IngestResult& ack) = 0;
  // Bandwidth accounting per sync strategy (SPEC section 7).
  virtual void RecordBytesSent(const std::string& /*strategy*/, std::int64_t /*bytes*/) {}

  // Unsynced rows (all kinds), and unsynced critical rows (anomalies), for
  // the sync strategy.
  virtual common::Expected<std::int64_t> PendingRows() = 0;
  virtual common::Expected<std::int64_t> CriticalPending() = 0;
  // Rows dropped by the disk budget since the store was created.
  virtual std::int64_t dropped_rows() const { return 0; }
};

}  // namespace edgefleet::agent
