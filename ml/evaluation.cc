#include "ml/evaluation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>

namespace edgefleet::ml {

DataResult<EdgeRunner> EdgeRunner::Create(std::span<const std::uint8_t> artifact) {
  using R = DataResult<EdgeRunner>;
  EdgeRunner runner;
  runner.bytes_.resize((artifact.size() + 3) / 4);
  std::memcpy(runner.bytes_.data(), artifact.data(), artifact.size());
  const auto* data = reinterpret_cast<const std::uint8_t*>(runner.bytes_.data());
  const auto parsed = core::ParseArtifact(data, artifact.size());
  if (!parsed.ok()) {
    return R::Fail(std::string("the edge artifact is invalid: ") + core::ToString(parsed.status) + ".");
  }
  runner.arena_.resize((core::RequiredArenaBytes(parsed.value) + 7) / 8);
  auto detector = core::Detector::Create(parsed.value, runner.arena_.data(), runner.arena_.size() * 8);
  if (!detector.ok()) {
    return R::Fail(std::string("the edge artifact cannot run: ") + core::ToString(detector.status) + ".");
  }
  runner.detector_ = detector.value;
  return R::Ok(std::move(runner));
}

core::Inference EdgeRunner::Run(std::span<const float> window) {
  const auto result = detector_.Run(window.data(), window.size());
  if (!result.ok()) {
    core::Inference bad;
    bad.mse = bad.score = std::numeric_limits<float>::quiet_NaN();
    bad.decision.zone = core::Zone::kAmbiguous;
    return bad;
  }
  return result.value;
}

std::vector<WindowInfo> DescribeWindows(const Dataset& dataset, std::uint64_t seed,
                                        std::span<const std::string> drift_files) {
  std::vector<WindowInfo> out;
  for (const WindowRef& ref : Windows(dataset)) {
    const Recording& r = dataset.recordings[ref.recording];
    WindowInfo w;
    w.ref = ref;
    w.split = AssignSplit(r.name, ref.capture, seed);
    w.anomaly = r.anomaly;
    w.drift = std::find(drift_files.begin(), drift_files.end(), r.name) != drift_files.end();
    out.push_back(w);
  }
  return out;
}

ScoredWindows ScoreWindows(const Dataset& dataset, std::vector<WindowInfo> windows, EdgeRunner& edge,
                           const CloudModel& cloud, const CloudModel* edge_float) {
  ScoredWindows s;
  const std::size_t n = windows.size();
  const std::uint32_t values = cloud.window_len * cloud.axes;
  s.edge_mse.resize(n);
  s.edge_score.resize(n);
  s.edge_mode.resize(n);
  s.cloud_score.resize(n);
  s.cloud_label.resize(n);
  if (edge_float != nullptr) s.edge_float_score.resize(n);
  SpectralFeatures features(cloud.window_len, cloud.axes);
  constexpr std::size_t kBatch = 512;
  Eigen::MatrixXf batch(values, static_cast<Eigen::Index>(kBatch));
  for (std::size_t first = 0; first < n; first += kBatch) {
    const std::size_t size = std::min(kBatch, n - first);
    Eigen::MatrixXf block(values, static_cast<Eigen::Index>(size));
    for (std::size_t j = 0; j < size; ++j) {
      std::span<float> col(block.col(static_cast<Eigen::Index>(j)).data(), values);
      if (!WindowValues(dataset, windows[first + j].ref, col)) std::fill(col.begin(), col.end(), 0.0f);
      const core::Inference inference = edge.Run(col);
      s.edge_mse[first + j] = inference.mse;
      s.edge_score[first + j] = inference.score;
      s.edge_mode[first + j] = inference.mode;
    }
    const std::vector<CloudScore> c = ScoreBatch(cloud, features, block);
    for (std::size_t j = 0; j < size; ++j) {
      s.cloud_score[first + j] = c[j].score;
      s.cloud_label[first + j] = c[j].anomaly ? 1 : 0;
    }
    if (edge_float != nullptr) {
      const std::vector<CloudScore> f = ScoreBatch(*edge_float, features, block);
      for (std::size_t j = 0; j < size; ++j) s.edge_float_score[first + j] = f[j].score;
    }
  }
  s.windows = std::move(windows);
  return s;
}

std::string SpeedOf(const std::string& recording) {
  const std::size_t first = recording.find('_');
  if (first == std::string::npos) return "";
  const std::size_t second = recording.find('_', first + 1);
  return recording.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
}

std::vector<std::pair<std::string, double>> AucBySpeed(const ScoredWindows& s, const Dataset& dataset,
                                                       Split split, const std::vector<float>& scores) {
  std::map<std::string, std::pair<std::vector<float>, std::vector<std::uint8_t>>> by_speed;
  std::vector<float> all_scores;
  std::vector<std::uint8_t> all_labels;
  std::map<std::string, bool> has_anomaly;
  for (std::size_t i = 0; i < s.windows.size(); ++i) {
    const WindowInfo& w = s.windows[i];
    if (w.split != split || w.drift) continue;
    const std::string& name = dataset.recordings[w.ref.recording].name;
    auto& [v, l] = by_speed[SpeedOf(name)];
    v.push_back(scores[i]);
    l.push_back(w.anomaly ? 1 : 0);
    all_scores.push_back(scores[i]);
    all_labels.push_back(w.anomaly ? 1 : 0);
    if (w.anomaly) has_anomaly[SpeedOf(name)] = true;
  }
  std::vector<std::pair<std::string, double>> out;
  for (const auto& [speed, data] : by_speed) {
    if (has_anomaly[speed]) out.emplace_back(speed, RocAuc(data.first, data.second));
  }
  out.emplace_back("all", RocAuc(all_scores, all_labels));
  return out;
}

core::Zone ZoneOf(float score, const core::Thresholds& t) { return core::Decide(score, t).zone; }

core::Thresholds SigmaThresholds(double mu, double sigma, double k_low, double k_high) {
  core::Thresholds t;
  t.mu = static_cast<float>(mu);
  t.sigma = static_cast<float>(sigma);
  t.k_low = static_cast<float>(k_low);
  t.k_high = static_cast<float>(k_high);
  t.low = static_cast<float>(mu + k_low * sigma);
  t.high = static_cast<float>(mu + k_high * sigma);
  return t;
}

namespace {

// Shortest text that reads back as the same value, like Python's repr.
template <typename T>
std::size_t ShortestLength(T value) {
  char buffer[64];
  const auto r = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return static_cast<std::size_t>(r.ptr - buffer);
}

std::size_t EscalationBytes(std::span<const float> window, float edge_mse, std::uint32_t model_version,
                            bool seed_style) {
  // {"device_id": "fan-0001", "features": [v, v, ...], "edge_mse": m, "model_version": "N"}
  const std::size_t separator = seed_style ? 2 : 1;  // json.dumps puts ", " and ": "
  std::size_t bytes = 2;                              // braces
  bytes += std::strlen("\"device_id\"") + separator + std::strlen("\"fan-0001\"") + separator;
  bytes += std::strlen("\"features\"") + separator + 2;
  for (std::size_t i = 0; i < window.size(); ++i) {
    bytes += seed_style ? ShortestLength(static_cast<double>(window[i])) : ShortestLength(window[i]);
    if (i + 1 < window.size()) bytes += separator;
  }
  bytes += separator + std::strlen("\"edge_mse\"") + separator;
  bytes += seed_style ? ShortestLength(static_cast<double>(edge_mse)) : ShortestLength(edge_mse);
  bytes += separator + std::strlen("\"model_version\"") + separator + 2 + ShortestLength(model_version);
  return bytes;
}

}  // namespace

std::size_t SeedEscalationBytes(std::span<const float> window, float edge_mse, std::uint32_t model_version) {
  return EscalationBytes(window, edge_mse, model_version, true);
}

std::size_t EdgefleetEscalationBytes(std::span<const float> window, float edge_mse, std::uint32_t model_version) {
  return EscalationBytes(window, edge_mse, model_version, false);
}

HybridResult EvaluateTiers(const ScoredWindows& s, const std::vector<std::uint8_t>& include,
                           const core::Thresholds& thresholds, std::uint32_t model_version,
                           const Dataset& dataset) {
  std::vector<std::uint8_t> labels;
  std::vector<std::uint8_t> edge_pred;
  std::vector<std::uint8_t> hybrid_pred;
  std::vector<std::uint8_t> cloud_pred;
  std::vector<float> edge_scores;
  std::vector<float> cloud_scores;
  std::vector<float> hybrid_scores;
  HybridResult r;
  std::vector<float> values(kWindowRows * kAxes);
  std::uint64_t escalated = 0;
  for (std::size_t i = 0; i < s.windows.size(); ++i) {
    if (!include[i]) continue;
    const float score = s.edge_score[i];
    const core::TierDecision d = core::Decide(score, thresholds);
    labels.push_back(s.windows[i].anomaly ? 1 : 0);
    const auto edge_label = static_cast<std::uint8_t>(d.label == core::Label::kAnomaly);
    edge_pred.push_back(edge_label);
    cloud_pred.push_back(s.cloud_label[i]);
    edge_scores.push_back(score);
    cloud_scores.push_back(s.cloud_score[i]);
    std::size_t seed_bytes = 0;
    std::size_t our_bytes = 0;
    if (WindowValues(dataset, s.windows[i].ref, values)) {
      seed_bytes = SeedEscalationBytes(values, s.edge_mse[i], model_version);
      our_bytes = EdgefleetEscalationBytes(values, s.edge_mse[i], model_version);
    }
    r.cloud_only.seed_bytes_uploaded += seed_bytes;
    r.cloud_only.bytes_uploaded += our_bytes;
    if (d.escalate()) {
      ++escalated;
      hybrid_pred.push_back(s.cloud_label[i]);
      r.hybrid.seed_bytes_uploaded += seed_bytes;
      r.hybrid.bytes_uploaded += our_bytes;
      // Ranking for the hybrid's AUC: clear zones keep their side, the
      // ambiguous middle is ordered by the cloud's decision then its score.
      hybrid_scores.push_back(1.0f + static_cast<float>(s.cloud_label[i]) + std::atan(s.cloud_score[i]) / 4.0f);
    } else {
      hybrid_pred.push_back(edge_label);
      hybrid_scores.push_back(d.zone == core::Zone::kAnomaly ? 3.0f + std::atan(score) / 4.0f
                                                             : std::atan(score) / 4.0f);
    }
  }
  const auto fill = [&](TierMetrics& t, const std::vector<std::uint8_t>& pred, const std::vector<float>& scores) {
    const BinaryCounts c = CountBinary(pred, labels);
    t.precision = c.precision();
    t.recall = c.recall();
    t.f1 = c.f1();
    t.auc = RocAuc(scores, labels);
    t.windows = labels.size();
  };
  fill(r.edge_only, edge_pred, edge_scores);
  fill(r.hybrid, hybrid_pred, hybrid_scores);
  fill(r.cloud_only, cloud_pred, cloud_scores);
  r.cloud_only.escalation_rate = labels.empty() ? 0.0 : 1.0;
  r.hybrid.escalation_rate = labels.empty() ? 0.0 : static_cast<double>(escalated) / static_cast<double>(labels.size());
  return r;
}

std::vector<SweepPoint> SweepThresholds(const ScoredWindows& s, const std::vector<std::uint8_t>& include,
                                        std::span<const float> training_scores) {
  std::vector<float> train(training_scores.begin(), training_scores.end());
  const MeanStd ms = ComputeMeanStd(train);
  std::vector<SweepPoint> points;
  const auto evaluate = [&](SweepPoint p) {
    BinaryCounts c;
    std::uint64_t escalated = 0;
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < s.windows.size(); ++i) {
      if (!include[i]) continue;
      ++n;
      const core::Zone zone = ZoneOf(s.edge_score[i], p.thresholds);
      bool predicted = zone == core::Zone::kAnomaly;
      if (zone == core::Zone::kAmbiguous) {
        ++escalated;
        predicted = s.cloud_label[i] != 0;
      }
      const bool actual = s.windows[i].anomaly;
      if (predicted && actual) ++c.tp;
      if (predicted && !actual) ++c.fp;
      if (!predicted && actual) ++c.fn;
      if (!predicted && !actual) ++c.tn;
    }
    p.hybrid_f1 = c.f1();
    p.escalation_rate = n ? static_cast<double>(escalated) / static_cast<double>(n) : 0.0;
    points.push_back(p);
  };
  for (int lo = -4; lo <= 32; ++lo) {
    for (int hi = lo; hi <= 48; ++hi) {
      const double k_low = lo * 0.25;
      const double k_high = hi * 0.25;
      evaluate(SweepPoint{"sigma", k_low, k_high, SigmaThresholds(ms.mean, ms.stddev, k_low, k_high), 0, 0});
    }
  }
  const std::vector<double> quantiles = {0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 1.0};
  for (std::size_t a = 0; a < quantiles.size(); ++a) {
    for (std::size_t b = a; b < quantiles.size(); ++b) {
      const double low = Quantile(train, quantiles[a]);
      const double high = Quantile(train, quantiles[b]);
      core::Thresholds t;
      t.mu = static_cast<float>(ms.mean);
      t.sigma = static_cast<float>(ms.stddev);
      t.low = static_cast<float>(low);
      t.high = static_cast<float>(high);
      t.k_low = ms.stddev > 0 ? static_cast<float>((low - ms.mean) / ms.stddev) : 0.0f;
      t.k_high = ms.stddev > 0 ? static_cast<float>((high - ms.mean) / ms.stddev) : 0.0f;
      evaluate(SweepPoint{"quantile", quantiles[a], quantiles[b], t, 0, 0});
    }
  }
  return points;
}

SweepPoint ChooseDefault(const std::vector<SweepPoint>& sweep, double cloud_f1, double max_f1_loss) {
  const SweepPoint* best = nullptr;
  for (const SweepPoint& p : sweep) {
    if (p.hybrid_f1 < cloud_f1 - max_f1_loss) continue;
    if (best == nullptr || p.escalation_rate < best->escalation_rate ||
        (p.escalation_rate == best->escalation_rate && p.hybrid_f1 > best->hybrid_f1)) {
      best = &p;
    }
  }
  if (best != nullptr) return *best;
  for (const SweepPoint& p : sweep) {
    if (best == nullptr || p.hybrid_f1 > best->hybrid_f1) best = &p;
  }
  return best != nullptr ? *best : SweepPoint{};
}

}  // namespace edgefleet::ml
