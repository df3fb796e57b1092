#include "tests/core/fixtures.h"

#include <cmath>
#include <random>

#include "core/detector.h"
#include "core/spectrum.h"
#include "core/crc32.h"
#include "ml/quantize.h"

namespace edgefleet::testing {

std::vector<float> FanWindow(float hz, float amplitude, std::uint64_t seed, std::uint32_t window_len) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> noise(-0.02f, 0.02f);
  std::uniform_real_distribution<float> phase(0.0f, 6.2831853f);
  const float tilt[3] = {0.01f, 0.2f, 0.97f};
  std::vector<float> w(window_len * 3);
  const float p[3] = {phase(rng), phase(rng), phase(rng)};
  for (std::uint32_t i = 0; i < window_len; ++i) {
    const float t = static_cast<float>(i) / 200.0f;
    for (int a = 0; a < 3; ++a) {
      w[i * 3 + static_cast<std::uint32_t>(a)] =
          tilt[a] + amplitude * std::sin(6.2831853f * hz * t + p[a]) + noise(rng);
    }
  }
  return w;
}

namespace {

// Raw (un-normalised) features of every window, with a spec whose part is the
// identity: the core computes them, so tests and devices agree.
Eigen::MatrixXf RawFeatures(ml::ArtifactSpec spec, const std::vector<std::vector<float>>& windows) {
  const std::uint32_t f = spec.feature_count();
  for (ml::PartSpec& part : spec.parts) {
    part.offset.assign(f, 0.0f);
    part.inv_scale.assign(f, 1.0f);
  }
  return NormalisedFeatures(spec, windows);
}

// Time features share one scale per axis; spectral bins get their own.
void SetNormalisation(ml::ArtifactSpec& spec, const Eigen::MatrixXf& raw) {
  if (spec.kind == core::FeatureKind::kTime) {
    ml::PartSpec& part = spec.parts[0];
    part.offset.assign(spec.axes, 0.0f);
    part.inv_scale.assign(spec.axes, 1.0f);
    for (std::uint32_t a = 0; a < spec.axes; ++a) {
      double sum = 0.0;
      double sq = 0.0;
      std::size_t n = 0;
      for (Eigen::Index r = a; r < raw.rows(); r += spec.axes) {
        for (Eigen::Index col = 0; col < raw.cols(); ++col) {
          sum += static_cast<double>(raw(r, col));
          sq += static_cast<double>(raw(r, col)) * static_cast<double>(raw(r, col));
          ++n;
        }
      }
      const double mean = sum / static_cast<double>(n);
      const double var = sq / static_cast<double>(n) - mean * mean;
      part.offset[a] = static_cast<float>(mean);
      part.inv_scale[a] = static_cast<float>(1.0 / std::sqrt(var + 1e-9));
    }
    return;
  }
  const Eigen::VectorXf mean = raw.rowwise().mean();
  const Eigen::VectorXf var = (raw.colwise() - mean).array().square().rowwise().mean();
  ml::PartSpec& part = spec.parts[0];
  part.offset.resize(static_cast<std::size_t>(mean.size()));
  part.inv_scale.resize(static_cast<std::size_t>(mean.size()));
  for (Eigen::Index i = 0; i < mean.size(); ++i) {
    part.offset[static_cast<std::size_t>(i)] = mean(i);
    part.inv_scale[static_cast<std::size_t>(i)] = 1.0f / std::sqrt(var(i) + 1e-6f);
  }
}

// Placeholder network of the right shape so the spec can be written before
// the real one is quantized.
std::vector<ml::QuantizedLayer> Placeholder(const ml::FloatNetwork& net) {
  Eigen::MatrixXf zero = Eigen::MatrixXf::Zero(net.layers.front().in(), 1);
  return ml::QuantizeNetwork(net, zero);
}

void Finish(BuiltModel& m, const std::vector<std::vector<float>>& windows) {
  const Eigen::MatrixXf z = NormalisedFeatures(m.spec, windows);
  m.spec.networks = {ml::QuantizeNetwork(m.network, z)};
  const Eigen::VectorXf mse = m.network.ReconstructionMse(z);
  const float mu = mse.mean();
  const float sigma = std::sqrt((mse.array() - mu).square().mean());
  m.spec.thresholds = {mu, sigma, 2.0f, 4.0f, mu + 2.0f * sigma, mu + 4.0f * sigma};
  auto written = ml::WriteArtifact(m.spec);
  m.bytes = std::move(written.bytes);
}

}  // namespace

Eigen::MatrixXf NormalisedFeatures(const ml::ArtifactSpec& spec, const std::vector<std::vector<float>>& windows) {
  ml::ArtifactSpec s = spec;
  s.thresholds = {0.0f, 0.0f, 2.0f, 4.0f, 0.0f, 0.0f};
  auto written = ml::WriteArtifact(s);
  auto view = core::ParseArtifact(written.bytes.data(), written.bytes.size());
  std::vector<std::uint64_t> arena((core::RequiredArenaBytes(view.value) + 7) / 8);
  auto detector = core::Detector::Create(view.value, arena.data(), arena.size() * 8);
  const auto f = static_cast<Eigen::Index>(s.feature_count());
  Eigen::MatrixXf out(f, static_cast<Eigen::Index>(windows.size()));
  for (std::size_t i = 0; i < windows.size(); ++i) {
    const float* z = nullptr;
    auto mode = detector.value.Preprocess(windows[i].data(), windows[i].size(), &z);
    if (!mode.ok()) continue;
    out.col(static_cast<Eigen::Index>(i)) = Eigen::Map<const Eigen::VectorXf>(z, f);
  }
  return out;
}

BuiltModel BuildTimeModel(const std::vector<std::vector<float>>& windows, std::vector<int> widths,
                          std::uint64_t seed) {
  BuiltModel m;
  m.network = ml::MakeAutoencoder(widths, seed);
  m.spec.model_id = "test-time";
  m.spec.kind = core::FeatureKind::kTime;
  m.spec.networks = {Placeholder(m.network)};
  m.spec.parts.resize(1);
  SetNormalisation(m.spec, RawFeatures(m.spec, windows));
  Finish(m, windows);
  return m;
}

BuiltModel BuildSpectralModel(const std::vector<std::vector<float>>& windows,
                              const std::vector<float>& mode_hz, std::uint64_t seed) {
  BuiltModel m;
  m.network = ml::MakeAutoencoder({75, 32, 8, 32, 75}, seed);
  m.spec.model_id = "test-spectral";
  m.spec.kind = core::FeatureKind::kSpectrum;
  m.spec.window = core::WindowFunction::kHann;
  m.spec.spectrum.log_floor = 1e-4f;
  for (std::uint16_t e = 1; e <= 51; e += 2) m.spec.spectrum.edges.push_back(e);  // 25 bins
  m.spec.networks = {Placeholder(m.network)};
  m.spec.parts.resize(1);
  SetNormalisation(m.spec, RawFeatures(m.spec, windows));
  if (mode_hz.size() > 1) {
    ml::ModeSelectorSpec modes;
    modes.spectrum = m.spec.spectrum;
    modes.inv_scale.assign(75, 1.0f);
    // Centroid of each mode: the log spectrum of a clean tone at its speed.
    for (std::size_t k = 0; k < mode_hz.size(); ++k) {
      ml::ArtifactSpec probe = m.spec;
      probe.parts[0].offset.assign(75, 0.0f);
      probe.parts[0].inv_scale.assign(75, 1.0f);
      const Eigen::MatrixXf c = NormalisedFeatures(probe, {FanWindow(mode_hz[k], 0.1f, 1000 + k)});
      modes.centroids.emplace_back(c.data(), c.data() + c.size());
    }
    m.spec.modes = modes;
    const ml::PartSpec base = m.spec.parts[0];
    m.spec.parts.assign(mode_hz.size(), base);
  }
  Finish(m, windows);
  return m;
}

LoadedModel::LoadedModel(const std::vector<std::uint8_t>& bytes) {
  auto parsed = core::ParseArtifact(bytes.data(), bytes.size());
  status = parsed.status;
  if (!parsed.ok()) return;
  view = parsed.value;
  arena.resize(core::RequiredArenaBytes(view) / 8 + 1);
  auto created = core::Detector::Create(view, arena.data(), arena.size() * 8);
  status = created.status;
  detector = created.value;
}

void FixCrc(std::vector<std::uint8_t>& bytes) {
  const auto total = Peek<std::uint32_t>(bytes, 8);
  if (total < 4 || total > bytes.size()) return;
  Poke(bytes, total - 4, core::Crc32(bytes.data(), total - 4));
}

std::size_t FindSection(const std::vector<std::uint8_t>& bytes, std::uint32_t tag) {
  std::size_t at = core::kHeaderSize;
  while (at + 8 <= bytes.size() - 4) {
    if (Peek<std::uint32_t>(bytes, at) == tag) return at;
    at += 8 + Peek<std::uint32_t>(bytes, at + 4);
  }
  return 0;
}

}  // namespace edgefleet::testing
