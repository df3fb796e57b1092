#include "agent/buffer_store.h"

namespace edgefleet::agent {

using common::Expected;

Expected<std::int64_t> BufferStore::Append(sync::InferenceRow row, const sync::HardSampleRow* hard,
                                           bool provisional) {
  std::vector<float> window;
  if (hard != nullptr) window = hard->window;
  EDGEFLEET_ASSIGN_OR_RETURN(const Buffer::Appended appended, buffer_.AppendInference(row, window, provisional));
  return appended.inference_seq;
}

Expected<void> BufferStore::Complete(std::int64_t inference_seq, const Completion& completion) {
  return buffer_.CompleteProvisional(inference_seq,
                                     Buffer::FinalDecision{completion.decision, completion.confidence, completion.fallback});
}

Expected<std::size_t> BufferStore::ReleaseProvisional() {
  // Open released what a previous process left; anything provisional now
  // belongs to no live escalation either (the agent calls this at start).
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t now, buffer_.ReleaseProvisional());
  return static_cast<std::size_t>(buffer_.released_at_open() + now);
}

std::size_t BufferStore::provisional() const {
  auto stats = buffer_.Stats();
  return stats.ok() ? static_cast<std::size_t>(stats.value().provisional) : 0;
}

Expected<std::int64_t> BufferStore::AppendHealth(sync::HealthRow row) { return buffer_.AppendHealth(row); }

Expected<sync::SyncBatch> BufferStore::BuildBatch(std::size_t byte_budget) {
  BatchBudget budget;
  budget.max_bytes = byte_budget;
  return buffer_.NextBatch(budget);
}

Expected<void> BufferStore::MarkSynced(const sync::SyncBatch& sent, const sync::IngestResult& ack) {
  EDGEFLEET_ASSIGN_OR_RETURN(const AckOutcome outcome, buffer_.ApplyAck(sent, ack));
  (void)outcome;
  return common::Ok();
}

Expected<std::int64_t> BufferStore::PendingRows() {
  EDGEFLEET_ASSIGN_OR_RETURN(const BufferStats stats, buffer_.Stats());
  return stats.pending_total();
}

Expected<std::int64_t> BufferStore::CriticalPending() {
  EDGEFLEET_ASSIGN_OR_RETURN(const BufferStats stats, buffer_.Stats());
  return stats.pending_critical;
}

std::int64_t BufferStore::dropped_rows() const {
  auto stats = buffer_.Stats();
  return stats.ok() ? stats.value().dropped.total() : 0;
}

void BufferStore::RecordBytesSent(const std::string& strategy, std::int64_t bytes) {
  (void)buffer_.AddBytesSent(strategy, bytes);
}

}  // namespace edgefleet::agent
