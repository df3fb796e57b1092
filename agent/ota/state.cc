#include "agent/ota/state.h"

#include <array>

namespace edgefleet::ota {
namespace {

struct Transition {
  State from;
  Event event;
  State to;
};

// The whole state machine. loop_limit is added for every non-terminal state
// below, so it is not repeated here.
constexpr Transition kTable[] = {
    {State::kIdle, Event::kCheckDue, State::kChecking},
    {State::kCommitted, Event::kCheckDue, State::kChecking},
    {State::kRolledBack, Event::kCheckDue, State::kChecking},
    {State::kFailed, Event::kCheckDue, State::kChecking},

    {State::kChecking, Event::kNoUpdate, State::kIdle},
    {State::kChecking, Event::kCheckFailed, State::kIdle},
    {State::kChecking, Event::kModelOffered, State::kDownloading},
    {State::kChecking, Event::kThresholdsOffered, State::kVerifying},
    {State::kChecking, Event::kFail, State::kFailed},  // an offer refused: bad signature, constraints

    {State::kDownloading, Event::kDownloaded, State::kVerifying},
    {State::kDownloading, Event::kFail, State::kFailed},
    {State::kDownloading, Event::kCrashed, State::kDownloading},  // resumes where it was

    {State::kVerifying, Event::kVerified, State::kValidating},
    {State::kVerifying, Event::kFail, State::kFailed},
    {State::kVerifying, Event::kCrashed, State::kVerifying},
    {State::kVerifying, Event::kPartLost, State::kDownloading},

    {State::kValidating, Event::kValidated, State::kApplying},
    {State::kValidating, Event::kFail, State::kFailed},
    {State::kValidating, Event::kCrashed, State::kValidating},

    {State::kApplying, Event::kApplied, State::kActivating},
    {State::kApplying, Event::kFail, State::kRollingBack},
    {State::kApplying, Event::kCrashed, State::kApplying},  // the swap is idempotent: finish it

    {State::kActivating, Event::kActivated, State::kHealthCheck},
    {State::kActivating, Event::kFail, State::kRollingBack},
    {State::kActivating, Event::kCrashed, State::kRollingBack},

    {State::kHealthCheck, Event::kHealthy, State::kCommitted},
    {State::kHealthCheck, Event::kUnhealthy, State::kRollingBack},
    {State::kHealthCheck, Event::kFail, State::kRollingBack},
    {State::kHealthCheck, Event::kCrashed, State::kRollingBack},

    {State::kRollingBack, Event::kRestored, State::kRolledBack},
    {State::kRollingBack, Event::kFail, State::kFailed},
    {State::kRollingBack, Event::kCrashed, State::kRollingBack},
};

constexpr std::array<const char*, kStateCount> kStateNames = {
    "idle",       "checking",     "downloading", "verifying",    "validating",  "applying",
    "activating", "health_check", "committed",   "rolling_back", "rolled_back", "failed"};

constexpr std::array<const char*, kEventCount> kEventNames = {
    "check_due", "no_update", "check_failed", "model_offered", "thresholds_offered", "downloaded",
    "verified",  "validated", "applied",      "activated",     "healthy",            "unhealthy",
    "crashed",   "fail",      "restored",     "loop_limit",    "part_lost"};

}  // namespace

const char* ToString(State state) {
  const auto i = static_cast<std::size_t>(state);
  return i < kStateNames.size() ? kStateNames[i] : "unknown";
}

const char* ToString(Event event) {
  const auto i = static_cast<std::size_t>(event);
  return i < kEventNames.size() ? kEventNames[i] : "unknown";
}

std::optional<State> StateFromString(std::string_view name) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (name == kStateNames[i]) return static_cast<State>(i);
  }
  return std::nullopt;
}

bool IsTerminal(State state) {
  return state == State::kCommitted || state == State::kRolledBack || state == State::kFailed;
}

bool IsAfterSwap(State state) {
  return state == State::kApplying || state == State::kActivating || state == State::kHealthCheck ||
         state == State::kRollingBack;
}

std::optional<State> Next(State from, Event event) {
  if (event == Event::kLoopLimit) {
    if (IsTerminal(from) || from == State::kIdle) return std::nullopt;
    return State::kFailed;
  }
  for (const Transition& t : kTable) {
    if (t.from == from && t.event == event) return t.to;
  }
  return std::nullopt;
}

const char* ServerStatus(State state) {
  switch (state) {
    case State::kDownloading: return "downloading";
    case State::kVerifying:
    case State::kValidating: return "validating";
    case State::kApplying:
    case State::kActivating:
    case State::kHealthCheck:
    case State::kRollingBack: return "applying";
    case State::kCommitted: return "active";
    case State::kRolledBack: return "rolled_back";
    case State::kFailed: return "failed";
    case State::kIdle:
    case State::kChecking: return nullptr;
  }
  return nullptr;
}

}  // namespace edgefleet::ota
