// The cloud detector's speed, one window at a time and batched, on real
// windows with the model `edgefleet train` makes from the shipped recordings
// (trained once at start-up, a few seconds). Results: docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>

#include "ml/bank_products.h"
#include "ml/cloud_model.h"
#include "ml/dataset.h"
#include "ml/evaluation.h"
#include "ml/training.h"

namespace {

using edgefleet::ml::CloudModel;

struct Fixture {
  CloudModel cloud;
  CloudModel edge_float;
  std::vector<std::uint8_t> artifact;
  Eigen::MatrixXf windows;  // 300 x 1024 real windows
};

const Fixture& Get() {
  static const Fixture fixture = [] {
    Fixture f;
    auto path = edgefleet::ml::DefaultDataPath();
    auto data = path.ok() ? edgefleet::ml::LoadRecordings(path.value)
                          : edgefleet::ml::DataResult<edgefleet::ml::Dataset>::Fail(path.error);
    if (!data.ok()) {
      std::fprintf(stderr, "%s\n", data.error.c_str());
      std::exit(1);
    }
    auto trained = edgefleet::ml::TrainModels(data.value, edgefleet::ml::PipelineConfig());
    if (!trained.ok()) {
      std::fprintf(stderr, "%s\n", trained.error.c_str());
      std::exit(1);
    }
    f.cloud = std::move(trained.value.cloud);
    f.edge_float = std::move(trained.value.edge_float);
    f.artifact = std::move(trained.value.artifact);
    const auto refs = edgefleet::ml::Windows(data.value);
    f.windows.resize(300, 1024);
    for (Eigen::Index i = 0; i < 1024; ++i) {
      const auto& ref = refs[static_cast<std::size_t>(i) * refs.size() / 1024];
      if (!edgefleet::ml::WindowValues(data.value, ref, std::span<float>(f.windows.col(i).data(), 300))) std::exit(1);
    }
    return f;
  }();
  return fixture;
}

void BM_CloudScoreOne(benchmark::State& state) {
  const Fixture& f = Get();
  edgefleet::ml::SpectralFeatures features(100, 3);
  Eigen::Index i = 0;
  for (auto _ : state) {
    auto s = edgefleet::ml::Score(f.cloud, features, std::span<const float>(f.windows.col(i).data(), 300));
    benchmark::DoNotOptimize(s);
    i = (i + 1) % f.windows.cols();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CloudScoreOne);

// The shipped edge model (spectral, 4 modes, 90-4-90 int8) through the core,
// as a device runs it, against the same networks in float with Eigen.
void BM_EdgeTrainedInt8(benchmark::State& state) {
  const Fixture& f = Get();
  auto runner = edgefleet::ml::EdgeRunner::Create(f.artifact);
  if (!runner.ok()) std::exit(1);
  Eigen::Index i = 0;
  for (auto _ : state) {
    auto inference = runner.value.Run(std::span<const float>(f.windows.col(i).data(), 300));
    benchmark::DoNotOptimize(inference);
    i = (i + 1) % f.windows.cols();
  }
  state.counters["artifact_bytes"] = static_cast<double>(f.artifact.size());
}
BENCHMARK(BM_EdgeTrainedInt8);

void BM_EdgeTrainedFloat(benchmark::State& state) {
  const Fixture& f = Get();
  edgefleet::ml::SpectralFeatures features(100, 3);
  Eigen::Index i = 0;
  for (auto _ : state) {
    auto s = edgefleet::ml::Score(f.edge_float, features, std::span<const float>(f.windows.col(i).data(), 300));
    benchmark::DoNotOptimize(s);
    i = (i + 1) % f.windows.cols();
  }
}
BENCHMARK(BM_EdgeTrainedFloat);

void BM_CloudScoreBatch(benchmark::State& state) {
  const Fixture& f = Get();
  edgefleet::ml::SpectralFeatures features(100, 3);
  const Eigen::MatrixXf batch = f.windows.leftCols(state.range(0));
  for (auto _ : state) {
    auto s = edgefleet::ml::ScoreBatch(f.cloud, features, batch);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CloudScoreBatch)->Arg(16)->Arg(128)->Arg(1024);

}  // namespace

// The kNN's inner products of one window with a mode's bank (512 x 90 as
// trained), Eigen's product against the AVX2 + FMA kernel (arg 1; skipped
// where the CPU lacks it).
void BM_BankProducts(benchmark::State& state) {
  const Fixture& f = Get();
  const edgefleet::ml::CloudMode& mode = f.cloud.modes.front();
  const auto isa = state.range(0) ? edgefleet::ml::BankIsa::kAvx2 : edgefleet::ml::BankIsa::kEigen;
  if (isa == edgefleet::ml::BankIsa::kAvx2 && !edgefleet::ml::BankProductsUseAvx2()) {
    state.SkipWithError("no AVX2 + FMA here");
    return;
  }
  const Eigen::VectorXf z = mode.bank.col(1) * 0.5f;
  std::vector<float> out(static_cast<std::size_t>(mode.bank.cols()));
  for (auto _ : state) {
    edgefleet::ml::BankProducts(mode.bank, mode.bank_panels, z.data(), out.data(), isa);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["windows"] = static_cast<double>(mode.bank.cols());
  state.counters["features"] = static_cast<double>(mode.bank.rows());
}
BENCHMARK(BM_BankProducts)->Arg(0)->Arg(1);

BENCHMARK_MAIN();
