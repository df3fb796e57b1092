#include "core/backoff.h"

namespace edgefleet::core {

void Backoff::OnFailure(std::int64_t now_ms) {
  if (failures_ < 0xFFFFFFFFu) ++failures_;
  // initial * 2^(failures - 1), capped; doubling stops once the cap is hit so
  // nothing overflows however long the cloud stays away.
  std::int64_t delay = config_.initial_ms > 0 ? config_.initial_ms : 1;
  for (std::uint32_t i = 1; i < failures_ && delay < config_.max_ms; ++i) delay *= 2;
  if (delay > config_.max_ms) delay = config_.max_ms;
  delay_ms_ = delay;
  next_attempt_ms_ = now_ms + delay;
}

}  // namespace edgefleet::core
