#include "cli/demo/report.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>

#include "ml/cloud_model.h"
#include "ml/evaluation.h"
#include "ml/features.h"

namespace edgefleet::cli::demo {
namespace {

std::string Num(std::int64_t v, bool ok) { return ok ? std::to_string(v) : std::string("?"); }

struct Confusion {
  std::int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  void Add(bool truth, bool said) {
    if (truth && said) ++tp;
    if (!truth && said) ++fp;
    if (!truth && !said) ++tn;
    if (truth && !said) ++fn;
  }
  std::int64_t n() const { return tp + fp + tn + fn; }
  double Accuracy() const { return n() ? static_cast<double>(tp + tn) / static_cast<double>(n()) : 0; }
  double Precision() const { return tp + fp ? static_cast<double>(tp) / static_cast<double>(tp + fp) : 0; }
  double Recall() const { return tp + fn ? static_cast<double>(tp) / static_cast<double>(tp + fn) : 0; }
  double F1() const {
    const double p = Precision(), r = Recall();
    return p + r > 0 ? 2 * p * r / (p + r) : 0;
  }
  double FalseAlarm() const { return fp + tn ? static_cast<double>(fp) / static_cast<double>(fp + tn) : 0; }
};

std::vector<std::uint8_t> ReadBytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

double Pct(std::int64_t a, std::int64_t b) { return b > 0 ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0; }

}  // namespace

void PrintLiveTable(const std::vector<DeviceRun>& devices, const std::filesystem::path& server_db,
                    const std::string& phase, double elapsed_s) {
  std::printf("  [%6.1f s] %s\n", elapsed_s, phase.c_str());
  std::printf("    %-8s %6s %6s %7s %6s %8s %7s %7s %5s\n", "device", "rows", "normal", "anomaly", "cloud", "fallback",
              "buffer", "server", "model");
  for (const DeviceRun& d : devices) {
    const AgentCounts a = ReadAgent(d.buffer);
    const ServerCounts s = ReadServer(server_db, d.replay.id);
    std::printf("    %-8s %6s %6s %7s %6s %8s %7s %7s %5s\n", d.replay.id.c_str(), Num(a.rows, a.ok).c_str(),
                Num(a.normal, a.ok).c_str(), Num(a.anomaly, a.ok).c_str(), Num(s.escalations, s.ok).c_str(),
                Num(a.fallbacks, a.ok).c_str(), Num(a.pending_all, a.ok).c_str(), Num(s.rows, s.ok).c_str(),
                a.ok && a.model_version > 0 ? ("v" + std::to_string(a.model_version)).c_str() : "-");
  }
  std::fflush(stdout);
}

SummaryResult PrintSummary(const SummaryInputs& in) {
  SummaryResult result;
  result.rows_equal = true;
  result.all_on_final = true;
  std::int64_t cloud = 0, fallbacks = 0, bytes = 0, seed_bytes = 0, server_rows = 0, hard = 0, server_hard = 0;
  std::int64_t health = 0, server_health = 0;
  std::printf("\n== summary\n");
  std::printf("  %-8s %7s %7s %6s %6s %8s %8s %9s %7s  %s\n", "device", "rows", "synced", "cloud", "fallbk", "bytes",
              "seedJSON", "exit", "model", "OTA states reported to the server");
  for (DeviceRun& d : *in.devices) {
    const AgentCounts a = ReadAgent(d.buffer);
    const ServerCounts s = ReadServer(in.server_db, d.replay.id);
    const std::int64_t json = SeedJsonBytes(d.buffer, d.replay.id);
    const bool equal = a.ok && s.ok && a.rows == s.rows && s.rows == s.distinct_seq && a.pending_all == 0 &&
                       a.hard_samples == s.hard_samples && a.health == s.health;
    if (!equal) result.rows_equal = false;
    if (!(s.reported_model == in.final_version && a.model_version == in.final_version)) result.all_on_final = false;
    std::string ota;
    for (const auto& [status, version] : s.ota) ota += (ota.empty() ? "" : " > ") + status + "(v" + std::to_string(version) + ")";
    if (ota.empty()) ota = "(none)";
    std::printf("  %-8s %7lld %7lld %6lld %6lld %8lld %8lld %9s %7s  %s%s\n", d.replay.id.c_str(),
                static_cast<long long>(a.rows), static_cast<long long>(s.rows),
                static_cast<long long>(s.escalations), static_cast<long long>(a.fallbacks),
                static_cast<long long>(a.bytes_sent), static_cast<long long>(json),
                d.exit_status == 0 ? "0" : std::to_string(d.exit_status).c_str(),
                ("v" + std::to_string(s.reported_model)).c_str(), ota.c_str(), equal ? "" : "  ROWS DIFFER");
    result.rows_produced += a.rows;
    result.rows_synced += s.rows;
    server_rows += s.rows;
    cloud += s.escalations;
    fallbacks += a.fallbacks;
    bytes += a.bytes_sent;
    seed_bytes += json;
    hard += a.hard_samples;
    server_hard += s.hard_samples;
    health += a.health;
    server_health += s.health;
  }
  const std::int64_t rows = result.rows_produced;
  const std::int64_t escalated = cloud + fallbacks;
  std::printf("\n  decisions per tier:  edge %lld (%.1f%%), cloud %lld (%.1f%%), fallback %lld (%.1f%%) of %lld windows\n",
              static_cast<long long>(rows - escalated), Pct(rows - escalated, rows), static_cast<long long>(cloud),
              Pct(cloud, rows), static_cast<long long>(fallbacks), Pct(fallbacks, rows), static_cast<long long>(rows));
  std::printf("  escalation rate:     %.1f%% (%lld windows sent to the cloud or decided by fallback)\n",
              Pct(escalated, rows), static_cast<long long>(escalated));
  std::printf("  fallbacks:           %lld (cloud unreachable or in backoff)\n", static_cast<long long>(fallbacks));
  std::printf("  rows synced:         %lld of %lld produced%s; hard samples %lld of %lld; health rows %lld of %lld\n",
              static_cast<long long>(server_rows), static_cast<long long>(rows),
              result.rows_equal ? " (equal, each exactly once)" : " (NOT EQUAL)", static_cast<long long>(server_hard),
              static_cast<long long>(hard), static_cast<long long>(server_health), static_cast<long long>(health));
  std::printf("  bytes uploaded:      %lld by /api/sync (columnar + zstd) vs %lld for the same rows as the seeds' "
              "JSON (%.1fx smaller)\n",
              static_cast<long long>(bytes), static_cast<long long>(seed_bytes),
              bytes > 0 ? static_cast<double>(seed_bytes) / static_cast<double>(bytes) : 0.0);
  std::printf("  OTA:                 %s on model v%lld\n",
              result.all_on_final ? "every device" : "NOT every device", static_cast<long long>(in.final_version));

  // Edge-only vs hybrid vs cloud-only on the windows actually replayed.
  std::vector<std::unique_ptr<ml::EdgeRunner>> runners;
  for (const auto& p : in.edge_models) {
    auto r = ml::EdgeRunner::Create(ReadBytes(p));
    if (!r.ok()) {
      std::printf("  (tier table skipped: %s)\n", r.error.c_str());
      return result;
    }
    runners.push_back(std::make_unique<ml::EdgeRunner>(std::move(r.value)));
  }
  auto cloud_model = ml::LoadCloudModel(in.cloud_model);
  if (!cloud_model.ok() || runners.empty()) {
    std::printf("  (tier table skipped: %s)\n", cloud_model.ok() ? "no edge model" : cloud_model.error.c_str());
    return result;
  }
  ml::SpectralFeatures features(cloud_model.value.window_len, cloud_model.value.axes);
  Confusion edge, hybrid, cloud_only;
  std::vector<float> values(ml::kAxes * ml::kWindowRows);
  for (const DeviceRun& d : *in.devices) {
    for (const AgentRow& row : ReadAgentRows(d.buffer)) {
      const auto i = static_cast<std::size_t>(row.seq - 1);
      if (row.seq < 1 || i >= d.replay.windows.size()) continue;
      if (!ml::WindowValues(*in.data, d.replay.windows[i], values)) continue;
      const bool truth = in.data->recordings[d.replay.recording[i]].anomaly;
      const std::size_t m = row.model_version >= 1 && static_cast<std::size_t>(row.model_version) <= runners.size()
                                ? static_cast<std::size_t>(row.model_version - 1)
                                : 0;
      const core::Inference inf = runners[m]->Run(values);
      edge.Add(truth, inf.decision.label == core::Label::kAnomaly);
      hybrid.Add(truth, row.decision == "anomaly");
      cloud_only.Add(truth, ml::Score(cloud_model.value, features, values).anomaly);
    }
  }
  std::printf("\n  on the %lld windows the fleet replayed (truth: the recording's condition):\n",
              static_cast<long long>(hybrid.n()));
  std::printf("    %-28s %9s %9s %7s %6s %11s %10s\n", "tier", "accuracy", "precision", "recall", "F1", "false alarm",
              "to cloud");
  auto line = [](const char* name, const Confusion& c, double to_cloud) {
    std::printf("    %-28s %8.1f%% %8.1f%% %6.1f%% %6.3f %10.1f%% %9.1f%%\n", name, 100 * c.Accuracy(),
                100 * c.Precision(), 100 * c.Recall(), c.F1(), 100 * c.FalseAlarm(), to_cloud);
  };
  line("edge only (artifact, local)", edge, 0.0);
  line("hybrid (what happened)", hybrid, Pct(cloud, rows));
  line("cloud only (every window)", cloud_only, 100.0);
  return result;
}

}  // namespace edgefleet::cli::demo
