// BackgroundWriter: takes the escalations /classify answered (and the
// device reports of hot read routes) off the request path and makes them
// durable in batches.
//
// What it is for: /classify must answer in tens of microseconds, and one
// SQLite commit with synchronous=FULL costs about a millisecond. Handlers
// Enqueue() an escalation (its log line is formatted there, on the
// handler's thread, in parallel; then a mutex, a deque push) and answer at
// once; one writer thread stores up to `batch_max` rows per transaction (four
// times that while more than four batches wait)
// (Store::InsertEscalations) and appends the same rows to the JSON-lines log
// (server/api/lines_log.h: O_DIRECT where the filesystem allows) with one
// write and, with log_fsync, one fdatasync per batch.
//
// Durability promise (docs/operations.md): a /classify reply precedes the
// durability of its escalation by at most batch_interval_ms plus the time of
// one batch's commit. The writer starts a batch when the oldest waiting row
// has waited batch_interval_ms, or when batch_max rows wait, or on Flush() /
// Stop(). A crash in that window loses the rows of that window; the device got
// its answer and does not resend (SPEC: POST /classify carries no request id,
// InsertEscalation is not idempotent).
//
// Bounded queue: Enqueue returns false when queue_capacity rows wait (the
// handler answers 503 and the device falls back, SPEC section 3) or after
// Stop(). Stop() stops accepting, drains everything queued, joins the thread.
//
// The log (one JSON object per line, the seeds' escalations.jsonl fields and
// more, docs/operations.md): the store's id, received time, device, model
// version, edge and cloud MSE, classification, label, confidence, the 300
// features (the request's own array text when the handler passes it).
// Rotation (LinesLog): before a batch would grow the file past
// log_rotate_bytes, the file is renamed to escalations-<UTC time>.jsonl
// beside it (directory fsynced) and a new one is started. The store is the
// record of truth for retraining; the log is written after the commit, so a
// crash between them can leave a row in the store that is not in the log,
// never the reverse.
//
// Store errors: a batch refused as a whole (an unknown device or an invalid
// row) is retried row by row and the refused rows are dropped, logged and
// counted; a store that is unavailable is retried (100 ms apart, up to 50
// times) before the batch is dropped the same way.
//
// Device reports (NoteReport): merged per device in memory (last seen, the
// newest values win) and written once per batch, one transaction per device.
//
// Ownership and threads: borrows Store, Clock and ApiMetrics (they outlive
// it); Enqueue, NoteReport, Flush and depth are thread-safe. The destructor
// calls Stop().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/error.h"
#include "server/api/lines_log.h"
#include "server/api/metrics.h"
#include "server/clock.h"
#include "server/store/store.h"

namespace edgefleet::server::api {

struct WriterOptions {
  std::size_t queue_capacity = 65'536;
  std::size_t batch_max = 250;
  std::int64_t batch_interval_ms = 20;
  std::string log_path;  // "": no log
  std::uint64_t log_rotate_bytes = 256ull * 1024 * 1024;
  bool log_fsync = true;
  bool log_direct = true;  // O_DIRECT where the filesystem allows it (server/api/lines_log.h)
  // The writer thread's nice value (Linux: per thread). Below the workers'
  // (0) so that the one consumer of the queue keeps up with the many
  // producers when the cores are contended; needs CAP_SYS_NICE, else the
  // thread keeps the process's priority (logged once). 0: leave it.
  int writer_nice = -5;
};

class BackgroundWriter {
 public:
  // Opens (creating its folder) the log and starts the thread.
  static common::Expected<std::unique_ptr<BackgroundWriter>> Start(store::Store& store, const Clock& clock,
                                                                   const WriterOptions& options,
                                                                   ApiMetrics& metrics);
  ~BackgroundWriter();
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  // False when the queue is full or the writer stopped; the row is dropped.
  // `features_json`, when not empty, is the features as a JSON array (the
  // request's own text) and goes into the log line as it is, line breaks
  // removed; else the floats are formatted. Read before Enqueue returns.
  bool Enqueue(store::Escalation escalation, std::string_view features_json = {});

  // Merges `report` into the device's pending report (seen_ms: the latest).
  void NoteReport(const std::string& device_id, const store::DeviceReport& report);

  // Blocks until every row enqueued and every report noted before the call
  // is written (or dropped). For tests and for shutdown.
  void Flush();

  // Stops accepting, drains, joins. Idempotent.
  void Stop();

  std::size_t depth() const;

 private:
  BackgroundWriter(store::Store& store, const WriterOptions& options, ApiMetrics& metrics,
                   std::unique_ptr<LinesLog> log);
  void Run();
  struct Pending {
    store::Escalation escalation;
    std::string line_after_id;  // its log line after `{"id":N`, formatted by Enqueue's caller
  };
  void WriteBatch(std::vector<store::Escalation>& batch, const std::vector<std::string>& lines);
  std::vector<std::int64_t> StoreBatch(std::vector<store::Escalation>& batch);
  void AppendToLog(const std::vector<std::string>& lines, const std::vector<std::int64_t>& ids);
  void WriteReports(std::map<std::string, store::DeviceReport>& reports);

  store::Store& store_;
  WriterOptions options_;
  ApiMetrics& metrics_;
  std::unique_ptr<LinesLog> log_;  // null: no log

  mutable std::mutex mu_;
  std::condition_variable wake_;      // the writer waits on it
  std::condition_variable progress_;  // Flush waits on it
  std::deque<Pending> queue_;
  std::chrono::steady_clock::time_point oldest_;  // enqueue time of queue_.front()
  std::map<std::string, store::DeviceReport> reports_;
  std::uint64_t requested_ = 0;  // generation Flush waits for
  std::uint64_t done_ = 0;       // generation written
  std::uint64_t generation_ = 0;  // bumped by every Enqueue / NoteReport
  bool flush_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace edgefleet::server::api
