// One window through preprocessing, inference and decision: the int8 core
// against a float reference with Eigen, on real ceiling-fan windows.
//
//   build/bin/edgefleet-bench-core [--benchmark_filter=...]
//
// Models: the default edge model shape 300-16-8-16-300 on time features, and
// its spectral equivalent 75-32-8-32-75 (25 log bins per axis) with a
// four-mode selector. Both are calibrated on real windows; the float path
// runs the same network unquantized with preallocated Eigen buffers.
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <cstdio>
#include <vector>

#include "core/detector.h"
#include "ml/dataset.h"
#include "tests/core/fixtures.h"

namespace {

using namespace edgefleet;

struct Setup {
  std::vector<std::vector<float>> windows;  // real windows, all conditions
  testing::BuiltModel time_model;
  testing::BuiltModel spectral_model;
};

const Setup& GetSetup() {
  static const Setup setup = [] {
    Setup s;
    auto path = ml::DefaultDataPath();
    auto data = path.ok() ? ml::LoadRecordings(path.value) : ml::DataResult<ml::Dataset>::Fail(path.error);
    if (!data.ok()) {
      std::fprintf(stderr, "bench: %s\n", data.error.c_str());
      std::exit(1);
    }
    const auto refs = ml::Windows(data.value);
    for (std::size_t i = 0; i < refs.size(); i += refs.size() / 512) {
      std::vector<float> w(300);
      if (ml::WindowValues(data.value, refs[i], w)) s.windows.push_back(std::move(w));
    }
    s.time_model = testing::BuildTimeModel(s.windows, {300, 16, 8, 16, 300}, 1);
    s.spectral_model = testing::BuildSpectralModel(s.windows, {0.0f, 5.0f, 10.0f, 20.0f}, 1);
    return s;
  }();
  return setup;
}

using Loaded = testing::LoadedModel;

// The float reference: same preprocessing (the core's, in float), the float
// network with Eigen and no allocation in the loop, the same decision.
class FloatReference {
 public:
  explicit FloatReference(const ml::FloatNetwork& net) : net_(net) {
    for (const auto& layer : net_.layers) buffers_.emplace_back(layer.out());
  }

  core::TierDecision Run(const float* z, Eigen::Index n, const core::Thresholds& t) {
    Eigen::Map<const Eigen::VectorXf> input(z, n);
    for (std::size_t l = 0; l < net_.layers.size(); ++l) {
      const auto& layer = net_.layers[l];
      if (l == 0) {
        buffers_[l].noalias() = layer.weight * input;
      } else {
        buffers_[l].noalias() = layer.weight * buffers_[l - 1];
      }
      buffers_[l] += layer.bias;
      if (layer.activation == core::Activation::kRelu) buffers_[l] = buffers_[l].cwiseMax(0.0f);
    }
    const float mse = (buffers_.back() - input).squaredNorm() / static_cast<float>(n);
    return core::Decide(mse, t);
  }

 private:
  const ml::FloatNetwork& net_;
  std::vector<Eigen::VectorXf> buffers_;
};

void Int8Window(benchmark::State& state, const testing::BuiltModel& model) {
  const auto& windows = GetSetup().windows;
  Loaded m(model.bytes);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& w = windows[i++ % windows.size()];
    auto r = m.detector.Run(w.data(), w.size());
    benchmark::DoNotOptimize(r);
  }
  state.counters["arena_bytes"] = static_cast<double>(core::RequiredArenaBytes(m.view));
  state.counters["artifact_bytes"] = static_cast<double>(model.bytes.size());
}

void FloatWindow(benchmark::State& state, const testing::BuiltModel& model) {
  const auto& windows = GetSetup().windows;
  Loaded m(model.bytes);
  FloatReference reference(model.network);
  const auto n = static_cast<Eigen::Index>(model.spec.feature_count());
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& w = windows[i++ % windows.size()];
    const float* z = nullptr;
    auto mode = m.detector.Preprocess(w.data(), w.size(), &z);
    benchmark::DoNotOptimize(mode);
    auto d = reference.Run(z, n, m.view.thresholds);
    benchmark::DoNotOptimize(d);
  }
}

void Preprocess(benchmark::State& state, const testing::BuiltModel& model) {
  const auto& windows = GetSetup().windows;
  Loaded m(model.bytes);
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& w = windows[i++ % windows.size()];
    const float* z = nullptr;
    auto mode = m.detector.Preprocess(w.data(), w.size(), &z);
    benchmark::DoNotOptimize(mode);
    benchmark::DoNotOptimize(z);
  }
}

void BM_Int8_Time(benchmark::State& s) { Int8Window(s, GetSetup().time_model); }
void BM_Float_Time(benchmark::State& s) { FloatWindow(s, GetSetup().time_model); }
void BM_Preprocess_Time(benchmark::State& s) { Preprocess(s, GetSetup().time_model); }
void BM_Int8_Spectral(benchmark::State& s) { Int8Window(s, GetSetup().spectral_model); }
void BM_Float_Spectral(benchmark::State& s) { FloatWindow(s, GetSetup().spectral_model); }
void BM_Preprocess_Spectral(benchmark::State& s) { Preprocess(s, GetSetup().spectral_model); }

BENCHMARK(BM_Int8_Time);
BENCHMARK(BM_Float_Time);
BENCHMARK(BM_Preprocess_Time);
BENCHMARK(BM_Int8_Spectral);
BENCHMARK(BM_Float_Spectral);
BENCHMARK(BM_Preprocess_Spectral);

}  // namespace

BENCHMARK_MAIN();
