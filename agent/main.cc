// edgefleet-agent: one edge device's runtime (SPEC section 10).
//
//   edgefleet-agent --config agent.toml [--device-id ID --token T --server URL
//                   --broker HOST:PORT --source SPEC --buffer PATH --strategy S
//                   --trusted-key PATH [--trusted-key PATH2] --model PATH ...]
//
// Wires one Agent to the real implementations: the system clock, the SQLite
// buffer, Beast HTTP on the loop's io_context, MQTT through libmosquitto, the
// sysfs power provider, and a sensor source read on its own thread (the only
// other thread besides MQTT's and the OTA worker's), which posts windows to
// the loop. With a trusted key the OTA engine (agent/ota_wiring.h) picks the
// startup model (current.efm, else backup.efm, else the built-in one; the
// `model` file seeds current.efm on a first boot), checks for updates on its
// worker thread and swaps the detector on the loop between two windows.
// SIGTERM and
// SIGINT stop cleanly: in-flight escalations are decided by their fallback,
// the health period is written, one final sync is attempted for at most
// shutdown_sync_timeout_ms, the retained status says "offline", the buffer
// is closed. The end of a CSV or stdin source stops the agent the same way.
// Exit status: 0 clean stop, 1 failure, 2 bad usage.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "agent/agent.h"
#include "agent/buffer.h"
#include "agent/buffer_store.h"
#include "agent/config.h"
#include "agent/http_cloud.h"
#include "agent/mqtt_telemetry.h"
#include "agent/ota_wiring.h"
#include "agent/platform/beast_http_client.h"
#include "agent/platform/clock.h"
#include "agent/platform/power.h"
#include "agent/sensor_source.h"
#include "common/file.h"
#include "common/mqtt.h"
#include "common/this_thread.h"

namespace {

namespace asio = boost::asio;
using namespace edgefleet;          // NOLINT: a main file
using namespace edgefleet::agent;   // NOLINT

void Log(const char* level, const std::string& message) {
  std::fprintf(stderr, "edgefleet-agent %s: %s\n", level, message.c_str());
}

// Where the reader thread posts windows; closed at shutdown so the thread
// never touches a loop that is gone.
struct Mailbox {
  std::mutex mutex;
  asio::io_context* io = nullptr;

  template <typename F>
  bool Post(F&& f) {
    std::lock_guard<std::mutex> lock(mutex);
    if (io == nullptr) return false;
    asio::post(*io, std::forward<F>(f));
    return true;
  }
  void Close() {
    std::lock_guard<std::mutex> lock(mutex);
    io = nullptr;
  }
};

int Run(const AgentSettings& s) {
  for (const auto& key : s.trusted_keys) {
    if (!std::filesystem::exists(key)) {
      Log("error", "the trusted key " + key.string() + " does not exist");
      return 1;
    }
  }
  BufferOptions buffer_options;
  buffer_options.disk_budget_bytes = s.buffer_disk_budget_bytes;
  buffer_options.durability = s.buffer_durability_full ? Durability::kFull : Durability::kNormal;
  auto buffer = Buffer::Open(s.buffer, buffer_options);
  if (!buffer.ok()) {
    Log("error", "cannot open the buffer: " + buffer.error().message());
    return 1;
  }
  BufferStore store(*buffer.value());
  auto source = OpenSource(s.source, s.grid_step_g);
  if (!source.ok()) {
    Log("error", source.error().message());
    return 1;
  }
  std::shared_ptr<SensorSource> sensor(std::move(source).value());

  SystemClock clock;
  asio::io_context io;
  BeastHttpClient http(io, ParseBaseUrl(s.server).value());
  HttpCloudClient cloud(http, s.token, std::chrono::milliseconds(s.agent.escalation_timeout_ms));
  std::unique_ptr<Agent> agent;
  HttpSyncSink sync(http, s.device_id, s.token, s.sync_timeout, [&] {
    sync_codec::DeviceState state = buffer.value()->ReportState().value_or(sync_codec::DeviceState{});
    if (agent) {
      state.model_version = agent->model_version();
      state.backoff_failures = agent->backoff().failures();
      state.backoff_delay_ms = agent->backoff().delay_ms();
    }
    return state;
  });

  std::atomic<std::int64_t> model_version{0};
  std::unique_ptr<mqtt::MqttLink> link;
  std::unique_ptr<MqttTelemetrySink> telemetry_sink;
  if (!s.broker.empty()) {
    mqtt::MqttOptions options;
    options.host = s.broker_host;
    options.port = s.broker_port;
    options.client_id = s.device_id;
    options.username = s.device_id;
    options.password = s.token;
    options.keepalive = std::chrono::seconds(s.mqtt_keepalive_s);
    options.max_queued = s.mqtt_max_queued;
    options.seed = std::hash<std::string>{}(s.device_id);
    options.will = [&model_version, &clock, id = s.device_id]() -> std::optional<mqtt::Message> {
      return mqtt::Message{telemetry::Topic(id, telemetry::Channel::kStatus),
                           telemetry::ToJson(telemetry::OfflineStatus(clock.WallMs(), model_version.load())),
                           mqtt::Qos::kAtLeastOnce, true};
    };
    auto created = mqtt::MqttLink::Create(options);
    if (!created.ok()) {
      Log("error", "MQTT: " + created.error().message());
      return 1;
    }
    link = std::move(created).value();
    if (auto started = link->Start(); !started.ok()) Log("warning", "MQTT: " + started.error().message());
    telemetry_sink = std::make_unique<MqttTelemetrySink>(*link, s.device_id, s.inference, s.firmware_version);
  }

  // The model: from the OTA engine when OTA is on, else the `model` file.
  std::unique_ptr<OtaRunner> ota_runner;
  std::vector<std::uint8_t> model_bytes;
  if (!s.trusted_keys.empty()) {
    auto opened = OtaRunner::Open(s.ota, s.trusted_keys, s.model, link.get());
    if (!opened.ok()) {
      Log("error", "OTA: " + opened.error().message());
      return 1;
    }
    ota_runner = std::move(opened).value();
    const auto startup = ota_runner->StartupModel();
    model_bytes.assign(startup->bytes(), startup->bytes() + startup->size());
    Log("info", std::string("OTA: startup model version ") + std::to_string(startup->version()) + " (" +
                    ota::ToString(startup->source()) + ")");
  } else {
    auto model = common::ReadFile(s.model, 4u << 20);
    if (!model.ok()) {
      Log("error", "cannot read the model: " + model.error().message());
      return 1;
    }
    model_bytes.assign(model.value().begin(), model.value().end());
  }

  std::unique_ptr<PowerProvider> power;
  if (s.power == "sysfs") {
    power = std::make_unique<SysfsPowerProvider>(s.sysfs_root);
  } else if (s.power.rfind("script:", 0) == 0) {
    auto scripted = ScriptedPowerProvider::Load(s.power.substr(7), clock.WallMs());
    if (!scripted.ok()) {
      Log("error", scripted.error().message());
      return 1;
    }
    power = std::make_unique<ScriptedPowerProvider>(std::move(scripted).value());
  }

  AgentDeps deps{&clock, &store, &cloud, &sync, telemetry_sink.get(), power.get()};
  auto created = Agent::Create(s.agent, deps, std::move(model_bytes));
  if (!created.ok()) {
    Log("error", created.error().message());
    return 1;
  }
  agent = std::move(created).value();
  model_version = agent->model_version();
  Log("info", "device " + s.device_id + " running model " + std::to_string(agent->model_version()) + " from " +
                  sensor->name() + ", strategy " + ToString(s.agent.strategy));

  // The reader thread: reads, paces a replay by its rate, posts each window.
  auto mailbox = std::make_shared<Mailbox>();
  mailbox->io = &io;
  int exit_code = 0;
  bool stopping = false;
  asio::steady_timer poll_timer(io);
  asio::steady_timer stop_timer(io);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  std::uint64_t rejected = 0;

  std::function<void(bool)> begin_stop;
  std::thread reader([sensor, mailbox, &begin_stop, &agent, &rejected, &exit_code, &ota_runner] {
    common::NameThisThread("ef-sensor");
    std::vector<float> window(kWindowRows * kAxes);
    const double rate = sensor->rate_hz();
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t n = 0;
    for (;;) {
      auto read = sensor->Read(window);
      if (!read.ok() || !read.value()) {
        const bool failed = !read.ok();
        const std::string why = failed ? read.error().message() : "";
        mailbox->Post([failed, why, &begin_stop, &exit_code] {
          if (failed) {
            Log("error", "source: " + why);
            exit_code = 1;
          } else {
            Log("info", "the source ended");
          }
          begin_stop(true);
        });
        return;
      }
      ++n;
      if (rate > 0) {
        const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(n * kWindowRows) / rate));
        std::this_thread::sleep_until(due);
      }
      if (!mailbox->Post([w = window, &agent, &rejected, &ota_runner] {
            auto result = agent->OnWindow(w);
            if (!result.ok() && rejected++ < 10) Log("warning", result.error().message());
            if (ota_runner) {
              ota_runner->RecordInference(result.ok() ? static_cast<double>(result.value().latency_us) / 1000.0 : 0.0,
                                          result.ok() ? result.value().zone : core::Zone::kNormal, !result.ok());
            }
          })) {
        return;
      }
    }
  });

  std::function<void()> poll = [&] {
    agent->Poll();
    poll_timer.expires_after(std::chrono::milliseconds(100));
    poll_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec && !stopping) poll();
    });
  };

  // Stopping: decide what is in flight, write health, publish offline, then
  // drain the buffer for at most shutdown_sync_timeout_ms.
  const auto drain_deadline = std::make_shared<std::chrono::steady_clock::time_point>();
  std::uint64_t failed_syncs_at_stop = 0;
  std::function<void()> drain = [&] {
    if (std::chrono::steady_clock::now() >= *drain_deadline || agent->stats().syncs_failed > failed_syncs_at_stop) {
      io.stop();  // out of time, or the server cannot be reached: the rows stay for next time
      return;
    }
    if (!agent->sync_in_flight() && !agent->SyncNow()) {
      io.stop();  // nothing left to send
      return;
    }
    stop_timer.expires_after(std::chrono::milliseconds(20));
    stop_timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) drain();
    });
  };
  begin_stop = [&](bool) {
    if (stopping) return;
    stopping = true;
    mailbox->Close();
    poll_timer.cancel();
    signals.cancel();
    agent->Shutdown();
    if (telemetry_sink) telemetry_sink->Flush(clock.WallMs());
    failed_syncs_at_stop = agent->stats().syncs_failed;
    *drain_deadline = std::chrono::steady_clock::now() + s.shutdown_sync_timeout;
    drain();
  };
  signals.async_wait([&](boost::system::error_code ec, int signo) {
    if (ec) return;
    Log("info", std::string("stopping on ") + (signo == SIGTERM ? "SIGTERM" : "SIGINT"));
    begin_stop(false);
  });
  if (ota_runner) {
    ota_runner->Start([mailbox](std::function<void()> job) { return mailbox->Post(std::move(job)); },
                      [&agent, &model_version, &link](std::shared_ptr<const ota::Model> m) -> common::Expected<void> {
                        const std::int64_t before = agent->model_version();
                        EDGEFLEET_RETURN_IF_ERROR(
                            agent->LoadModel(std::vector<std::uint8_t>(m->bytes(), m->bytes() + m->size())));
                        model_version = agent->model_version();  // the last will's version from now on
                        if (link) link->RenewWill();             // the broker holds the will set at connect
                        Log("info", "OTA: now running model version " + std::to_string(model_version.load()) +
                                        " (was " + std::to_string(before) + ")");
                        return common::Ok();
                      });
  }
  poll();
  io.run();
  if (ota_runner) ota_runner->Stop();

  mailbox->Close();
  reader.detach();  // it may be blocked reading stdin or a device; it never touches the loop again
  const auto& st = agent->stats();
  Log("info", "stopped: " + std::to_string(st.windows) + " windows, " + std::to_string(st.escalations) +
                  " escalations, " + std::to_string(st.fallbacks) + " fallbacks, " + std::to_string(st.rows_synced) +
                  " rows synced, " + std::to_string(store.PendingRows().value_or(-1)) + " pending");
  if (link) {
    StatusReport offline;
    offline.ts_ms = clock.WallMs();
    offline.state = "offline";
    offline.model_version = agent->model_version();
    (void)link->Close(mqtt::Message{telemetry::Topic(s.device_id, telemetry::Channel::kStatus),
                                    telemetry::ToJson(MqttTelemetrySink::ToMessage(offline, s.firmware_version)),
                                    mqtt::Qos::kAtLeastOnce, true});
  }
  agent.reset();
  if (auto closed = buffer.value()->Close(); !closed.ok()) {
    Log("error", "closing the buffer: " + closed.error().message());
    return 1;
  }
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"edgefleet-agent: the edge device runtime. Every config key is also a flag; "
               "flags override the file, the file overrides the defaults (docs/agent.md)."};
  std::string config_path;
  app.add_option("--config", config_path, "TOML config file");
  std::map<std::string, std::string> given;
  std::vector<std::string> trusted_keys;  // --trusted-key may repeat
  for (const auto& key : kConfigKeys) {
    if (std::string_view(key.name) == "trusted_key") {
      app.add_option(FlagName(key.name), trusted_keys, key.help);
      continue;
    }
    std::string help = key.help;
    help += std::string(" [default: ") + (key.default_value[0] ? key.default_value : "unset") + "]";
    app.add_option(FlagName(key.name), given[key.name], help);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "edgefleet-agent: %s (see --help)\n", e.what());
    return 2;
  }
  ConfigValues values = DefaultValues();
  if (!config_path.empty()) {
    if (auto overlaid = OverlayTomlFile(config_path, values); !overlaid.ok()) {
      std::fprintf(stderr, "edgefleet-agent: %s\n", overlaid.error().message().c_str());
      return 2;
    }
  }
  for (const auto& key : kConfigKeys) {
    if (std::string_view(key.name) == "trusted_key") {
      std::string joined;
      for (const auto& k : trusted_keys) joined += (joined.empty() ? "" : ",") + k;
      if (!trusted_keys.empty()) values[key.name] = joined;
      continue;
    }
    if (app.count(FlagName(key.name)) > 0) values[key.name] = given[key.name];
  }
  auto settings = ToSettings(values);
  if (!settings.ok()) {
    std::fprintf(stderr, "edgefleet-agent: %s\n", settings.error().message().c_str());
    return 2;
  }
  return Run(settings.value());
}
