// edgefleet-mcu-fixture: writes the header that the bare-metal acceptance
// program (mcu/target/main.cc) embeds, so a Cortex-M4F runs the same core on
// the same bytes as the host and can check that it gets the same answer.
//
//   edgefleet-mcu-fixture OUT.h [DATA]
//   edgefleet-mcu-fixture OUT.efm [DATA]   (the artifact alone, for `make demo`)
//
// DATA is the packed recordings or a CSV folder (ml/dataset.h); by default
// ml::DefaultDataPath(). The header holds:
//   kArtifact   a realistic edge model: a 300-16-8-16-300 time-domain int8
//               autoencoder (He-initialised, not trained: the point is the
//               arithmetic, not the accuracy), normalised by the per-feature
//               spread of kCalibrationWindows real normal_low windows,
//               quantized on them, thresholds from their float-path MSEs;
//   kWindow     one real window that is not among them (a test-split capture);
//   kExpected*  what core::Detector and core::FeatureSummary compute for it on
//               this host.
// Deterministic: the same data gives the same header, byte for byte.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "core/artifact.h"
#include "core/detector.h"
#include "core/summary.h"
#include "ml/artifact_writer.h"
#include "ml/dataset.h"
#include "ml/network.h"
#include "ml/quantize.h"

namespace edgefleet::mcu {
namespace {

constexpr const char* kRecording = "normal_low";
constexpr std::uint64_t kSplitSeed = 1;
constexpr std::uint64_t kNetworkSeed = 4;  // ml::MakeAutoencoder
constexpr std::size_t kCalibrationWindows = 200;
constexpr std::uint32_t kWindowLen = ml::kWindowRows;
constexpr std::uint32_t kAxes = static_cast<std::uint32_t>(ml::kAxes);
constexpr std::uint32_t kFeatures = kWindowLen * kAxes;
constexpr int kSummaryWindows = 2;  // the probe window added twice: exercises the running merge

struct Fixture {
  std::string source;  // where the windows came from, for the header's comment
  std::vector<std::uint8_t> artifact;
  std::vector<float> window;
  core::Inference expected;
  float float_mse = 0.0f;  // the float network's MSE on the window (comment only)
  std::size_t host_arena_bytes = 0;
  core::Thresholds thresholds;
  core::SummaryConfig summary_config;
  float summary[core::kSummaryValues] = {};
};

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "edgefleet-mcu-fixture: %s\n", message.c_str());
  std::exit(1);
}

// The core's time-domain features before normalisation: each axis minus its
// window mean, computed in the same order and precision as core/detector.cc.
Eigen::VectorXf MeanRemoved(const std::vector<float>& window) {
  Eigen::VectorXf f(kFeatures);
  for (std::uint32_t a = 0; a < kAxes; ++a) {
    float mean = 0.0f;
    for (std::uint32_t i = 0; i < kWindowLen; ++i) mean += window[i * kAxes + a];
    mean /= static_cast<float>(kWindowLen);
    for (std::uint32_t i = 0; i < kWindowLen; ++i) {
      f(i * kAxes + a) = window[i * kAxes + a] - mean;
    }
  }
  return f;
}

Fixture Build(const std::filesystem::path& data_path) {
  auto dataset = ml::LoadRecordings(data_path);
  if (!dataset.ok()) Fail(dataset.error);
  const ml::Recording* recording = dataset.value.Find(kRecording);
  if (recording == nullptr) Fail(data_path.string() + " has no recording " + kRecording);

  // Calibration from training captures, the probe window from a test capture.
  std::vector<std::vector<float>> calibration_windows;
  std::vector<float> probe;
  ml::WindowRef probe_ref;
  for (const ml::WindowRef& ref : ml::Windows(dataset.value)) {
    const ml::Recording& rec = dataset.value.recordings[ref.recording];
    if (&rec != recording) continue;
    const ml::Split split = ml::AssignSplit(rec.name, ref.capture, kSplitSeed);
    const bool want_calibration =
        split == ml::Split::kTrain && calibration_windows.size() < kCalibrationWindows;
    const bool want_probe = split == ml::Split::kTest && probe.empty();
    if (!want_calibration && !want_probe) continue;
    std::vector<float> values(kFeatures);
    if (!ml::WindowValues(dataset.value, ref, values)) Fail("cannot read a window of " + rec.name);
    if (want_calibration) {
      calibration_windows.push_back(std::move(values));
    } else {
      probe = std::move(values);
      probe_ref = ref;
    }
    if (calibration_windows.size() == kCalibrationWindows && !probe.empty()) break;
  }
  if (calibration_windows.size() < kCalibrationWindows || probe.empty()) {
    Fail(std::string("too few windows in ") + kRecording);
  }

  // Normalisation: offset 0, inv_scale = 1 / per-feature standard deviation.
  const auto n = static_cast<Eigen::Index>(calibration_windows.size());
  Eigen::MatrixXf raw(kFeatures, n);
  for (Eigen::Index c = 0; c < n; ++c) {
    raw.col(c) = MeanRemoved(calibration_windows[static_cast<std::size_t>(c)]);
  }
  const Eigen::VectorXf feature_mean = raw.rowwise().mean();
  const Eigen::VectorXf feature_std =
      ((raw.colwise() - feature_mean).array().square().rowwise().sum() / static_cast<float>(n)).sqrt();
  std::vector<float> inv_scale(kFeatures);
  for (std::uint32_t i = 0; i < kFeatures; ++i) {
    inv_scale[i] = 1.0f / std::max(feature_std(i), 1e-6f);
  }
  Eigen::MatrixXf calibration(kFeatures, n);
  for (Eigen::Index c = 0; c < n; ++c) {
    for (std::uint32_t i = 0; i < kFeatures; ++i) {
      calibration(i, c) = (raw(i, c) - 0.0f) * inv_scale[i];  // as the core normalises
    }
  }

  const ml::FloatNetwork network = ml::MakeAutoencoder({300, 16, 8, 16, 300}, kNetworkSeed);
  const Eigen::VectorXf mse = network.ReconstructionMse(calibration);
  const double mu = static_cast<double>(mse.mean());
  const double sigma = std::sqrt(static_cast<double>((mse.array() - mse.mean()).square().mean()));

  ml::ArtifactSpec spec;
  spec.model_id = "mcu-fixture";
  spec.window_len = kWindowLen;
  spec.axes = kAxes;
  spec.sample_rate_hz = ml::kSampleRateHz;
  spec.kind = core::FeatureKind::kTime;
  spec.networks.push_back(ml::QuantizeNetwork(network, calibration));
  spec.parts.push_back(ml::PartSpec{0, 1.0f, std::vector<float>(kFeatures, 0.0f), inv_scale});
  core::Thresholds& t = spec.thresholds;
  t.mu = static_cast<float>(mu);
  t.sigma = static_cast<float>(sigma);
  t.low = static_cast<float>(mu + static_cast<double>(t.k_low) * sigma);
  t.high = static_cast<float>(mu + static_cast<double>(t.k_high) * sigma);
  ml::WriteResult written = ml::WriteArtifact(spec);
  if (!written.ok()) Fail(written.error);

  Fixture fixture;
  fixture.source = data_path.filename().string() + ", " + kRecording + " capture " +
                   std::to_string(probe_ref.capture) + " window " +
                   std::to_string(probe_ref.window_in_capture) + " (rows " +
                   std::to_string(probe_ref.first_row) + ".." +
                   std::to_string(probe_ref.first_row + kWindowLen - 1) + ")";
  fixture.artifact = std::move(written.bytes);
  fixture.window = probe;
  fixture.thresholds = t;

  // What the host core says: the numbers the device must reproduce.
  auto model = core::ParseArtifact(fixture.artifact.data(), fixture.artifact.size());
  if (!model.ok()) Fail(std::string("the artifact does not parse: ") + core::ToString(model.status));
  fixture.host_arena_bytes = core::RequiredArenaBytes(model.value);
  std::vector<std::uint64_t> arena((fixture.host_arena_bytes + 7) / 8);
  // The portable kernels, the ones the device runs: what remains between host
  // and device is then the compilers' doing, not the AVX2 kernels' order of
  // summing the squared errors (tests/core/kernels_test.cc compares those).
  auto detector =
      core::Detector::Create(model.value, arena.data(), arena.size() * 8, core::KernelIsa::kPortable);
  if (!detector.ok()) Fail(std::string("Detector::Create: ") + core::ToString(detector.status));
  auto inference = detector.value.Run(probe.data(), probe.size());
  if (!inference.ok()) Fail(std::string("Detector::Run: ") + core::ToString(inference.status));
  fixture.expected = inference.value;

  Eigen::MatrixXf z(kFeatures, 1);
  const Eigen::VectorXf probe_features = MeanRemoved(probe);
  for (std::uint32_t i = 0; i < kFeatures; ++i) z(i, 0) = probe_features(i) * inv_scale[i];
  fixture.float_mse = network.ReconstructionMse(z)(0);

  fixture.summary_config = core::SummaryConfig{kWindowLen, ml::kSampleRateHz, 0.0f, 2.0f * t.high};
  std::vector<std::uint64_t> summary_arena((core::FeatureSummary::RequiredBytes(kWindowLen) + 7) / 8);
  auto summary = core::FeatureSummary::Create(fixture.summary_config, summary_arena.data(),
                                              summary_arena.size() * 8);
  if (!summary.ok()) Fail(std::string("FeatureSummary::Create: ") + core::ToString(summary.status));
  for (int i = 0; i < kSummaryWindows; ++i) {
    if (summary.value.Add(probe.data(), probe.size(), fixture.expected.score) != core::Status::kOk) {
      Fail("FeatureSummary::Add failed");
    }
  }
  summary.value.Values(fixture.summary);
  return fixture;
}

// A float literal that reads back to exactly `v`: C++17 hexadecimal.
std::string HexFloat(float v) {
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%af", static_cast<double>(v));
  return buffer;
}

// A decimal float literal with enough digits to read back to exactly `v`.
std::string DecimalFloat(float v) {
  char buffer[48];
  std::snprintf(buffer, sizeof(buffer), "%.9g", static_cast<double>(v));
  std::string text = buffer;
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text + "f";
}

std::string Render(const Fixture& f) {
  std::string out;
  auto line = [&out](const std::string& text) { out += text + "\n"; };
  line("// Generated by edgefleet-mcu-fixture (mcu/fixture_main.cc); do not edit.");
  line("// Window: " + f.source + ".");
  line("// Float-path MSE of the window: " + DecimalFloat(f.float_mse) +
       "; host RequiredArenaBytes: " + std::to_string(f.host_arena_bytes) + ".");
  const core::Thresholds& t = f.thresholds;
  line("// Thresholds from the float-path MSEs of the calibration windows: mu " + DecimalFloat(t.mu) +
       ", sigma " + DecimalFloat(t.sigma) + ", low " + DecimalFloat(t.low) + ", high " +
       DecimalFloat(t.high) + ".");
  line("#pragma once");
  line("");
  line("#include <cstddef>");
  line("#include <cstdint>");
  line("");
  line("namespace edgefleet::mcu::fixture {");
  line("");
  line("// " + std::to_string(f.artifact.size()) + " bytes: 300-16-8-16-300 int8 autoencoder, time features.");
  line("alignas(8) const unsigned char kArtifact[] = {");
  for (std::size_t i = 0; i < f.artifact.size(); i += 16) {
    std::string row = " ";
    for (std::size_t j = i; j < f.artifact.size() && j < i + 16; ++j) {
      char byte[8];
      std::snprintf(byte, sizeof(byte), " 0x%02x,", f.artifact[j]);
      row += byte;
    }
    line(row);
  }
  line("};");
  line("");
  line("// One real window: " + std::to_string(kWindowLen) + " samples of x, y, z interleaved, in g (count / 2048).");
  line("const float kWindow[" + std::to_string(f.window.size()) + "] = {");
  for (std::size_t i = 0; i < f.window.size(); i += kAxes) {
    std::string row = " ";
    for (std::size_t j = i; j < i + kAxes; ++j) row += " " + DecimalFloat(f.window[j]) + ",";
    line(row);
  }
  line("};");
  line("");
  line("// core::Detector::Run(kWindow) on the host.");
  line("constexpr float kExpectedMse = " + HexFloat(f.expected.mse) + ";  // " + DecimalFloat(f.expected.mse));
  line("constexpr float kExpectedScore = " + HexFloat(f.expected.score) + ";  // " +
       DecimalFloat(f.expected.score));
  line("constexpr std::uint8_t kExpectedZone = " +
       std::to_string(static_cast<unsigned>(f.expected.decision.zone)) + ";  // " +
       core::ToString(f.expected.decision.zone));
  line("constexpr std::uint8_t kExpectedLabel = " +
       std::to_string(static_cast<unsigned>(f.expected.decision.label)) + ";  // " +
       core::ToString(f.expected.decision.label));
  line("constexpr float kExpectedConfidence = " + HexFloat(f.expected.decision.confidence) + ";  // " +
       DecimalFloat(f.expected.decision.confidence));
  line("constexpr std::uint32_t kExpectedMode = " + std::to_string(f.expected.mode) + ";");
  line("");
  line("// core::FeatureSummary over kWindow added " + std::to_string(kSummaryWindows) +
       " times with kExpectedScore, on the host.");
  line("constexpr std::uint32_t kSummaryWindowLen = " + std::to_string(f.summary_config.window_len) + ";");
  line("constexpr std::uint32_t kSummarySampleRateHz = " + std::to_string(f.summary_config.sample_rate_hz) + ";");
  line("constexpr float kSummaryScoreMin = " + HexFloat(f.summary_config.score_min) + ";");
  line("constexpr float kSummaryScoreMax = " + HexFloat(f.summary_config.score_max) + ";");
  line("constexpr int kSummaryWindows = " + std::to_string(kSummaryWindows) + ";");
  line("constexpr float kExpectedSummary[" + std::to_string(core::kSummaryValues) + "] = {");
  for (std::size_t i = 0; i < core::kSummaryValues; ++i) {
    line("    " + HexFloat(f.summary[i]) + ",  // " + DecimalFloat(f.summary[i]));
  }
  line("};");
  line("");
  line("}  // namespace edgefleet::mcu::fixture");
  return out;
}

// Writes `text` to `path` through a temporary file and a rename, so a build
// never sees half a header.
void WriteFile(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (file == nullptr) Fail("cannot create " + temporary.string());
  const bool written = std::fwrite(text.data(), 1, text.size(), file) == text.size();
  if (std::fclose(file) != 0 || !written) Fail("cannot write " + temporary.string());
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) Fail("cannot rename " + temporary.string() + ": " + ec.message());
}

}  // namespace
}  // namespace edgefleet::mcu

int main(int argc, char** argv) {
  using namespace edgefleet;
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: edgefleet-mcu-fixture OUT.h|OUT.efm [DATA]\n");
    return 2;
  }
  std::filesystem::path data_path;
  if (argc == 3) {
    data_path = argv[2];
  } else {
    auto found = ml::DefaultDataPath();
    if (!found.ok()) mcu::Fail(found.error);
    data_path = found.value;
  }
  const mcu::Fixture fixture = mcu::Build(data_path);
  const std::filesystem::path out = argv[1];
  if (out.extension() == ".efm") {
    mcu::WriteFile(out, std::string(fixture.artifact.begin(), fixture.artifact.end()));
  } else {
    mcu::WriteFile(out, mcu::Render(fixture));
  }
  std::printf("edgefleet-mcu-fixture: %s: %zu-byte artifact, score %.7g (%s), mode %u\n", argv[1],
              fixture.artifact.size(), static_cast<double>(fixture.expected.score),
              core::ToString(fixture.expected.decision.zone), static_cast<unsigned>(fixture.expected.mode));
  return 0;
}
