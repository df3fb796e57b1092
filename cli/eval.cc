// `edgefleet eval`: edge-only, hybrid and cloud-only on the held-out test
// captures, per condition, the drift files, and the zone sweep.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/train.h"
#include "ml/evaluation.h"
#include "ml/metrics.h"
#include "ml/plot.h"
#include "ml/training.h"

namespace edgefleet::cli {
namespace {

ml::DataResult<std::vector<std::uint8_t>> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ml::DataResult<std::vector<std::uint8_t>>::Fail("cannot open " + path.string() + ".");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ml::DataResult<std::vector<std::uint8_t>>::Ok(std::move(bytes));
}

// "anomaly_low_weight" -> "low", "normal_med" -> "med".
std::string Speed(const std::string& name) {
  const std::size_t first = name.find('_');
  if (first == std::string::npos) return "";
  const std::size_t second = name.find('_', first + 1);
  return name.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
}

nlohmann::json TierJson(const ml::TierMetrics& t) {
  return {{"precision", t.precision},
          {"recall", t.recall},
          {"f1", t.f1},
          {"auc", t.auc},
          {"escalation_rate", t.escalation_rate},
          {"bytes_uploaded", t.bytes_uploaded},
          {"bytes_uploaded_seed_client", t.seed_bytes_uploaded}};
}

double AucOf(const std::vector<float>& scores, const std::vector<std::size_t>& negatives,
             const std::vector<std::size_t>& positives) {
  std::vector<float> s;
  std::vector<std::uint8_t> l;
  for (std::size_t i : negatives) {
    s.push_back(scores[i]);
    l.push_back(0);
  }
  for (std::size_t i : positives) {
    s.push_back(scores[i]);
    l.push_back(1);
  }
  return ml::RocAuc(s, l);
}

}  // namespace

int Eval(const EvalArgs& args) {
  auto dataset = LoadData(args.data);
  if (!dataset.ok()) return Fail(dataset.error);
  const ml::Dataset& ds = dataset.value;
  const std::filesystem::path dir = args.models;
  auto artifact = ReadFile(dir / ml::kEdgeArtifactFile);
  if (!artifact.ok()) return Fail(artifact.error);
  auto edge = ml::EdgeRunner::Create(artifact.value);
  if (!edge.ok()) return Fail(edge.error);
  auto cloud = ml::LoadCloudModel(dir / ml::kCloudModelFile);
  if (!cloud.ok()) return Fail(cloud.error);
  std::optional<ml::CloudModel> edge_float;
  if (std::filesystem::exists(dir / ml::kEdgeFloatFile)) {
    auto loaded = ml::LoadCloudModel(dir / ml::kEdgeFloatFile);
    if (!loaded.ok()) return Fail(loaded.error);
    edge_float = std::move(loaded.value);
  }

  const ml::PipelineConfig defaults;
  const ml::ScoredWindows s =
      ml::ScoreWindows(ds, ml::DescribeWindows(ds, args.seed, defaults.drift_files), edge.value, cloud.value,
                       edge_float ? &*edge_float : nullptr);
  const core::Thresholds thresholds = edge.value.model().thresholds;
  const std::uint32_t version = edge.value.model().model_version;
  const std::size_t n = s.windows.size();

  std::vector<std::uint8_t> test(n, 0);
  for (std::size_t i = 0; i < n; ++i) test[i] = s.windows[i].split == ml::Split::kTest && !s.windows[i].drift;
  const ml::HybridResult tiers = ml::EvaluateTiers(s, test, thresholds, version, ds);

  // Final hybrid decision of every window.
  std::vector<std::uint8_t> decision(n);
  std::vector<core::Zone> zone(n);
  for (std::size_t i = 0; i < n; ++i) {
    const core::TierDecision d = core::Decide(s.edge_score[i], thresholds);
    zone[i] = d.zone;
    decision[i] = d.escalate() ? s.cloud_label[i] : static_cast<std::uint8_t>(d.label == core::Label::kAnomaly);
  }

  nlohmann::json out;
  out["edge_only"] = TierJson(tiers.edge_only);
  out["hybrid"] = TierJson(tiers.hybrid);
  out["cloud_only"] = TierJson(tiers.cloud_only);

  // Per recording: test windows (all windows for the drift files).
  nlohmann::json per_condition = nlohmann::json::object();
  nlohmann::json false_alarm = nlohmann::json::object();
  nlohmann::json drift = nlohmann::json::object();
  std::map<std::string, std::vector<std::size_t>> test_of;   // recording -> test windows
  std::map<std::string, std::vector<std::size_t>> train_of;  // recording -> training windows
  std::map<std::string, std::vector<std::size_t>> all_of;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string& name = ds.recordings[s.windows[i].ref.recording].name;
    all_of[name].push_back(i);
    if (s.windows[i].split == ml::Split::kTest) test_of[name].push_back(i);
    if (s.windows[i].split == ml::Split::kTrain) train_of[name].push_back(i);
  }
  for (const auto& [name, all] : all_of) {
    const bool is_drift = s.windows[all.front()].drift;
    const std::vector<std::size_t>& idx = is_drift ? all : test_of[name];
    std::size_t flagged = 0;
    std::size_t escalated = 0;
    std::size_t edge_flagged = 0;
    for (std::size_t i : idx) {
      flagged += decision[i];
      escalated += zone[i] == core::Zone::kAmbiguous;
      edge_flagged += zone[i] == core::Zone::kAnomaly ||
                      (zone[i] == core::Zone::kAmbiguous && core::FallbackLabel(s.edge_score[i], thresholds) == core::Label::kAnomaly);
    }
    const double count = static_cast<double>(idx.size());
    per_condition[name] = {{"windows", idx.size()},
                           {"anomaly", s.windows[all.front()].anomaly},
                           {"flagged_rate", idx.empty() ? 0.0 : static_cast<double>(flagged) / count},
                           {"edge_only_flagged_rate", idx.empty() ? 0.0 : static_cast<double>(edge_flagged) / count},
                           {"escalation_rate", idx.empty() ? 0.0 : static_cast<double>(escalated) / count}};
    if (is_drift) {
      false_alarm[name] = idx.empty() ? 0.0 : static_cast<double>(flagged) / count;
      const std::string reference = "normal_" + Speed(name);
      const auto& ref = train_of[reference];
      drift[name] = {{"reference", reference + " (training captures)"},
                     {"edge_auc", AucOf(s.edge_score, ref, all)},
                     {"cloud_auc", AucOf(s.cloud_score, ref, all)}};
    }
  }
  out["false_alarm"] = false_alarm;
  out["per_condition"] = per_condition;
  out["drift_auc"] = drift;

  // Same-speed AUC: normal_<speed> test windows against anomaly_<speed>_* ones.
  nlohmann::json by_speed = nlohmann::json::object();
  std::vector<std::size_t> all_normal;
  std::vector<std::size_t> all_anomaly;
  for (const auto& [name, idx] : test_of) {
    if (s.windows[idx.front()].drift) continue;
    auto& bucket = s.windows[idx.front()].anomaly ? all_anomaly : all_normal;
    bucket.insert(bucket.end(), idx.begin(), idx.end());
    if (!s.windows[idx.front()].anomaly) continue;
    const std::string speed = Speed(name);
    const auto& normals = test_of["normal_" + speed];
    nlohmann::json entry = {{"edge_auc", AucOf(s.edge_score, normals, idx)},
                            {"cloud_auc", AucOf(s.cloud_score, normals, idx)}};
    if (!s.edge_float_score.empty()) entry["edge_float_auc"] = AucOf(s.edge_float_score, normals, idx);
    by_speed[speed] = entry;
  }
  nlohmann::json all_entry = {{"edge_auc", AucOf(s.edge_score, all_normal, all_anomaly)},
                              {"cloud_auc", AucOf(s.cloud_score, all_normal, all_anomaly)}};
  if (!s.edge_float_score.empty()) all_entry["edge_float_auc"] = AucOf(s.edge_float_score, all_normal, all_anomaly);
  by_speed["all"] = all_entry;
  out["auc_by_speed"] = by_speed;
  out["thresholds"] = {{"low", thresholds.low}, {"high", thresholds.high}, {"mu", thresholds.mu},
                       {"sigma", thresholds.sigma}, {"k_low", thresholds.k_low}, {"k_high", thresholds.k_high}};
  out["test_windows"] = tiers.hybrid.windows;
  out["cloud_threshold"] = cloud.value.threshold;

  if (!args.scores.empty()) {
    // edge_mse is the edge's score: its reconstruction MSE divided by the
    // mode's typical MSE, the value the thresholds apply to; cloud_mse is the
    // cloud detector's score. With the thresholds in the JSON output, every
    // figure can be recomputed from this file.
    std::ofstream csv(args.scores);
    if (!csv) return Fail("cannot write " + args.scores + ".");
    csv << "file,capture,window,split,edge_mse,zone,cloud_mse,decision\n";
    for (std::size_t i = 0; i < n; ++i) {
      if (!test[i] && !s.windows[i].drift) continue;
      const ml::WindowRef& r = s.windows[i].ref;
      char line[256];
      std::snprintf(line, sizeof(line), "%s,%u,%u,%s,%.9g,%s,%.9g,%u\n", ds.recordings[r.recording].name.c_str(),
                    r.capture, r.window_in_capture, ml::ToString(s.windows[i].split),
                    static_cast<double>(s.edge_score[i]), core::ToString(zone[i]),
                    static_cast<double>(s.cloud_score[i]), decision[i]);
      csv << line;
    }
    if (!csv) return Fail("cannot write " + args.scores + ".");
  }

  if (!args.sweep_csv.empty() || !args.sweep_svg.empty()) {
    std::vector<float> training_scores;
    for (std::size_t i = 0; i < n; ++i) {
      if (s.windows[i].split == ml::Split::kTrain && !s.windows[i].anomaly && !s.windows[i].drift) {
        training_scores.push_back(s.edge_score[i]);
      }
    }
    const std::vector<ml::SweepPoint> sweep = ml::SweepThresholds(s, test, training_scores);
    if (!args.sweep_csv.empty()) {
      std::ofstream csv(args.sweep_csv);
      csv << "family,a,b,low,high,escalation_rate,hybrid_f1\n";
      for (const ml::SweepPoint& p : sweep) {
        csv << p.family << ',' << p.a << ',' << p.b << ',' << p.thresholds.low << ',' << p.thresholds.high << ','
            << p.escalation_rate << ',' << p.hybrid_f1 << '\n';
      }
      if (!csv) return Fail("cannot write " + args.sweep_csv + ".");
    }
    if (!args.sweep_svg.empty()) {
      // The Pareto front of each family: best F1 at each escalation rate.
      ml::PlotSpec plot;
      plot.title = "Zone sweep (test captures): best hybrid F1 at each escalation rate";
      plot.x_label = "escalation rate (share of windows sent to the cloud)";
      plot.y_label = "F1";
      for (const char* family : {"sigma", "quantile"}) {
        std::map<double, double> front;
        for (const ml::SweepPoint& p : sweep) {
          if (p.family != family) continue;
          double& best = front[p.escalation_rate];
          best = std::max(best, p.hybrid_f1);
        }
        ml::PlotSeries series;
        series.name = std::string("hybrid, ") + (std::string(family) == "sigma" ? "mu + k sigma" : "quantiles");
        double running = 0.0;
        for (const auto& [x, y] : front) {
          if (y <= running) continue;
          running = y;
          series.points.emplace_back(x, y);
        }
        plot.series.push_back(series);
      }
      plot.hlines.push_back({"cloud-only F1", tiers.cloud_only.f1});
      plot.hlines.push_back({"edge-only F1 (defaults)", tiers.edge_only.f1});
      plot.markers.push_back({"shipped defaults", tiers.hybrid.escalation_rate, tiers.hybrid.f1});
      plot.width = 900;
      std::ofstream svg(args.sweep_svg);
      svg << ml::RenderSvg(plot);
      if (!svg) return Fail("cannot write " + args.sweep_svg + ".");
    }
  }

  if (args.json) {
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("test captures: %zu windows (seed %llu)\n", static_cast<std::size_t>(tiers.hybrid.windows),
              static_cast<unsigned long long>(args.seed));
  std::printf("%-11s %9s %7s %7s %7s %10s %14s\n", "tier", "precision", "recall", "f1", "auc", "escalated",
              "bytes up");
  const auto row = [](const char* name, const ml::TierMetrics& t) {
    std::printf("%-11s %9.3f %7.3f %7.3f %7.3f %9.1f%% %14llu\n", name, t.precision, t.recall, t.f1, t.auc,
                100.0 * t.escalation_rate, static_cast<unsigned long long>(t.bytes_uploaded));
  };
  row("edge-only", tiers.edge_only);
  row("hybrid", tiers.hybrid);
  row("cloud-only", tiers.cloud_only);
  std::printf("\nAUC by speed (same-speed normal vs anomaly test windows):\n");
  for (const auto& [speed, e] : by_speed.items()) {
    std::printf("  %-5s edge %.3f  cloud %.3f", speed.c_str(), e["edge_auc"].get<double>(), e["cloud_auc"].get<double>());
    if (e.contains("edge_float_auc")) std::printf("  edge float %.3f", e["edge_float_auc"].get<double>());
    std::printf("\n");
  }
  std::printf("\nfalse alarms on drift recordings (all windows, hybrid decision):\n");
  for (const auto& [name, rate] : false_alarm.items()) {
    std::printf("  %-20s %.3f  (AUC vs training-day normals: edge %.3f, cloud %.3f)\n", name.c_str(),
                rate.get<double>(), drift[name]["edge_auc"].get<double>(), drift[name]["cloud_auc"].get<double>());
  }
  return 0;
}

}  // namespace edgefleet::cli
