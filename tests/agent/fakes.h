// Fakes for the agent's interfaces, and real windows for its tests.
//
// MemoryStore is an in-memory AgentStore with the contract of the real
// buffer (provisional rows never batched, marked exactly as acknowledged).
// CountingServer is the receiving side of /api/sync: it stores each
// (kind, seq) once, acknowledges like the server's store, and counts what it
// received, so a test can check "every row exactly once".
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/agent.h"
#include "ml/dataset.h"

namespace edgefleet::agent::testing {

std::filesystem::path SourceDir();
std::vector<std::uint8_t> ShippedGoldenModel();
// The golden model with a non-empty ambiguous zone (k_low 1, k_high 2.25).
std::vector<std::uint8_t> GoldenModel();

// Real windows of the shipped recordings, sorted by the golden model's zone.
struct ZoneWindows {
  std::vector<std::vector<float>> normal, ambiguous, anomaly;
};
const ZoneWindows& WindowsByZone();

class MemoryStore : public AgentStore {
 public:
  struct Row {
    sync::InferenceRow inference;
    bool has_hard = false;
    sync::HardSampleRow hard;
    bool provisional = false;
    bool synced = false;
    bool hard_synced = false;
  };

  common::Expected<std::int64_t> Append(sync::InferenceRow row, const sync::HardSampleRow* hard,
                                        bool provisional) override;
  common::Expected<void> Complete(std::int64_t seq, const Completion& completion) override;
  common::Expected<std::size_t> ReleaseProvisional() override;
  common::Expected<std::int64_t> AppendHealth(sync::HealthRow row) override;
  common::Expected<sync::SyncBatch> BuildBatch(std::size_t byte_budget) override;
  common::Expected<void> MarkSynced(const sync::SyncBatch& sent, const sync::IngestResult& ack) override;
  common::Expected<std::int64_t> PendingRows() override;
  common::Expected<std::int64_t> CriticalPending() override;

  std::map<std::int64_t, Row> rows;  // by inference seq
  std::map<std::int64_t, sync::HealthRow> health;
  std::set<std::int64_t> health_synced;
  bool fail_appends = false;
  std::int64_t next_seq = 1;
  std::int64_t next_hard_seq = 1;
  std::map<std::int64_t, std::int64_t> hard_to_inference;
};

// Answers classify requests when told to (or at once, by `mode`).
class FakeCloud : public CloudClient {
 public:
  enum class Mode { kHold, kDown, kAnswer };
  void Classify(ClassifyRequest request, ClassifyCallback done) override;
  // Answers every held request with `answer` (or the error).
  void AnswerAll(const common::Expected<ClassifyAnswer>& answer);

  Mode mode = Mode::kAnswer;
  std::string answer_classification = "anomaly";
  std::vector<ClassifyRequest> requests;
  std::deque<ClassifyCallback> held;
};

// The receiving side of /api/sync, with the server's idempotency rule.
class CountingServer : public SyncSink {
 public:
  void Send(const sync::SyncBatch& batch, SyncCallback done) override;

  bool up = true;
  bool hold = false;  // keep the callback until Release()
  void Release();
  std::map<std::int64_t, int> inference_received;  // seq -> times received
  std::map<std::int64_t, sync::InferenceRow> inferences;
  std::map<std::int64_t, int> hard_received;
  std::map<std::int64_t, int> health_received;
  std::uint64_t batches = 0;
  std::uint64_t failures = 0;
  std::deque<std::pair<sync::IngestResult, SyncCallback>> held;
};

class RecordingTelemetry : public TelemetrySink {
 public:
  void Inference(const InferenceEvent& e) override { inferences.push_back(e); }
  void Escalation(const EscalationEvent& e) override { escalations.push_back(e); }
  void Status(const StatusReport& r) override { statuses.push_back(r); }
  std::vector<InferenceEvent> inferences;
  std::vector<EscalationEvent> escalations;
  std::vector<StatusReport> statuses;
};

}  // namespace edgefleet::agent::testing
