// Exponential backoff after cloud failures (SPEC section 3): the first failure
// waits 1 minute, then 2, 4, ... capped at 30 minutes; a success resets it.
// No clock inside: the caller passes the time (milliseconds of any monotonic
// clock). Not thread-safe; one per escalation channel.
#pragma once

#include <cstdint>

namespace edgefleet::core {

struct BackoffConfig {
  std::int64_t initial_ms = 60'000;
  std::int64_t max_ms = 30 * 60'000;
};

class Backoff {
 public:
  constexpr Backoff() = default;
  constexpr explicit Backoff(BackoffConfig config) : config_(config) {}

  // Whether an attempt may be made at `now_ms`.
  bool MayAttempt(std::int64_t now_ms) const { return failures_ == 0 || now_ms >= next_attempt_ms_; }

  // Records a failed attempt at `now_ms` and schedules the next one.
  void OnFailure(std::int64_t now_ms);

  // Records a success: the next attempt may be made at once.
  void OnSuccess() {
    failures_ = 0;
    delay_ms_ = 0;
    next_attempt_ms_ = 0;
  }

  std::uint32_t failures() const { return failures_; }
  bool backing_off() const { return failures_ != 0; }
  std::int64_t delay_ms() const { return delay_ms_; }         // the current wait
  std::int64_t next_attempt_ms() const { return next_attempt_ms_; }
  const BackoffConfig& config() const { return config_; }

 private:
  BackoffConfig config_;
  std::uint32_t failures_ = 0;
  std::int64_t delay_ms_ = 0;
  std::int64_t next_attempt_ms_ = 0;
};

}  // namespace edgefleet::core
