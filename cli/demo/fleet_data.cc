#include "cli/demo/fleet_data.h"

#include <cstdio>

namespace edgefleet::cli::demo {
namespace {

// Each mix ends up visiting every condition it names in turns of kSegment
// windows (10 one-second captures).
constexpr std::size_t kSegment = 20;

const std::vector<std::vector<std::string>>& Mixes() {
  static const std::vector<std::vector<std::string>> mixes = {
      {"normal_high", "anomaly_high_weight", "normal_low"},
      {"normal_low_deploy", "normal_med", "anomaly_med_weight"},
      {"normal_low", "anomaly_low_weight"},
      {"normal_med", "anomaly_med_weight"},
      {"normal_off", "normal_low_moving", "normal_high"},
      {"normal_med", "normal_high", "anomaly_low_weight"},
      {"normal_low", "normal_low_deploy"},
      {"anomaly_high_weight", "normal_med", "normal_off"},
  };
  return mixes;
}

}  // namespace

std::vector<std::string> MixOf(std::size_t index) { return Mixes()[index % Mixes().size()]; }

std::string WriteReplay(const ml::Dataset& data, std::size_t index, std::size_t windows,
                        const std::filesystem::path& csv, DeviceReplay* out) {
  const std::vector<ml::WindowRef> all = ml::Windows(data);
  const std::vector<std::string> mix = MixOf(index);
  // Windows of each recording of the mix, in order.
  std::vector<std::vector<ml::WindowRef>> pools;
  std::vector<std::uint32_t> pool_recording;
  for (const std::string& name : mix) {
    const ml::Recording* r = data.Find(name);
    if (r == nullptr) return "the recordings have no '" + name + "'.";
    const auto rec = static_cast<std::uint32_t>(r - data.recordings.data());
    std::vector<ml::WindowRef> pool;
    for (const auto& w : all) {
      if (w.recording == rec) pool.push_back(w);
    }
    if (pool.empty()) return "recording '" + name + "' has no whole window.";
    pools.push_back(std::move(pool));
    pool_recording.push_back(rec);
  }
  std::FILE* f = std::fopen(csv.c_str(), "w");
  if (f == nullptr) return "cannot write " + csv.string() + ".";
  std::fprintf(f, "x,y,z\n");
  out->csv = csv;
  out->mix.clear();
  for (const auto& m : mix) out->mix += (out->mix.empty() ? "" : "+") + m;
  out->recording.clear();
  out->windows.clear();
  std::vector<std::size_t> next(pools.size());
  for (std::size_t p = 0; p < pools.size(); ++p) next[p] = (index * 97 + p * 31) % pools[p].size();
  std::vector<float> values(ml::kAxes * ml::kWindowRows);
  for (std::size_t i = 0; i < windows; ++i) {
    const std::size_t p = (i / kSegment) % pools.size();
    const ml::WindowRef w = pools[p][next[p]];
    next[p] = (next[p] + 1) % pools[p].size();
    if (!ml::WindowValues(data, w, values)) {
      std::fclose(f);
      return "a window of the recordings could not be read.";
    }
    for (std::size_t r = 0; r < ml::kWindowRows; ++r) {
      std::fprintf(f, "%.6f,%.6f,%.6f\n", static_cast<double>(values[r * 3]), static_cast<double>(values[r * 3 + 1]),
                   static_cast<double>(values[r * 3 + 2]));
    }
    out->recording.push_back(pool_recording[p]);
    out->windows.push_back(w);
  }
  if (std::fclose(f) != 0) return "cannot write " + csv.string() + ".";
  return "";
}

}  // namespace edgefleet::cli::demo
