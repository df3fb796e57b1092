// Writes agent/ota/golden_windows.csv: the real fan windows, with their
// expected labels, that the OTA client runs a new model on before it swaps
// the model in (agent/ota/validation.h). Run from the repository root:
//   build/tests/ota_make_golden_windows > agent/ota/golden_windows.csv
// The windows are those of tests/data/golden/edge-seed1-scores.csv that the
// shipped model decides clearly and correctly (normal recordings in the
// normal zone, anomaly recordings in the anomaly zone); the drift recordings
// (normal_low_deploy, normal_low_moving) are left out, because no model is
// expected to call them normal.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ml/dataset.h"

int main() {
  using namespace edgefleet::ml;
  const auto data = LoadPacked("data/ceiling-fan.efr");
  if (!data.ok()) {
    std::fprintf(stderr, "loading data/ceiling-fan.efr: %s\n", data.error.c_str());
    return 1;
  }
  std::ifstream csv("tests/data/golden/edge-seed1-scores.csv");
  if (!csv) {
    std::fprintf(stderr, "cannot read tests/data/golden/edge-seed1-scores.csv\n");
    return 1;
  }
  std::printf("# edgefleet OTA golden windows v1 (tests/agent/make_golden_windows.cc)\n");
  std::printf("# file,capture,window,label, then 300 counts (x0,y0,z0,x1,...; 1 count = 1/2048 g)\n");
  std::string line;
  std::getline(csv, line);
  std::vector<float> values(kWindowRows * kAxes);
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::string name, capture, window, score, zone;
    std::getline(ss, name, ',');
    std::getline(ss, capture, ',');
    std::getline(ss, window, ',');
    std::getline(ss, score, ',');
    std::getline(ss, zone, ',');
    if (name.find("deploy") != std::string::npos || name.find("moving") != std::string::npos) continue;
    const std::string label = name.rfind("normal", 0) == 0 ? "normal" : "anomaly";
    if (zone != label) continue;
    const Recording* r = data.value.Find(name);
    if (r == nullptr) return 1;
    WindowRef ref;
    ref.recording = static_cast<std::uint32_t>(r - data.value.recordings.data());
    ref.capture = static_cast<std::uint32_t>(std::stoul(capture));
    ref.window_in_capture = static_cast<std::uint32_t>(std::stoul(window));
    ref.first_row = r->capture_starts[ref.capture] + ref.window_in_capture * kWindowRows;
    if (!WindowValues(data.value, ref, values)) return 1;
    std::printf("%s,%s,%s,%s", name.c_str(), capture.c_str(), window.c_str(), label.c_str());
    for (const float v : values) std::printf(",%ld", std::lround(v * kCountsPerG));
    std::printf("\n");
  }
  return 0;
}
