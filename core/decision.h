// The tiered decision of SPEC section 3: three zones on the detector's score,
// a confidence for every decision, and the fallback used when the cloud cannot
// answer an ambiguous window.
//
// Confidence (docs/model-format.md, "Decision"): with d the score's distance
// to the nearest threshold and s = sigma (or high - low, or low, whichever is
// first positive):
//   clear zones (normal, anomaly): 0.7 + 0.3 * (1 - exp(-d / s))   in (0.7, 1)
//   ambiguous zone:                0.5 + 0.18 * |score - mid| / (half width)
//                                  in [0.5, 0.68], mid = (low + high) / 2
// so it rises monotonically with the distance from the ambiguous zone's middle
// and every ambiguous window is below 0.7.
#pragma once

#include <cstdint>

#include "core/artifact.h"

namespace edgefleet::core {

enum class Zone : std::uint8_t { kNormal = 0, kAmbiguous = 1, kAnomaly = 2 };
enum class Label : std::uint8_t { kNormal = 0, kAnomaly = 1 };

const char* ToString(Zone zone);
const char* ToString(Label label);

inline constexpr float kHardSampleConfidence = 0.7f;

struct TierDecision {
  Zone zone = Zone::kNormal;
  // The edge's label: the decision in the clear zones; in the ambiguous zone
  // the fallback (closer threshold) to use if the cloud cannot answer.
  Label label = Label::kNormal;
  float confidence = 0.0f;

  bool escalate() const { return zone == Zone::kAmbiguous; }
};

// Zone by the thresholds: score < low normal, score > high anomaly, else
// ambiguous. A NaN score is ambiguous (the cloud decides).
TierDecision Decide(float score, const Thresholds& thresholds);

// The closer threshold: below the middle of [low, high] normal, else anomaly.
Label FallbackLabel(float score, const Thresholds& thresholds);

float Confidence(float score, const Thresholds& thresholds);

}  // namespace edgefleet::core
