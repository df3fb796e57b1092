#include "server/api/background_writer.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/this_thread.h"

namespace edgefleet::server::api {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;

constexpr int kUnavailableRetries = 50;
constexpr std::size_t kCatchUpBatches = 4;
constexpr auto kRetryPause = std::chrono::milliseconds(100);

template <typename T>
void AppendNumber(std::string& out, T value) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, r.ptr);
}

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

// JSON text appended without its line breaks (they are whitespace to JSON,
// and would split a log line); one copy when it has none.
void AppendOnOneLine(std::string& out, std::string_view json) {
  if (json.find('\n') == std::string_view::npos && json.find('\r') == std::string_view::npos) {
    out += json;
    return;
  }
  for (const char c : json) {
    if (c != '\n' && c != '\r') out += c;
  }
}

// The log line of `e` after its id: `,"ts":...,"features":[...]}\n`. Formatted
// by the thread that enqueues (the handlers, in parallel), so that the one
// writer thread only prefixes `{"id":N` once the store gave the id.
std::string LineAfterId(const store::Escalation& e, std::string_view features_json) {
  std::string out;
  out.reserve(512 + e.features.size() * 16);
  out += ",\"ts\":";
  AppendNumber(out, static_cast<double>(e.received_ms) / 1000.0);
  out += ",\"received_ms\":";
  AppendNumber(out, e.received_ms);
  out += ",\"device_id\":";
  AppendJsonString(out, e.device_id);
  out += ",\"model_version\":";
  AppendNumber(out, e.model_version);
  out += ",\"edge_mse\":";
  AppendNumber(out, e.edge_mse);
  out += ",\"cloud_mse\":";
  AppendNumber(out, e.cloud_mse);
  out += e.label == 1 ? ",\"classification\":\"anomaly\",\"label\":1" : ",\"classification\":\"normal\",\"label\":0";
  out += ",\"confidence\":";
  AppendNumber(out, e.confidence);
  out += ",\"features\":";
  if (!features_json.empty()) {
    AppendOnOneLine(out, features_json);
    out += "}\n";
    return out;
  }
  out += '[';
  // One buffer for the numbers: each float is at most 15 characters in its
  // shortest form, plus its comma.
  std::string numbers(e.features.size() * 16 + 1, '\0');
  char* p = numbers.data();
  char* const end = numbers.data() + numbers.size();
  for (std::size_t i = 0; i < e.features.size(); ++i) {
    if (i) *p++ = ',';
    p = std::to_chars(p, end, e.features[i]).ptr;
  }
  out.append(numbers.data(), p);
  out += "]}\n";
  return out;
}

void Merge(store::DeviceReport& into, const store::DeviceReport& r) {
  into.seen_ms = std::max(into.seen_ms, r.seen_ms);
  if (r.model_version) into.model_version = r.model_version;
  if (r.firmware_version) into.firmware_version = r.firmware_version;
  if (r.ram_mb) into.ram_mb = r.ram_mb;
  if (r.buffer_depth) into.buffer_depth = r.buffer_depth;
  if (r.backoff) into.backoff = r.backoff;
  if (r.dropped_rows) into.dropped_rows = r.dropped_rows;
  if (r.health_json) into.health_json = r.health_json;
}

}  // namespace

Expected<std::unique_ptr<BackgroundWriter>> BackgroundWriter::Start(store::Store& store, const Clock& clock,
                                                                    const WriterOptions& options,
                                                                    ApiMetrics& metrics) {
  if (options.batch_max == 0 || options.batch_max > store::kMaxBatchRows) {
    return Error(ErrorCode::kInvalidArgument, "batch_max must be 1 to " + std::to_string(store::kMaxBatchRows));
  }
  std::unique_ptr<LinesLog> log;
  if (!options.log_path.empty()) {
    EDGEFLEET_ASSIGN_OR_RETURN(log, LinesLog::Open({options.log_path, options.log_rotate_bytes, options.log_fsync,
                                                    options.log_direct},
                                                   clock));
    if (!log->direct()) spdlog::info("escalation log {}: ordinary (buffered) writes", options.log_path);
  }
  return std::unique_ptr<BackgroundWriter>(new BackgroundWriter(store, options, metrics, std::move(log)));
}

BackgroundWriter::BackgroundWriter(store::Store& store, const WriterOptions& options, ApiMetrics& metrics,
                                   std::unique_ptr<LinesLog> log)
    : store_(store), options_(options), metrics_(metrics), log_(std::move(log)) {
  thread_ = std::thread([this] {
    common::NameThisThread("ef-writer");
    Run();
  });
}

BackgroundWriter::~BackgroundWriter() {
  Stop();
}

bool BackgroundWriter::Enqueue(store::Escalation escalation, std::string_view features_json) {
  // options_ is immutable; log_ belongs to the writer thread.
  std::string line = options_.log_path.empty() ? std::string() : LineAfterId(escalation, features_json);
  std::unique_lock lock(mu_);
  if (stopping_ || queue_.size() >= options_.queue_capacity) return false;
  const bool idle = queue_.empty() && reports_.empty();
  if (queue_.empty()) oldest_ = std::chrono::steady_clock::now();
  queue_.push_back(Pending{std::move(escalation), std::move(line)});
  ++generation_;
  const bool full_batch = queue_.size() == options_.batch_max;
  metrics_.escalation_queue_depth.store(static_cast<std::int64_t>(queue_.size()), std::memory_order_relaxed);
  lock.unlock();
  Inc(metrics_.escalations_queued);
  // Wake the writer only when it may be asleep without a deadline, or when a
  // batch is full: one futex call per batch, not per row.
  if (idle || full_batch) wake_.notify_one();
  return true;
}

void BackgroundWriter::NoteReport(const std::string& device_id, const store::DeviceReport& report) {
  std::unique_lock lock(mu_);
  if (stopping_) return;
  const bool idle = queue_.empty() && reports_.empty();
  if (idle) oldest_ = std::chrono::steady_clock::now();
  auto [it, inserted] = reports_.try_emplace(device_id, report);
  if (!inserted) Merge(it->second, report);
  ++generation_;
  lock.unlock();
  if (idle) wake_.notify_one();
}

void BackgroundWriter::Flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = generation_;
  if (done_ >= target) return;
  requested_ = std::max(requested_, target);
  flush_ = true;
  wake_.notify_one();
  progress_.wait(lock, [&] { return done_ >= target; });
}

void BackgroundWriter::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

std::size_t BackgroundWriter::depth() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void BackgroundWriter::Run() {
  if (options_.writer_nice != 0 &&
      ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), options_.writer_nice) != 0) {
    spdlog::info("escalation writer: cannot set nice {} ({}); it runs at the server's priority",
                 options_.writer_nice, std::strerror(errno));
  }
  std::unique_lock lock(mu_);
  bool backlog = false;
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || flush_ || !queue_.empty() || !reports_.empty(); });
    const auto urgent = [&] { return stopping_ || flush_ || queue_.size() >= options_.batch_max; };
    // A batch starts when its oldest row (or report) has waited the interval;
    // rows left behind by a full batch have waited that long already.
    if (!backlog && !urgent()) {
      wake_.wait_until(lock, oldest_ + std::chrono::milliseconds(options_.batch_interval_ms), urgent);
    }
    std::vector<store::Escalation> batch;
    std::vector<std::string> lines;
    // Behind by more than four batches (a slow disk's fsyncs, a burst): take
    // up to four at once, so that commit and fsync time does not cap how fast
    // the queue drains. Otherwise short transactions: the writer holds a core
    // for less time at a stretch, which the requests' tail latency sees.
    const std::size_t limit = queue_.size() > kCatchUpBatches * options_.batch_max
                                  ? std::min(kCatchUpBatches * options_.batch_max, store::kMaxBatchRows)
                                  : options_.batch_max;
    const std::size_t n = std::min(queue_.size(), limit);
    batch.reserve(n);
    lines.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      batch.push_back(std::move(queue_.front().escalation));
      lines.push_back(std::move(queue_.front().line_after_id));
      queue_.pop_front();
    }
    std::map<std::string, store::DeviceReport> reports;
    reports.swap(reports_);
    const std::uint64_t generation = generation_;
    const bool all = queue_.empty();
    backlog = !all;
    if (!all) oldest_ = std::chrono::steady_clock::now();
    metrics_.escalation_queue_depth.store(static_cast<std::int64_t>(queue_.size()), std::memory_order_relaxed);
    lock.unlock();

    if (!batch.empty()) WriteBatch(batch, lines);
    if (!reports.empty()) WriteReports(reports);

    lock.lock();
    if (all) done_ = std::max(done_, generation);
    if (done_ >= requested_) flush_ = false;
    progress_.notify_all();
    if (stopping_ && queue_.empty() && reports_.empty()) break;
  }
}

std::vector<std::int64_t> BackgroundWriter::StoreBatch(std::vector<store::Escalation>& batch) {
  for (int attempt = 0;; ++attempt) {
    auto ids = store_.InsertEscalations(batch);
    if (ids.ok()) return std::move(ids).value();
    const ErrorCode code = ids.error().code();
    const bool transient = code == ErrorCode::kUnavailable || code == ErrorCode::kAborted;
    if (transient && attempt < kUnavailableRetries) {
      spdlog::warn("escalation writer: {} (attempt {}), retrying", ids.error().ToString(), attempt + 1);
      std::this_thread::sleep_for(kRetryPause);
      continue;
    }
    if (transient) {
      spdlog::error("escalation writer: dropping {} escalations: {}", batch.size(), ids.error().ToString());
      Inc(metrics_.escalations_dropped, batch.size());
      return std::vector<std::int64_t>(batch.size(), 0);
    }
    break;  // refused as a whole: find the rows at fault
  }
  std::vector<std::int64_t> out;
  out.reserve(batch.size());
  for (const store::Escalation& e : batch) {
    auto id = store_.InsertEscalation(e);
    if (id.ok()) {
      out.push_back(id.value());
    } else {
      spdlog::error("escalation writer: dropping an escalation of device '{}': {}", e.device_id,
                    id.error().ToString());
      Inc(metrics_.escalations_dropped);
      out.push_back(0);
    }
  }
  return out;
}

void BackgroundWriter::WriteBatch(std::vector<store::Escalation>& batch, const std::vector<std::string>& lines) {
  const std::vector<std::int64_t> ids = StoreBatch(batch);
  std::uint64_t stored = 0;
  for (const std::int64_t id : ids) stored += id != 0 ? 1 : 0;
  Inc(metrics_.escalations_stored, stored);
  Inc(metrics_.escalation_batches);
  if (log_ && stored > 0) AppendToLog(lines, ids);
}

void BackgroundWriter::AppendToLog(const std::vector<std::string>& lines, const std::vector<std::int64_t>& ids) {
  // Each line goes out as two pieces, its `{"id":N` prefix and the text the
  // handler formatted: the log gathers them into one write.
  std::string prefixes;
  prefixes.reserve(lines.size() * 32);  // never reallocates: the pieces point into it
  std::vector<std::string_view> pieces;
  pieces.reserve(lines.size() * 2);
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (ids[i] == 0) continue;
    const std::size_t start = prefixes.size();
    prefixes += "{\"id\":";
    AppendNumber(prefixes, ids[i]);
    pieces.emplace_back(prefixes.data() + start, prefixes.size() - start);
    pieces.emplace_back(lines[i]);
    bytes += prefixes.size() - start + lines[i].size();
  }
  auto appended = log_->Append(pieces);
  if (!appended.ok()) {
    spdlog::error("escalation log: {}", appended.error().ToString());
    Inc(metrics_.escalation_log_errors);
    return;
  }
  if (appended->became_buffered) {
    spdlog::info("escalation log {}: the filesystem refused a direct write; ordinary (buffered) writes from now on",
                 options_.log_path);
  }
  if (!appended->rotate_error.empty()) {
    spdlog::error("escalation log: rotating: {}", appended->rotate_error);
    Inc(metrics_.escalation_log_errors);
  }
  if (!appended->rotated_to.empty()) {
    Inc(metrics_.escalation_log_rotations);
    spdlog::info("escalation log rotated to {}", appended->rotated_to);
  }
  Inc(metrics_.escalation_log_bytes, bytes);
}

void BackgroundWriter::WriteReports(std::map<std::string, store::DeviceReport>& reports) {
  for (const auto& [device, report] : reports) {
    if (auto r = store_.RecordDeviceReport(device, report); !r.ok()) {
      spdlog::warn("device report of '{}' not stored: {}", device, r.error().ToString());
    }
  }
}

}  // namespace edgefleet::server::api
