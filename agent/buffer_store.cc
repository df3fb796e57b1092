#include "agent/buffer_store.h"

namespace edgefleet::agent {

using common::Error;
using common::ErrorCode;
using common::Expected;

Expected<std::int64_t> BufferStore::Append(sync::InferenceRow row, const sync::HardSampleRow* hard,
                                           bool provisional) {
  std::vector<float> window;
  if (hard != nullptr) window = hard->window;
  if (provisional) {
    const std::int64_t id = next_provisional_--;
    provisional_[id] = Provisional{std::move(row), std::move(window)};
    return id;
  }
  EDGEFLEET_ASSIGN_OR_RETURN(const Buffer::Appended appended, buffer_.AppendInference(row, window));
  return appended.inference_seq;
}

Expected<void> BufferStore::Complete(std::int64_t inference_seq, const Completion& completion) {
  const auto it = provisional_.find(inference_seq);
  if (it == provisional_.end()) return Error(ErrorCode::kNotFound, "no provisional row with that seq");
  Provisional p = std::move(it->second);
  provisional_.erase(it);
  p.row.decision = completion.decision;
  p.row.confidence = completion.confidence;
  p.row.fallback = completion.fallback;
  EDGEFLEET_ASSIGN_OR_RETURN(const Buffer::Appended appended, buffer_.AppendInference(p.row, p.window));
  (void)appended;
  return common::Ok();
}

Expected<std::size_t> BufferStore::ReleaseProvisional() {
  // Nothing provisional survives a process: they were never in the buffer.
  return std::size_t{0};
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
