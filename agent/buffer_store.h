// BufferStore: the AgentStore over the SQLite buffer (agent/buffer.h).
//
// What it is for: the binary and the simulator give the Agent this adapter,
// so every decision lands in the device's record of truth.
//
// Provisional rows (escalations in flight) are written to the buffer at once,
// flagged provisional (agent/buffer.h, "Provisional rows"): the buffer never
// batches them, Complete() makes them final, and a kill -9 or power loss
// while an escalation is in flight loses nothing: the next Buffer::Open
// releases them as fallbacks (ReleaseProvisional() reports how many).
//
// Ownership: borrows the Buffer, which must outlive it. Threads: the agent's
// loop thread (the Buffer itself is thread-safe).
#pragma once

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

  // Provisional rows in the buffer now.
  std::size_t provisional() const;

 private:
  Buffer& buffer_;
};

}  // namespace edgefleet::agent
