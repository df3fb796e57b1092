// Clock: the server's one source of wall-clock time (STYLE.md practice 4).
//
// What it is for: every timestamp the server stores or compares (escalations,
// device reports, online/stale states, log rotation names) comes from a Clock
// passed in at construction, so tests run on simulated time. Waiting (the
// background writer's batch interval) uses the real steady clock; it affects
// when rows become durable, never what is stored.
//
// Threads: NowMs() may be called from any thread; ManualClock's setters too.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace edgefleet::server {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual std::int64_t NowMs() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told to, for tests.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t now_ms) : now_ms_(now_ms) {}
  std::int64_t NowMs() const override { return now_ms_.load(std::memory_order_relaxed); }
  void Set(std::int64_t now_ms) { now_ms_.store(now_ms, std::memory_order_relaxed); }
  void Advance(std::int64_t delta_ms) { now_ms_.fetch_add(delta_ms, std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> now_ms_;
};

}  // namespace edgefleet::server
