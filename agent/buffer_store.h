// BufferStore: the AgentStore over the SQLite buffer (agent/buffer.h).
//
// What it is for: the binary and the simulator give the Agent this adapter,
// so every decision lands in the device's record of truth.
//
// Provisional rows (escalations in flight) are held here, in memory, and
// written to the buffer when Complete() gives their final decision: the
// buffer has no notion of a provisional row, and a row in it may go to the
// server at any moment, so a provisional decision must never reach it. The
// price: a kill -9 or power loss while an escalation is in flight (at most
// the escalation timeout, 5 s) loses those ambiguous windows. A clean stop
// (Agent::Shutdown) decides them first, so nothing is lost then.
// docs/agent.md, "Escalation", says what the buffer would need to close
// that gap (a provisional flag that NextBatch skips, an update, and a release
// at open). Provisional seqs are negative (-1, -2, ...), so they cannot be
// confused with the buffer's.
//
// Ownership: borrows the Buffer, which must outlive it. Threads: the agent's
// loop thread (the Buffer itself is thread-safe).
#pragma once

#include <map>
#include <vector>

#include "agent/agent_store.h"
#include "agent/buffer.h"

namespace edgefleet::agent {

class BufferStore final : public AgentStore {
 public:
  explicit BufferStore(Buffer& buffer) : buffer_(buffer) {}

  common::Expected<std::int64_t> Append(sync::InferenceRow row, const sync::HardSampleRow* hard,
                                        bool provisional) override;
  common::Expected<void> Complete(std::int64_t inference_seq, const Completion& completion) override;
  common::Expected<std::size_t> ReleaseProvisional() override;
  common::Expected<std::int64_t> AppendHealth(sync::HealthRow row) override;
  common::Expected<sync::SyncBatch> BuildBatch(std::size_t byte_budget) override;
  common::Expected<void> MarkSynced(const sync::SyncBatch& sent, const sync::IngestResult& ack) override;
  common::Expected<std::int64_t> PendingRows() override;
  common::Expected<std::int64_t> CriticalPending() override;
  std::int64_t dropped_rows() const override;
  void RecordBytesSent(const std::string& strategy, std::int64_t bytes) override;

  std::size_t provisional() const { return provisional_.size(); }

 private:
  struct Provisional {
    sync::InferenceRow row;
    std::vector<float> window;  // empty: no hard sample
  };
  Buffer& buffer_;
  std::map<std::int64_t, Provisional> provisional_;
  std::int64_t next_provisional_ = -1;
};

}  // namespace edgefleet::agent
