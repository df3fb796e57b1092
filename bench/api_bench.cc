// The API's hot handlers without a socket: POST /classify (parse + score +
// enqueue, the 20-40 us budget of issue 4) and its parts, GET /model/version
// and GET /api/updates/check, on a real ServerContext (SQLite in a temporary
// folder, models trained here on the shipped recordings).
//
//   build/bin/edgefleet-bench-api [--benchmark_filter=Classify]
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "common/crypto.h"
#include "ml/cloud_model.h"
#include "ml/dataset.h"
#include "ml/training.h"
#include "server/api/classify.h"
#include "server/api/context.h"
#include "server/clock.h"
#include "server/registry.h"

namespace {

using namespace edgefleet;

struct Setup {
  std::filesystem::path dir;
  server::SystemClock clock;
  std::unique_ptr<server::api::ServerContext> ctx;
  server::http::Routes routes;
  std::string body;
  std::string token = "efd_bench_token";

  Setup() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "edgefleet-bench-XXXXXX").string();
    dir = ::mkdtemp(tmpl.data());
    auto data = ml::LoadRecordings(ml::DefaultDataPath().value);
    ml::PipelineConfig config;
    auto trained = ml::TrainModels(data.value, config);
    (void)ml::SaveCloudModel(trained.value.cloud, dir / "cloud.efcm");
    std::filesystem::create_directories(dir / "keys");
    auto key = common::Ed25519PrivateKey::Generate();
    (void)common::WritePrivateKeyPem(key.value(), server::PrivateKeyPath(dir));
    server::api::ServerConfig sc;
    sc.data_dir = dir.string();
    (void)sc.Resolve();
    ctx = std::move(server::api::OpenServerContext(sc, clock).value());
    (void)ctx->store->AddDevice("fan-0001", common::Sha256Hex(token).value(), 0);
    (void)ctx->registry->Publish(common::AsBytes(std::string(trained.value.artifact.begin(), trained.value.artifact.end())), {});
    routes = server::api::BuildRoutes(*ctx);
    const ml::Recording* r = data.value.Find("normal_med");
    body = "{\"device_id\":\"fan-0001\",\"features\":[";
    for (std::size_t i = 0; i < 300; ++i) {
      body += (i ? "," : "") + std::to_string(static_cast<float>(r->counts[3000 + i]) / 2048.0f);
    }
    body += "],\"edge_mse\":0.021,\"model_version\":1}";
  }
  ~Setup() {
    ctx.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  server::http::Response Call(server::http::Method method, std::string_view target, std::string_view body_text) {
    server::http::Request r;
    r.method = method;
    r.target = target;
    const std::size_t q = target.find('?');
    r.path = target.substr(0, q);
    r.query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
    r.body = body_text;
    const std::string auth = "Bearer " + token;
    r.headers = {{"Authorization", auth}, {"Host", "127.0.0.1:8000"}};
    return routes.Dispatch(r);
  }
};

Setup* g_setup = nullptr;  // made on first use; deleted by main after the run (its data dir with it)

Setup& S() {
  if (g_setup == nullptr) g_setup = new Setup;
  return *g_setup;
}

void BM_ClassifyHandler(benchmark::State& state) {
  Setup& s = S();
  for (auto _ : state) {
    auto r = s.Call(server::http::Method::kPost, "/classify", s.body);
    if (r.status != 200) state.SkipWithError(r.body.c_str());
    benchmark::DoNotOptimize(r);
  }
  s.ctx->writer->Flush();
}
BENCHMARK(BM_ClassifyHandler)->Unit(benchmark::kMicrosecond);

void BM_ClassifyParse(benchmark::State& state) {
  Setup& s = S();
  for (auto _ : state) {
    server::http::Response bad;
    auto r = server::api::ParseClassifyRequest(s.body, &bad);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ClassifyParse)->Unit(benchmark::kMicrosecond);

// The part of the parse that keeps the features' text for the escalation log.
void BM_FeaturesArrayText(benchmark::State& state) {
  Setup& s = S();
  for (auto _ : state) benchmark::DoNotOptimize(server::api::FeaturesArrayText(s.body));
}
BENCHMARK(BM_FeaturesArrayText)->Unit(benchmark::kMicrosecond);

void BM_CloudScore(benchmark::State& state) {
  Setup& s = S();
  server::http::Response bad;
  const auto req = server::api::ParseClassifyRequest(s.body, &bad).value();
  ml::SpectralFeatures features(s.ctx->cloud->window_len, s.ctx->cloud->axes);
  for (auto _ : state) benchmark::DoNotOptimize(ml::Score(*s.ctx->cloud, features, req.features));
}
BENCHMARK(BM_CloudScore)->Unit(benchmark::kMicrosecond);

void BM_ModelVersion(benchmark::State& state) {
  Setup& s = S();
  for (auto _ : state) benchmark::DoNotOptimize(s.Call(server::http::Method::kGet, "/model/version", ""));
}
BENCHMARK(BM_ModelVersion)->Unit(benchmark::kMicrosecond);

void BM_UpdateCheck(benchmark::State& state) {
  Setup& s = S();
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.Call(server::http::Method::kGet,
                                    "/api/updates/check?device_id=fan-0001&current_version=0&device_ram_mb=512&"
                                    "firmware_version=1.0.0",
                                    ""));
  }
}
BENCHMARK(BM_UpdateCheck)->Unit(benchmark::kMicrosecond);

// The background writer's database half: one transaction of batch rows.
void BM_StoreEscalationBatch(benchmark::State& state) {
  Setup& s = S();
  std::vector<store::Escalation> batch(static_cast<std::size_t>(state.range(0)));
  for (store::Escalation& e : batch) {
    e.device_id = "fan-0001";
    e.received_ms = 1;
    e.features.assign(300, 0.0123f);
    e.edge_mse = 0.02;
    e.cloud_mse = 1.5;
    e.confidence = 0.7;
  }
  for (auto _ : state) benchmark::DoNotOptimize(s.ctx->store->InsertEscalations(batch));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_StoreEscalationBatch)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  delete g_setup;  // stops the writer, removes the temporary data dir (the store grows by ~1 GB a run)
  return 0;
}
