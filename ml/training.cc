#include "ml/training.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "ml/evaluation.h"
#include "ml/features.h"
#include "ml/metrics.h"
#include "ml/modes.h"
#include "ml/quantize.h"

namespace edgefleet::ml {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

Eigen::MatrixXf Columns(const Eigen::MatrixXf& m, const std::vector<Eigen::Index>& idx) {
  Eigen::MatrixXf out(m.rows(), static_cast<Eigen::Index>(idx.size()));
  for (std::size_t i = 0; i < idx.size(); ++i) out.col(static_cast<Eigen::Index>(i)) = m.col(idx[i]);
  return out;
}

// Per-feature offset and scale of one mode (training.h, step 3).
void FitNormalisation(const Eigen::MatrixXf& f, int rank, int iterations, Eigen::VectorXf* offset,
                      Eigen::VectorXf* scale) {
  *offset = f.rowwise().mean();
  const Eigen::MatrixXf centred = f.colwise() - *offset;
  *scale = (centred.array().square().rowwise().mean().sqrt() + 1e-3f).matrix();
  const auto n = static_cast<float>(f.cols());
  for (int it = 0; it < iterations; ++it) {
    const Eigen::MatrixXf z = scale->cwiseInverse().asDiagonal() * centred;
    const Eigen::MatrixXf cov = z * z.transpose() / n;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXf> solver(cov);
    const Eigen::Index d = cov.rows();
    const Eigen::Index r = std::min<Eigen::Index>(rank, d);
    const Eigen::MatrixXf basis = solver.eigenvectors().rightCols(r);  // largest eigenvalues
    const Eigen::MatrixXf residual = z - basis * (basis.transpose() * z);
    const Eigen::VectorXf spread = residual.array().square().rowwise().mean();
    *scale = scale->cwiseProduct((spread.array() + 1e-4f).sqrt().matrix());
  }
}

FloatNetwork MakeNetwork(std::vector<int> widths, std::uint64_t seed, bool linear_hidden) {
  FloatNetwork net = MakeAutoencoder(widths, seed);
  if (linear_hidden) {
    for (FloatLayer& layer : net.layers) layer.activation = core::Activation::kLinear;
  }
  return net;
}

// The median, or 1 (a neutral scale) for an empty set.
float Median(std::vector<float> v) {
  if (v.empty()) return 1.0f;
  return static_cast<float>(Quantile(std::move(v), 0.5));
}

// The threshold on `scores` maximising F1 against `labels`.
float BestF1Threshold(const std::vector<float>& scores, const std::vector<std::uint8_t>& labels) {
  std::vector<std::size_t> order(scores.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::size_t positives = 0;
  for (std::uint8_t l : labels) positives += l;
  double best_f1 = -1.0;
  float best = scores.empty() ? 0.0f : scores[order[0]];
  std::size_t tp = 0;
  for (std::size_t i = 0; i < order.size(); ++i) {
    tp += labels[order[i]];
    if (i + 1 < order.size() && scores[order[i + 1]] == scores[order[i]]) continue;
    const double precision = static_cast<double>(tp) / static_cast<double>(i + 1);
    const double recall = positives ? static_cast<double>(tp) / static_cast<double>(positives) : 0.0;
    const double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
    if (f1 > best_f1) {
      best_f1 = f1;
      // Halfway to the next lower score: predicted anomaly when score > threshold.
      best = i + 1 < order.size() ? 0.5f * (scores[order[i]] + scores[order[i + 1]]) : scores[order[i]] - 1.0f;
    }
  }
  return best;
}

}  // namespace

PipelineConfig::PipelineConfig() {
  edge_train.learning_rate = 3e-3f;
  edge_train.max_epochs = 300;
  edge_train.patience = 20;
  cloud_train.learning_rate = 1e-3f;
  cloud_train.max_epochs = 300;
  cloud_train.patience = 20;
}

DataResult<TrainedModels> TrainModels(const Dataset& dataset, const PipelineConfig& config,
                                      const std::function<void(const Progress&)>& progress) {
  using R = DataResult<TrainedModels>;
  const Clock::time_point start = Clock::now();
  nlohmann::json report;
  report["seed"] = config.seed;
  report["model_version"] = config.model_version;

  std::vector<WindowInfo> windows = DescribeWindows(dataset, config.seed, config.drift_files);
  if (windows.empty()) return R::Fail("the recordings hold no complete window.");
  const std::uint32_t window_len = kWindowRows;
  const std::uint32_t axes = static_cast<std::uint32_t>(kAxes);

  SpectrumSpecData feature_spec{config.log_floor, SplitEdges(window_len, config.fine_from, config.coarse_width)};
  SpectrumSpecData selector_spec{config.log_floor, SplitEdges(window_len, window_len / 2 + 1, config.selector_width)};
  const auto dims = static_cast<Eigen::Index>(axes * feature_spec.bin_count());
  const auto selector_dims = static_cast<Eigen::Index>(axes * selector_spec.bin_count());
  const auto count = static_cast<Eigen::Index>(windows.size());

  SpectralFeatures extractor(window_len, axes);
  Eigen::MatrixXf features(dims, count);
  Eigen::MatrixXf selector_features(selector_dims, count);
  std::vector<float> values(window_len * axes);
  for (Eigen::Index i = 0; i < count; ++i) {
    if (!WindowValues(dataset, windows[static_cast<std::size_t>(i)].ref, values)) return R::Fail("bad window.");
    extractor.ComputeTwo(values, selector_spec, selector_features.col(i).data(), feature_spec, features.col(i).data());
  }

  std::vector<Eigen::Index> train_normal;
  for (Eigen::Index i = 0; i < count; ++i) {
    const WindowInfo& w = windows[static_cast<std::size_t>(i)];
    if (w.split == Split::kTrain && !w.anomaly && !w.drift) train_normal.push_back(i);
  }
  if (train_normal.size() < 50u * config.modes) {
    return R::Fail("too few normal training windows (" + std::to_string(train_normal.size()) + ") for " +
                   std::to_string(config.modes) + " operating modes.");
  }
  const ModeSelectorSpec selector =
      FitModes(Columns(selector_features, train_normal), selector_spec, config.modes, config.seed);
  std::vector<std::uint32_t> mode_of(windows.size());
  for (Eigen::Index i = 0; i < count; ++i) {
    mode_of[static_cast<std::size_t>(i)] = NearestMode(selector, selector_features.col(i).data());
  }

  ArtifactSpec spec;
  spec.model_version = config.model_version;
  spec.model_id = "edge-fan";
  spec.window_len = window_len;
  spec.axes = axes;
  spec.sample_rate_hz = kSampleRateHz;
  spec.kind = core::FeatureKind::kSpectrum;
  spec.spectrum = feature_spec;
  if (config.modes > 1) spec.modes = selector;

  TrainedModels out;
  CloudModel& cloud = out.cloud;
  cloud.version = config.model_version;
  cloud.window_len = window_len;
  cloud.axes = axes;
  cloud.neighbours = config.neighbours;
  cloud.spectrum = feature_spec;
  cloud.selector = selector;
  CloudModel& edge_float = out.edge_float;
  edge_float = cloud;
  edge_float.neighbours = 1;

  nlohmann::json modes_report = nlohmann::json::array();
  double edge_seconds = 0.0;  // fitting the edge's normalisation is shared with the cloud
  std::vector<Eigen::MatrixXf> train_z(config.modes);
  for (std::uint32_t m = 0; m < config.modes; ++m) {
    std::vector<Eigen::Index> tr;
    std::vector<Eigen::Index> va;
    for (Eigen::Index i = 0; i < count; ++i) {
      const WindowInfo& w = windows[static_cast<std::size_t>(i)];
      if (w.anomaly || w.drift || mode_of[static_cast<std::size_t>(i)] != m) continue;
      if (w.split == Split::kTrain) tr.push_back(i);
      if (w.split == Split::kValidation) va.push_back(i);
    }
    if (tr.size() < 20) {
      return R::Fail("operating mode " + std::to_string(m) + " has only " + std::to_string(tr.size()) +
                     " training windows; train with fewer modes.");
    }
    const Eigen::MatrixXf ftr = Columns(features, tr);
    Eigen::VectorXf offset;
    Eigen::VectorXf scale;
    FitNormalisation(ftr, config.edge_bottleneck, config.reweight_iterations, &offset, &scale);
    const Eigen::VectorXf inv_scale = scale.cwiseInverse();
    const Eigen::MatrixXf ztr = inv_scale.asDiagonal() * (ftr.colwise() - offset);
    Eigen::MatrixXf zva = inv_scale.asDiagonal() * (Columns(features, va).colwise() - offset);
    if (zva.cols() < 5) zva = ztr;  // too few validation windows: stop on training loss
    train_z[m] = ztr;

    const auto report_to = [&](std::string stage) {
      return [&progress, stage](const EpochReport& e) {
        if (progress) progress(Progress{stage, e});
      };
    };
    const Clock::time_point edge_start = Clock::now();
    FloatNetwork edge_net = MakeNetwork({static_cast<int>(dims), config.edge_bottleneck, static_cast<int>(dims)},
                                        config.seed * 1000 + m, true);
    const TrainResult edge_result =
        TrainAutoencoder(edge_net, ztr, zva, config.edge_train, report_to("edge mode " + std::to_string(m)));
    edge_seconds += Seconds(edge_start);
    std::vector<int> cloud_widths = {static_cast<int>(dims)};
    cloud_widths.insert(cloud_widths.end(), config.cloud_hidden.begin(), config.cloud_hidden.end());
    cloud_widths.push_back(static_cast<int>(dims));
    FloatNetwork cloud_net = MakeNetwork(cloud_widths, config.seed * 1000 + 100 + m, config.cloud_linear);
    const TrainResult cloud_result =
        TrainAutoencoder(cloud_net, ztr, zva, config.cloud_train, report_to("cloud mode " + std::to_string(m)));

    spec.networks.push_back(QuantizeNetwork(edge_net, ztr));
    PartSpec part;
    part.network = m;
    part.offset.assign(offset.data(), offset.data() + dims);
    part.inv_scale.assign(inv_scale.data(), inv_scale.data() + dims);
    spec.parts.push_back(part);

    CloudMode base;
    base.offset = part.offset;
    base.inv_scale = part.inv_scale;
    CloudMode float_mode = base;
    float_mode.autoencoder = edge_net;
    const Eigen::VectorXf edge_mse = edge_net.ReconstructionMse(ztr);
    float_mode.autoencoder_scale = 1.0f / Median(std::vector<float>(edge_mse.data(), edge_mse.data() + edge_mse.size()));
    float_mode.bank.resize(dims, 0);
    float_mode.neighbour_scale = 0.0f;
    edge_float.modes.push_back(std::move(float_mode));

    CloudMode cloud_mode = base;
    cloud_mode.autoencoder = cloud_net;
    const Eigen::VectorXf cloud_mse = cloud_net.ReconstructionMse(ztr);
    cloud_mode.autoencoder_scale =
        1.0f / Median(std::vector<float>(cloud_mse.data(), cloud_mse.data() + cloud_mse.size()));
    const auto bank = std::min<Eigen::Index>(config.bank_per_mode, ztr.cols());
    cloud_mode.bank.resize(dims, bank);
    for (Eigen::Index j = 0; j < bank; ++j) cloud_mode.bank.col(j) = ztr.col(j * ztr.cols() / bank);
    cloud_mode.neighbour_scale = 1.0f;
    cloud_mode.PrepareBank();
    cloud.modes.push_back(std::move(cloud_mode));

    modes_report.push_back({{"mode", m},
                            {"training_windows", tr.size()},
                            {"validation_windows", va.size()},
                            {"edge", {{"epochs", edge_result.epochs_run},
                                      {"best_epoch", edge_result.best_epoch},
                                      {"validation_loss", edge_result.best_validation_loss}}},
                            {"cloud", {{"epochs", cloud_result.epochs_run},
                                       {"best_epoch", cloud_result.best_epoch},
                                       {"validation_loss", cloud_result.best_validation_loss}}}});
  }
  report["modes"] = modes_report;
  const double edge_training_seconds = Seconds(start);

  // Nearest-neighbour scale: the typical distance of a validation normal
  // (not in the bank) to the bank, per mode.
  {
    std::vector<std::vector<float>> distances(config.modes);
    std::vector<Eigen::Index> va_normal;
    for (Eigen::Index i = 0; i < count; ++i) {
      const WindowInfo& w = windows[static_cast<std::size_t>(i)];
      if (w.split == Split::kValidation && !w.anomaly && !w.drift) va_normal.push_back(i);
    }
    CloudModel knn_only = cloud;
    for (CloudMode& m : knn_only.modes) m.autoencoder_scale = 0.0f;
    Eigen::MatrixXf raw(window_len * axes, static_cast<Eigen::Index>(va_normal.size()));
    for (std::size_t j = 0; j < va_normal.size(); ++j) {
      std::span<float> col(raw.col(static_cast<Eigen::Index>(j)).data(), window_len * axes);
      if (!WindowValues(dataset, windows[static_cast<std::size_t>(va_normal[j])].ref, col)) return R::Fail("bad window.");
    }
    const std::vector<CloudScore> scores = ScoreBatch(knn_only, extractor, raw);
    for (const CloudScore& s : scores) distances[s.mode].push_back(s.score);
    for (std::uint32_t m = 0; m < config.modes; ++m) {
      const float median = Median(distances[m]);
      cloud.modes[m].neighbour_scale = config.cloud_neighbour_weight * (median > 0.0f ? 1.0f / median : 1.0f);
    }
  }

  // The int8 scores: each mode's MSE divided by its median training MSE.
  spec.thresholds = SigmaThresholds(0.0, 1.0, config.k_low, config.k_high);
  WriteResult written = WriteArtifact(spec);
  if (!written.ok()) return R::Fail("the trained edge artifact is invalid: " + written.error);
  {
    auto runner = EdgeRunner::Create(written.bytes);
    if (!runner.ok()) return R::Fail(runner.error);
    std::vector<std::vector<float>> mse(config.modes);
    for (Eigen::Index i : train_normal) {
      if (!WindowValues(dataset, windows[static_cast<std::size_t>(i)].ref, values)) return R::Fail("bad window.");
      const core::Inference inference = runner.value.Run(values);
      mse[inference.mode].push_back(inference.mse);
    }
    for (std::uint32_t m = 0; m < config.modes; ++m) {
      const float median = Median(mse[m]);
      spec.parts[m].score_scale = median > 0.0f ? 1.0f / median : 1.0f;
    }
  }
  written = WriteArtifact(spec);
  if (!written.ok()) return R::Fail("the trained edge artifact is invalid: " + written.error);

  // Score everything once (the test split too: its scores are not looked at
  // here, only validation and training ones are).
  auto runner = EdgeRunner::Create(written.bytes);
  if (!runner.ok()) return R::Fail(runner.error);
  cloud.threshold = 0.0f;
  ScoredWindows scored = ScoreWindows(dataset, windows, runner.value, cloud, &edge_float);

  std::vector<float> training_scores;
  for (Eigen::Index i : train_normal) training_scores.push_back(scored.edge_score[static_cast<std::size_t>(i)]);
  std::vector<std::uint8_t> validation(windows.size(), 0);
  std::vector<float> val_cloud;
  std::vector<std::uint8_t> val_labels;
  for (std::size_t i = 0; i < windows.size(); ++i) {
    if (windows[i].split == Split::kValidation && !windows[i].drift) {
      validation[i] = 1;
      val_cloud.push_back(scored.cloud_score[i]);
      val_labels.push_back(windows[i].anomaly ? 1 : 0);
    }
  }
  cloud.threshold = BestF1Threshold(val_cloud, val_labels);
  for (std::size_t i = 0; i < windows.size(); ++i) scored.cloud_label[i] = scored.cloud_score[i] > cloud.threshold;

  const std::vector<SweepPoint> sweep = SweepThresholds(scored, validation, training_scores);
  const MeanStd train_ms = ComputeMeanStd(training_scores);
  const HybridResult at_seed_defaults =
      EvaluateTiers(scored, validation, SigmaThresholds(train_ms.mean, train_ms.stddev, config.k_low, config.k_high),
                    config.model_version, dataset);
  const double cloud_f1 = at_seed_defaults.cloud_only.f1;
  SweepPoint chosen = ChooseDefault(sweep, cloud_f1, config.max_f1_loss);
  if (config.fixed_zone) {
    chosen.thresholds = SigmaThresholds(train_ms.mean, train_ms.stddev, config.zone_k_low, config.zone_k_high);
  }
  spec.thresholds = chosen.thresholds;
  written = WriteArtifact(spec);
  if (!written.ok()) return R::Fail("the trained edge artifact is invalid: " + written.error);
  out.artifact = std::move(written.bytes);
  const HybridResult at_chosen = EvaluateTiers(scored, validation, chosen.thresholds, config.model_version, dataset);

  const auto tier_json = [](const TierMetrics& t) {
    return nlohmann::json{{"precision", t.precision}, {"recall", t.recall}, {"f1", t.f1}, {"auc", t.auc},
                          {"escalation_rate", t.escalation_rate}};
  };
  report["thresholds"] = {{"family", chosen.family},
                          {"a", chosen.a},
                          {"b", chosen.b},
                          {"mu", chosen.thresholds.mu},
                          {"sigma", chosen.thresholds.sigma},
                          {"k_low", chosen.thresholds.k_low},
                          {"k_high", chosen.thresholds.k_high},
                          {"low", chosen.thresholds.low},
                          {"high", chosen.thresholds.high}};
  report["validation"] = {{"at_chosen_thresholds",
                           {{"edge_only", tier_json(at_chosen.edge_only)},
                            {"hybrid", tier_json(at_chosen.hybrid)},
                            {"cloud_only", tier_json(at_chosen.cloud_only)}}},
                          {"at_k_2_4", {{"hybrid", tier_json(at_seed_defaults.hybrid)}}}};
  nlohmann::json auc = nlohmann::json::object();
  for (const auto& [name, detector_scores] : {std::pair<const char*, const std::vector<float>*>{"edge", &scored.edge_score},
                                     {"edge_float", &scored.edge_float_score},
                                     {"cloud", &scored.cloud_score}}) {
    for (const auto& [speed, value] : AucBySpeed(scored, dataset, Split::kValidation, *detector_scores)) {
      auc[name][speed] = value;
    }
  }
  report["validation"]["auc_by_speed"] = auc;
  report["cloud_threshold"] = cloud.threshold;
  report["edge_artifact_bytes"] = out.artifact.size();
  report["cloud_model_bytes"] = EncodeCloudModel(cloud).size();
  report["cloud_parameters"] = cloud.ParameterCount();
  report["seconds"] = {{"edge_networks", edge_seconds},
                       {"features_modes_and_all_networks", edge_training_seconds},
                       {"total", Seconds(start)}};
  out.report = report.dump(2);
  return R::Ok(std::move(out));
}

}  // namespace edgefleet::ml
