// The OTA update state machine, as data (STYLE.md practice 6).
//
// What it is for: every update attempt walks these states; the one table in
// state.cc says which event moves which state where, and nothing else moves
// the engine (agent/ota/engine.h). Any (state, event) pair not in the table
// is refused, so a bug cannot invent a path.
//
//   idle ─check_due─> checking ─no_update/check_failed─> idle
//   checking ─model_offered─> downloading ─downloaded─> verifying
//   checking ─thresholds_offered─> verifying
//   checking ─fail─> failed   (an offer refused: manifest signature, constraints)
//   verifying ─part_lost─> downloading
//   verifying ─verified─> validating ─validated─> applying ─applied─> activating
//   activating ─activated─> health_check ─healthy─> committed
//   health_check ─unhealthy/crashed─> rolling_back ─restored─> rolled_back
//   applying/activating ─fail/crashed─> rolling_back
//   downloading/verifying/validating ─fail─> failed
//   any non-terminal ─loop_limit─> failed   (the forced end of an attempt)
//   committed/rolled_back/failed ─check_due─> checking
//
// committed, rolled_back and failed are terminal: an attempt ends in one of
// them and it is reported; the next check starts the next attempt.
// Threads: pure functions and constants.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace edgefleet::ota {

enum class State : std::uint8_t {
  kIdle = 0,
  kChecking,
  kDownloading,
  kVerifying,
  kValidating,
  kApplying,
  kActivating,
  kHealthCheck,
  kCommitted,
  kRollingBack,
  kRolledBack,
  kFailed,
};
inline constexpr int kStateCount = 12;

enum class Event : std::uint8_t {
  kCheckDue = 0,
  kNoUpdate,
  kCheckFailed,
  kModelOffered,
  kThresholdsOffered,
  kDownloaded,
  kVerified,
  kValidated,
  kApplied,
  kActivated,
  kHealthy,
  kUnhealthy,
  kCrashed,    // an unclean restart found the attempt in this state
  kFail,       // the state's step failed for good (retries or deadline exhausted, bad input)
  kRestored,   // the previous model is back on disk and active
  kLoopLimit,  // too many transitions or restarts in one attempt
  kPartLost,   // the downloaded file vanished before verification (its name was not yet durable)
};
inline constexpr int kEventCount = 17;

const char* ToString(State state);
const char* ToString(Event event);
std::optional<State> StateFromString(std::string_view name);

bool IsTerminal(State state);
// Whether the new model may be on disk as current.efm in this state (the
// swap has started): failures here roll back instead of just failing.
bool IsAfterSwap(State state);

// The table: where `event` takes `from`, or nullopt if it is not allowed.
std::optional<State> Next(State from, Event event);

// SPEC section 4's update status for a report made on entering `state`, or
// nullptr if entering it is not reported (idle, checking). The mapping:
//   downloading -> downloading; verifying, validating -> validating;
//   applying, activating, health_check, rolling_back -> applying;
//   committed -> active; rolled_back -> rolled_back; failed -> failed.
// "pending" is sent once when an offer is accepted (model_offered or
// thresholds_offered), before the first report of the new state.
const char* ServerStatus(State state);

}  // namespace edgefleet::ota
