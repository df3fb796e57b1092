#include "agent/ota/validation.h"

#include <charconv>
#include <cmath>
#include <sstream>

#include "core/detector.h"

extern "C" {
extern const unsigned char edgefleet_golden_windows[];
extern const unsigned long edgefleet_golden_windows_size;
}

namespace edgefleet::ota {
namespace {

using common::Error;
using common::ErrorCode;

constexpr std::uint32_t kWindowLen = 100;
constexpr std::uint32_t kAxes = 3;
constexpr float kCountsPerG = 2048.0f;

std::vector<std::string_view> Split(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = line.find(',', start);
    out.push_back(line.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

common::Expected<std::vector<GoldenWindow>> ParseGoldenWindows(std::string_view csv) {
  std::vector<GoldenWindow> windows;
  std::size_t line_no = 0;
  while (!csv.empty()) {
    const std::size_t nl = csv.find('\n');
    const std::string_view line = csv.substr(0, nl);
    csv.remove_prefix(nl == std::string_view::npos ? csv.size() : nl + 1);
    ++line_no;
    if (line.empty() || line.front() == '#') continue;
    const auto fields = Split(line);
    const auto bad = [&](const char* what) {
      return Error(ErrorCode::kCorrupt, "golden windows line " + std::to_string(line_no) + ": " + what);
    };
    if (fields.size() != 4 + kWindowLen * kAxes) return bad("wrong number of fields");
    GoldenWindow w;
    w.name = std::string(fields[0]) + "#" + std::string(fields[1]) + "." + std::string(fields[2]);
    if (fields[3] == "normal") {
      w.label = core::Label::kNormal;
    } else if (fields[3] == "anomaly") {
      w.label = core::Label::kAnomaly;
    } else {
      return bad("label is neither normal nor anomaly");
    }
    w.values.reserve(kWindowLen * kAxes);
    for (std::size_t i = 4; i < fields.size(); ++i) {
      int count = 0;
      const auto [end, ec] = std::from_chars(fields[i].data(), fields[i].data() + fields[i].size(), count);
      if (ec != std::errc() || end != fields[i].data() + fields[i].size()) return bad("a count is not an integer");
      w.values.push_back(static_cast<float>(count) / kCountsPerG);
    }
    windows.push_back(std::move(w));
  }
  if (windows.empty()) return Error(ErrorCode::kCorrupt, "golden windows: none");
  return windows;
}

const std::vector<GoldenWindow>& BuiltinGoldenWindows() {
  static const std::vector<GoldenWindow> windows = [] {
    auto parsed = ParseGoldenWindows(std::string_view(reinterpret_cast<const char*>(edgefleet_golden_windows),
                                                      edgefleet_golden_windows_size));
    return parsed.ok() ? std::move(parsed).value() : std::vector<GoldenWindow>{};
  }();
  return windows;
}

common::Expected<ValidationReport> Validate(const Model& model, const std::vector<GoldenWindow>& windows,
                                            const ValidationTolerances& tolerances) {
  const core::ModelView& view = model.view();
  if (view.window_len != kWindowLen || view.axes != kAxes) {
    return Error(ErrorCode::kFailedPrecondition,
                 "validation: the model reads windows of " + std::to_string(view.window_len) + " x " +
                     std::to_string(view.axes) + ", the agent's are 100 x 3");
  }
  if (windows.empty()) return Error(ErrorCode::kFailedPrecondition, "validation: no golden windows");
  std::vector<std::uint64_t> arena((core::RequiredArenaBytes(view) + 7) / 8);
  auto detector = core::Detector::Create(view, arena.data(), arena.size() * 8);
  if (!detector.ok()) {
    return Error(ErrorCode::kFailedPrecondition,
                 std::string("validation: preparing the model: ") + core::ToString(detector.status));
  }
  ValidationReport report;
  for (const GoldenWindow& w : windows) {
    const auto inference = detector.value.Run(w.values.data(), w.values.size());
    if (!inference.ok() || !std::isfinite(inference.value.score)) {
      return Error(ErrorCode::kFailedPrecondition, "validation: golden window " + w.name + " does not run (" +
                                                       core::ToString(inference.status) + ")");
    }
    const core::Zone zone = inference.value.decision.zone;
    if (zone == core::Zone::kAmbiguous) ++report.ambiguous;
    if (w.label == core::Label::kNormal) {
      ++report.normal_windows;
      if (zone == core::Zone::kAnomaly) ++report.normal_flagged;
    } else {
      ++report.anomaly_windows;
      if (zone == core::Zone::kNormal) ++report.anomaly_missed;
    }
  }
  const auto fraction = [](std::uint32_t n, std::uint32_t of) { return of == 0 ? 0.0 : static_cast<double>(n) / of; };
  if (fraction(report.normal_flagged, report.normal_windows) > tolerances.max_normal_flagged) {
    return Error(ErrorCode::kFailedPrecondition,
                 "validation: " + std::to_string(report.normal_flagged) + " of " + std::to_string(report.normal_windows) +
                     " normal golden windows decided anomalous (tolerance " +
                     std::to_string(static_cast<int>(tolerances.max_normal_flagged * 100)) + "%)");
  }
  if (fraction(report.anomaly_missed, report.anomaly_windows) > tolerances.max_anomaly_missed) {
    return Error(ErrorCode::kFailedPrecondition,
                 "validation: " + std::to_string(report.anomaly_missed) + " of " + std::to_string(report.anomaly_windows) +
                     " anomalous golden windows decided normal (tolerance " +
                     std::to_string(static_cast<int>(tolerances.max_anomaly_missed * 100)) + "%)");
  }
  return report;
}

}  // namespace edgefleet::ota
