#include "core/decision.h"

#include <cmath>

namespace edgefleet::core {
namespace {

// The distance unit of the clear zones: sigma of the training scores when
// known, else the ambiguous zone's width, else the low threshold itself.
float DistanceScale(const Thresholds& t) {
  if (t.sigma > 0.0f) return t.sigma;
  if (t.high > t.low) return t.high - t.low;
  return t.low > 0.0f ? t.low : 1.0f;
}

}  // namespace

const char* ToString(Zone zone) {
  switch (zone) {
    case Zone::kNormal: return "normal";
    case Zone::kAmbiguous: return "ambiguous";
    case Zone::kAnomaly: return "anomaly";
  }
  return "unknown";
}

const char* ToString(Label label) { return label == Label::kAnomaly ? "anomaly" : "normal"; }

Label FallbackLabel(float score, const Thresholds& t) {
  const float mid = 0.5f * (t.low + t.high);
  return score < mid ? Label::kNormal : Label::kAnomaly;
}

float Confidence(float score, const Thresholds& t) {
  if (std::isnan(score)) return 0.5f;
  if (score < t.low || score > t.high) {
    const float d = score < t.low ? t.low - score : score - t.high;
    return 0.7f + 0.3f * (1.0f - std::exp(-d / DistanceScale(t)));
  }
  const float half_width = 0.5f * (t.high - t.low);
  if (half_width <= 0.0f) return 0.5f;
  const float mid = t.low + half_width;
  const float from_mid = std::fabs(score - mid) / half_width;  // in [0, 1]
  return 0.5f + 0.18f * (from_mid > 1.0f ? 1.0f : from_mid);
}

TierDecision Decide(float score, const Thresholds& t) {
  TierDecision d;
  if (std::isnan(score)) {
    d.zone = Zone::kAmbiguous;
    d.label = Label::kAnomaly;
  } else if (score < t.low) {
    d.zone = Zone::kNormal;
    d.label = Label::kNormal;
  } else if (score > t.high) {
    d.zone = Zone::kAnomaly;
    d.label = Label::kAnomaly;
  } else {
    d.zone = Zone::kAmbiguous;
    d.label = FallbackLabel(score, t);
  }
  d.confidence = Confidence(score, t);
  return d;
}

}  // namespace edgefleet::core
