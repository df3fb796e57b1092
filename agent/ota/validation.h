// Validation inference (SPEC section 6): before a new model is swapped in,
// the core runs it on golden windows shipped inside the agent, and the
// model must decide them within documented tolerances.
//
// The golden windows (agent/ota/golden_windows.csv, embedded at build time)
// are 35 real windows of data/ceiling-fan.efr: 20 from the normal recordings
// (fan off, low, medium, high; 5 each) and 15 from the imbalance recordings,
// each one the shipped model decides clearly and correctly
// (tests/agent/make_golden_windows.cc writes the file).
//
// A model passes when:
//   - its window shape is the agent's (100 samples x 3 axes);
//   - every golden window runs (core status ok) with a finite score;
//   - at most `max_normal_flagged` (default 25%) of the normal windows fall in
//     the anomaly zone, and at most `max_anomaly_missed` (default 25%) of the
//     anomaly windows fall in the normal zone. The ambiguous zone counts as
//     neither: a retrained model may legitimately move a window near its
//     thresholds into the ambiguous zone (the cloud then decides), and its
//     scores are not compared with the old model's, because retraining moves
//     them. What the tolerances catch is a model that calls normal running
//     anomalous, or misses imbalance: a broken quantization, swapped
//     thresholds, a model for another machine.
//
// Threads: Validate is reentrant (its arena is its own).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/ota/model.h"
#include "common/error.h"
#include "core/decision.h"

namespace edgefleet::ota {

struct GoldenWindow {
  std::string name;  // "normal_off#3.0": recording, capture, window
  core::Label label = core::Label::kNormal;
  std::vector<float> values;  // 300, interleaved x,y,z in g
};

// Parses the golden windows CSV (format in its header); kCorrupt on any
// malformed line.
common::Expected<std::vector<GoldenWindow>> ParseGoldenWindows(std::string_view csv);
// The embedded golden windows, parsed once.
const std::vector<GoldenWindow>& BuiltinGoldenWindows();

struct ValidationTolerances {
  double max_normal_flagged = 0.25;
  double max_anomaly_missed = 0.25;
};

struct ValidationReport {
  std::uint32_t normal_windows = 0;
  std::uint32_t normal_flagged = 0;   // normal windows in the anomaly zone
  std::uint32_t anomaly_windows = 0;
  std::uint32_t anomaly_missed = 0;   // anomaly windows in the normal zone
  std::uint32_t ambiguous = 0;
};

// Ok with the counts, or kFailedPrecondition with a sentence naming the
// tolerance the model broke (or the window it could not run).
common::Expected<ValidationReport> Validate(const Model& model, const std::vector<GoldenWindow>& windows,
                                            const ValidationTolerances& tolerances);

}  // namespace edgefleet::ota
