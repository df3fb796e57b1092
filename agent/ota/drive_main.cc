// edgefleet-ota-drive: the OTA engine alone, on the real platform (POSIX
// files, libcurl, the system clock), for crash tests with real kill -9 and
// for trying an update against a server by hand. It runs the model it
// starts with through the core on the golden windows (one per tick), feeds
// those inferences to the health check, and prints one line per state
// change:
//   state=<state> version=<running version> source=<builtin|disk|backup>
//
//   edgefleet-ota-drive --dir DIR --server URL --device-id ID --trusted-key PEM
//                       [--token T] [--chunk-bytes N] [--check-ms N]
//                       [--health-ms N] [--until-terminal] [--probe]
//
// --probe: open, pick the startup model (finishing a rollback a crash left),
// validate it on the golden windows, print it and exit: 0 if the device
// would run a valid model, 1 if it is bricked.
// Exit status: 0 done, 1 failure, 2 bad usage.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "agent/ota/engine.h"
#include "agent/ota/platform/curl_http_client.h"
#include "agent/ota/platform/posix_filesystem.h"
#include "core/detector.h"

namespace {

using namespace edgefleet;

int Usage(const char* why) {
  std::fprintf(stderr, "edgefleet-ota-drive: %s (see the header of agent/ota/drive_main.cc)\n", why);
  return 2;
}

struct Runner {
  std::shared_ptr<const ota::Model> model;
  std::vector<std::uint64_t> arena;
  core::Detector detector;

  bool Load(std::shared_ptr<const ota::Model> m) {
    arena.assign((core::RequiredArenaBytes(m->view()) + 7) / 8, 0);
    auto d = core::Detector::Create(m->view(), arena.data(), arena.size() * 8);
    if (!d.ok()) return false;
    detector = d.value;
    model = std::move(m);
    return true;
  }
};

}  // namespace

int main(int argc, char** argv) {
  ota::OtaConfig config;
  std::string key_path;
  bool until_terminal = false, probe = false;
  config.health.min_inferences = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string { return i + 1 < argc ? argv[++i] : std::string(); };
    try {
      if (arg == "--dir") config.model_dir = value();
      else if (arg == "--server") config.server_url = value();
      else if (arg == "--device-id") config.device_id = value();
      else if (arg == "--token") config.token = value();
      else if (arg == "--trusted-key") key_path = value();
      else if (arg == "--chunk-bytes") config.chunk_bytes = std::stoull(value());
      else if (arg == "--check-ms") config.check_interval_ms = std::stoll(value());
      else if (arg == "--health-ms") config.health.period_ms = config.health.grace_ms = std::stoll(value());
      else if (arg == "--until-terminal") until_terminal = true;
      else if (arg == "--probe") probe = true;
      else return Usage(("unknown argument " + arg).c_str());
    } catch (const std::exception&) {
      return Usage(("bad value for " + arg).c_str());
    }
  }
  if (config.model_dir.empty() || config.device_id.empty() || key_path.empty()) {
    return Usage("--dir, --device-id and --trusted-key are required");
  }
  auto key = common::ReadPublicKeyPem(key_path);
  if (!key.ok()) return Usage(key.error().message().c_str());
  config.trusted_keys = {key.value()};
  config.device_ram_mb = 512;
  config.firmware_version = "1.0.0";
  config.retry_initial_ms = 20;
  config.retry_max_ms = 200;
  config.report_retry_ms = 50;
  config.http_timeout = std::chrono::milliseconds(2'000);

  ota::PosixFilesystem fs;
  ota::CurlHttpClient http;
  ota::SystemClock clock;
  auto opened = ota::OtaEngine::Open(config, {fs, http, clock, nullptr});
  if (!opened.ok()) {
    std::fprintf(stderr, "edgefleet-ota-drive: %s\n", opened.error().message().c_str());
    return 1;
  }
  ota::OtaEngine& engine = *opened.value();
  Runner runner;
  auto startup = engine.StartupModel();
  const auto& golden = ota::BuiltinGoldenWindows();
  if (!startup || !runner.Load(startup) ||
      !ota::Validate(*startup, golden, config.validation).ok()) {
    std::printf("bricked\n");
    return 1;
  }
  const auto print = [&] {
    std::printf("state=%s version=%lld source=%s\n", ota::ToString(engine.state()),
                static_cast<long long>(runner.model->version()), ota::ToString(runner.model->source()));
    std::fflush(stdout);
  };
  print();
  if (probe) return 0;
  engine.SetActivateCallback([&](std::shared_ptr<const ota::Model> m) -> common::Expected<void> {
    if (!runner.Load(std::move(m))) return common::Error(common::ErrorCode::kInternal, "the detector refused the model");
    return common::Ok();
  });
  ota::State last = engine.state();
  std::size_t next_window = 0;
  const std::uint64_t attempt = engine.record().attempt;
  while (true) {
    const std::int64_t due = engine.Tick();
    if (engine.state() != last) {
      last = engine.state();
      print();
    }
    if (until_terminal && ota::IsTerminal(engine.state()) && engine.record().attempt > 0 &&
        engine.record().attempt >= attempt && engine.reports().pending().empty()) {
      break;
    }
    const auto& w = golden[next_window++ % golden.size()];
    const auto start = std::chrono::steady_clock::now();
    const auto inference = runner.detector.Run(w.values.data(), w.values.size());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    engine.RecordInference(ms, inference.ok() ? inference.value.decision.zone : core::Zone::kNormal, !inference.ok());
    const std::int64_t wait = std::clamp<std::int64_t>(due - clock.NowMs(), 0, 20);
    std::this_thread::sleep_for(std::chrono::milliseconds(wait));
  }
  print();
  engine.Shutdown();
  return 0;
}
