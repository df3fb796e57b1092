// Buffer: the device's store-and-forward buffer (SPEC section 7), one SQLite
// file that is the device's record of truth for everything it has not yet
// handed to the server.
//
// What it is for: the agent's inference loop appends every inference (and a
// hard sample, with its raw window, for every window whose confidence is below
// 0.7); the sync scheduler asks for the next batch under a byte budget
// (priority: hard samples, then health rows, then inference logs newest
// first, so recent logs go before old ones), sends it (common/sync_codec.h),
// and hands the server's acknowledgement back. A row is marked synced only
// when the acknowledgement names it as stored or already present; every other
// row stays pending and goes again. Health statistics per model version are
// computed here from the log (CloseHealthPeriod) and synced as health rows.
//
// Sequence numbers: each kind has its own, assigned at append time
// (SQLite AUTOINCREMENT), increasing and never reused even after rows are
// deleted, so the server's (device, kind, seq) identity is stable for the
// buffer's life.
//
// Durability (docs/agent-buffer.md): WAL journal. With Durability::kNormal
// (the default) a commit survives a crash or kill of the process; a power
// loss may undo the last commits, which is safe here: an undone append is a
// row that was never acknowledged to anyone, and an undone "synced" mark makes
// the row go again, which the server's idempotent ingest absorbs (it answers
// "already present"). Durability::kFull fsyncs every commit (no undo on power
// loss, at one flash write per inference).
//
// Provisional rows (an escalation in flight, docs/agent.md "Escalation"): an
// inference row appended provisional (with its fallback decision) and its
// hard sample are durable at once but never in a batch, never counted as
// pending and never dropped by the budget, until CompleteProvisional gives
// the final decision (or confirms the fallback). Open releases the ones a
// previous process left (a kill -9 or power loss mid-escalation): they become
// final with the fallback decision they were stored with, marked fallback,
// and keep their hard sample; they are counted (BufferStats).
//
// Disk budget and drop policy: when the database's used pages exceed
// options.disk_budget_bytes, rows are removed until it is under 90% of the
// budget, in this order: (1) synced rows of every kind, oldest first (already
// delivered: counted as pruned, not dropped); (2) pending inference logs,
// oldest first (the low-value metadata); (3) pending hard samples, oldest
// first; (4) pending health rows, oldest first. Every row of (2)-(4) is
// counted as dropped, by kind, persistently, and reported (Stats, and the
// device state of every sync message). Nothing is dropped silently.
//
// Errors: kIo / kUnavailable from SQLite, kCorrupt for a file that is not a
// buffer or fails its checks, kFailedPrecondition for a buffer whose schema
// is newer than this code, kInvalidArgument for rows that break the sync
// limits (common/sync_codec.h), which are refused rather than stored.
//
// Ownership and threads: Open returns the sole owner. All methods are
// thread-safe (one internal mutex over one connection), so the inference
// thread may append while the sync thread builds batches. The buffer reads no
// clock: every time is passed in (milliseconds since the Unix epoch).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/sync_batch.h"
#include "common/sync_codec.h"

namespace edgefleet::agent {

template <typename T>
using Expected = common::Expected<T>;

enum class Durability : std::uint8_t {
  kNormal,  // PRAGMA synchronous=NORMAL: crash-safe; power loss may undo the last commits
  kFull,    // PRAGMA synchronous=FULL: every commit fsynced
};

// Which inference rows carry their input hash to the server. The hash is
// always kept in the local log; on the wire 8 incompressible bytes would be
// most of a row (docs/api/sync.md), so by default only the rows of uncertain
// windows (confidence below 0.7, the ones with a hard sample or an
// escalation to match) carry it.
enum class SyncHash : std::uint8_t { kAll, kUncertain, kNone };

struct BufferOptions {
  std::int64_t disk_budget_bytes = 64 * 1024 * 1024;
  SyncHash sync_input_hash = SyncHash::kUncertain;
  Durability durability = Durability::kNormal;
  // Decisions that make an inference row critical (event-driven sync).
  std::vector<std::string> critical_decisions = {"anomaly"};
};

// A byte budget for one batch. Row sizes are estimated as their columnar
// encoding before compression (an upper bound of what they add on the wire):
// EstimatedRowBytes below.
struct BatchBudget {
  std::size_t max_bytes = 256 * 1024;
  std::size_t max_rows_per_kind = sync_codec::kMaxRowsPerKind;
};

// Windows with a confidence below this are kept as hard samples (SPEC section
// 7; core::kHardSampleConfidence).
inline constexpr double kHardSampleConfidence = 0.7;

inline constexpr std::size_t kEstimatedInferenceBytes = 32;   // + the input hash
inline constexpr std::size_t kEstimatedHardSampleBytes = 1232;
inline constexpr std::size_t kEstimatedHealthBytes = 32;      // + the stats JSON

struct DropCounts {
  std::int64_t inferences = 0;
  std::int64_t hard_samples = 0;
  std::int64_t health = 0;

  std::int64_t total() const { return inferences + hard_samples + health; }
  friend bool operator==(const DropCounts&, const DropCounts&) = default;
};

struct BufferStats {
  std::int64_t pending_inferences = 0;
  std::int64_t pending_hard_samples = 0;
  std::int64_t pending_health = 0;
  std::int64_t pending_critical = 0;    // pending inference rows with a critical decision
  std::int64_t synced_rows_kept = 0;    // synced rows not yet pruned, all kinds
  std::int64_t pruned_synced = 0;       // synced rows removed by the disk budget (not a loss)
  DropCounts dropped;                   // pending rows removed by the disk budget (a loss)
  std::int64_t used_bytes = 0;          // the database's used pages
  std::int64_t unclean_restarts = 0;    // opens that found the previous process had not closed
  std::int64_t provisional = 0;         // inference rows waiting for CompleteProvisional (not pending)
  std::int64_t released_provisional = 0;  // provisional rows released as fallbacks, all opens

  std::int64_t pending_total() const { return pending_inferences + pending_hard_samples + pending_health; }
};

// What ApplyAck did.
struct AckOutcome {
  std::int64_t marked_synced = 0;    // rows of the batch the ack named (stored or already present)
  std::int64_t still_pending = 0;    // rows of the batch the ack did not name
  std::int64_t ignored = 0;          // seqs the ack named that were not in the batch
};

class Buffer {
 public:
  // Opens (creating if needed) and migrates the buffer at `path` (its
  // directory must exist).
  static Expected<std::unique_ptr<Buffer>> Open(const std::filesystem::path& path,
                                                const BufferOptions& options = {});
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Records a clean shutdown (the next Open counts no unclean restart) and
  // closes. The destructor closes without recording it.
  Expected<void> Close();

  // Appends one inference (row.seq is ignored and assigned) and returns its
  // seq. A row whose confidence is below core::kHardSampleConfidence (0.7)
  // and that comes with its window also gets a hard sample in the same
  // transaction (pass an empty window for none). Then applies the disk
  // budget. A `provisional` row (see "Provisional rows") keeps a hard sample
  // whenever a window is given; CompleteProvisional decides it.
  struct Appended {
    std::int64_t inference_seq = 0;
    std::int64_t hard_sample_seq = -1;  // -1: none
  };
  Expected<Appended> AppendInference(const sync::InferenceRow& row, const std::vector<float>& window,
                                     bool provisional = false);

  // Makes a provisional inference row final, in one transaction: its
  // decision, confidence, fallback flag (and critical flag) become these; its
  // hard sample, if any, takes them too when the confidence is below 0.7 and
  // is removed otherwise (never synced, so nothing is lost). kNotFound when
  // the row is not provisional (never was, completed, or released).
  struct FinalDecision {
    std::string decision;
    double confidence = 0;
    bool fallback = false;
  };
  Expected<void> CompleteProvisional(std::int64_t inference_seq, const FinalDecision& final_decision);

  // Releases every provisional row now (Open does it for those a previous
  // process left): final with their stored fallback decision, fallback = 1,
  // hard samples kept. Returns the inference rows released.
  Expected<std::int64_t> ReleaseProvisional();
  // The rows Open released.
  std::int64_t released_at_open() const;

  // Appends a health row (seq assigned) and returns its seq.
  Expected<std::int64_t> AppendHealth(const sync::HealthRow& row);

  // Health counters the log cannot show, for the current period.
  Expected<void> RecordError(std::int64_t model_version);

  // Closes the health period that began at the previous close (or the first
  // open): per model version with activity in [start, now_ms), one health
  // row whose stats JSON holds inferences, errors, unclean_restarts,
  // latency_p50_us, latency_p95_us, escalation_rate (confidence < 0.7),
  // fallback_rate and anomaly_rate. Returns the rows appended (possibly none).
  Expected<std::vector<sync::HealthRow>> CloseHealthPeriod(std::int64_t now_ms);

  // The next batch of pending rows under `budget`: hard samples (least
  // confident first), then health rows (oldest first), then inference rows
  // (newest first). A batch is never empty while rows are pending, even if
  // the first row alone exceeds the budget. Within the batch each kind is in
  // seq order (so the acknowledgement's ranges are few).
  Expected<sync::SyncBatch> NextBatch(const BatchBudget& budget);

  // Marks synced the rows of `sent` that `ack` names (stored or already
  // present), in one transaction. Seqs the ack names that were not sent are
  // ignored; sent rows it does not name stay pending.
  Expected<AckOutcome> ApplyAck(const sync::SyncBatch& sent, const sync::IngestResult& ack);

  // Bandwidth per sync strategy, persistent and cumulative.
  Expected<void> AddBytesSent(std::string_view strategy, std::int64_t bytes);
  Expected<std::vector<sync_codec::StrategyBytes>> BytesSent();

  Expected<BufferStats> Stats();

  // The device state for a sync message: buffer depth, drops, bytes per
  // strategy (the caller fills in the model version and backoff).
  Expected<sync_codec::DeviceState> ReportState();

  // The schema version this code writes.
  static int SchemaVersion();

 private:
  struct Impl;
  explicit Buffer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A 64-bit FNV-1a hash of the window's float32 bytes as 16 lowercase hex
// digits: the input_hash the agent logs (the columnar encoding sends it as 8
// raw bytes).
std::string InputHash(const std::vector<float>& window);

}  // namespace edgefleet::agent
