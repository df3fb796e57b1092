// Clock: the agent's only source of time (STYLE.md practice 4).
//
// What it is for: the agent asks a Clock for monotonic time (timers, backoff,
// latency) and wall time (row timestamps); it never calls std::chrono's clocks
// itself, so a test drives hours of agent life with a SimClock in
// microseconds of real time and gets the same answers every run.
//
// Ownership: the caller owns the Clock and keeps it alive longer than every
// agent using it. Threads: SystemClock is stateless and thread-safe;
// SimClock's Advance/Set must not race with readers (tests drive it from the
// thread that runs the agent).
#pragma once

#include <cstdint>

namespace edgefleet::agent {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic microseconds since an arbitrary origin.
  virtual std::int64_t SteadyUs() const = 0;
  // Milliseconds since the Unix epoch.
  virtual std::int64_t WallMs() const = 0;

  std::int64_t SteadyMs() const { return SteadyUs() / 1000; }
};

class SystemClock final : public Clock {
 public:
  std::int64_t SteadyUs() const override;
  std::int64_t WallMs() const override;
};

// A clock that moves only when told to. Wall time moves with steady time.
class SimClock final : public Clock {
 public:
  explicit SimClock(std::int64_t wall_start_ms = 1'800'000'000'000) : wall_start_ms_(wall_start_ms) {}

  std::int64_t SteadyUs() const override { return now_us_; }
  std::int64_t WallMs() const override { return wall_start_ms_ + now_us_ / 1000; }

  void AdvanceUs(std::int64_t us) { now_us_ += us; }
  void AdvanceMs(std::int64_t ms) { now_us_ += ms * 1000; }

 private:
  std::int64_t wall_start_ms_;
  std::int64_t now_us_ = 0;
};

}  // namespace edgefleet::agent
