// Scoring and evaluation shared by `edgefleet train` (choosing thresholds on
// validation captures) and `edgefleet eval` (reporting on test captures):
// the edge model run through the core exactly as a device runs it, the cloud
// model, the hybrid of the two, and the metrics of SPEC section 10.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/artifact.h"
#include "core/decision.h"
#include "core/detector.h"
#include "ml/cloud_model.h"
#include "ml/dataset.h"
#include "ml/metrics.h"

namespace edgefleet::ml {

// The edge artifact with its own aligned copy of the bytes and arena.
class EdgeRunner {
 public:
  static DataResult<EdgeRunner> Create(std::span<const std::uint8_t> artifact);
  EdgeRunner(EdgeRunner&&) noexcept = default;
  EdgeRunner& operator=(EdgeRunner&&) noexcept = default;
  EdgeRunner() = default;

  core::Inference Run(std::span<const float> window);
  const core::ModelView& model() const { return detector_.model(); }

 private:
  std::vector<std::uint32_t> bytes_;  // 4-byte aligned copy
  std::vector<std::uint64_t> arena_;
  core::Detector detector_;
};

// Every window of a dataset with what evaluation needs to know about it.
struct WindowInfo {
  WindowRef ref;
  Split split = Split::kTrain;
  bool anomaly = false;
  bool drift = false;  // one of the drift files: reported apart
};

std::vector<WindowInfo> DescribeWindows(const Dataset& dataset, std::uint64_t seed,
                                        std::span<const std::string> drift_files);

// Scores of every window by every detector.
struct ScoredWindows {
  std::vector<WindowInfo> windows;
  std::vector<float> edge_mse;
  std::vector<float> edge_score;   // int8, as the device computes it
  std::vector<std::uint32_t> edge_mode;
  std::vector<float> edge_float_score;  // empty when no float edge model was given
  std::vector<float> cloud_score;
  std::vector<std::uint8_t> cloud_label;
};

ScoredWindows ScoreWindows(const Dataset& dataset, std::vector<WindowInfo> windows, EdgeRunner& edge,
                           const CloudModel& cloud, const CloudModel* edge_float);

struct TierMetrics {
  double precision = 0, recall = 0, f1 = 0, auc = 0, escalation_rate = 0;
  std::uint64_t bytes_uploaded = 0;        // as edgefleet's agent sends escalations
  std::uint64_t seed_bytes_uploaded = 0;   // as the seeds' client sends them
  std::uint64_t windows = 0;
};

struct HybridResult {
  TierMetrics edge_only, hybrid, cloud_only;
};

// The three tiers on the windows selected by `include`, with thresholds on
// the edge score. Edge-only decides ambiguous windows by the closer threshold.
HybridResult EvaluateTiers(const ScoredWindows& s, const std::vector<std::uint8_t>& include,
                           const core::Thresholds& thresholds, std::uint32_t model_version,
                           const Dataset& dataset);

// Zone of a score, final hybrid decision.
core::Zone ZoneOf(float score, const core::Thresholds& t);

// One point of a threshold sweep.
struct SweepPoint {
  std::string family;  // "sigma" (k_low, k_high) or "quantile" (q_low, q_high)
  double a = 0, b = 0;  // k_low, k_high or q_low, q_high
  core::Thresholds thresholds;
  double escalation_rate = 0, hybrid_f1 = 0;
};

// The grid of both threshold families (k in steps of 0.25: k_low -1 .. 8,
// k_high k_low .. 12; quantile pairs from 0.5 to 1) over `include`d windows, given the
// training normals' edge scores (which define mu, sigma and the quantiles).
std::vector<SweepPoint> SweepThresholds(const ScoredWindows& s, const std::vector<std::uint8_t>& include,
                                        std::span<const float> training_scores);

// The least escalation keeping hybrid F1 >= cloud F1 - max_f1_loss (ties:
// higher F1); when no point qualifies, the highest hybrid F1.
SweepPoint ChooseDefault(const std::vector<SweepPoint>& sweep, double cloud_f1, double max_f1_loss);

// The speed a recording name carries: "anomaly_low_weight" -> "low",
// "normal_med" -> "med".
std::string SpeedOf(const std::string& recording);

// ROC AUC of `scores` per speed: normal_<speed> windows of `split` against
// anomaly_<speed>_* windows of `split`, and "all" (every non-drift normal of
// the split against every anomaly of it).
std::vector<std::pair<std::string, double>> AucBySpeed(const ScoredWindows& s, const Dataset& dataset,
                                                       Split split, const std::vector<float>& scores);

core::Thresholds SigmaThresholds(double mu, double sigma, double k_low, double k_high);

// Bytes of one escalation request as the seeds' Python client serialises it
// (json.dumps of float64 values from float32 windows) and as edgefleet's
// agent does (shortest float32 text), for `window` and an edge MSE.
std::size_t SeedEscalationBytes(std::span<const float> window, float edge_mse, std::uint32_t model_version);
std::size_t EdgefleetEscalationBytes(std::span<const float> window, float edge_mse, std::uint32_t model_version);

}  // namespace edgefleet::ml
