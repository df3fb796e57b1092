#include "agent/ota_wiring.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "agent/ota/report_queue.h"
#include "common/telemetry.h"
#include "common/this_thread.h"

namespace edgefleet::agent {

using common::Error;
using common::ErrorCode;
using common::Expected;

// The MQTT `ota` topic (QoS 1, not retained): every report, in order.
class OtaRunner::MqttHook final : public ota::OtaTelemetry {
 public:
  MqttHook(mqtt::MqttLink& link, std::string device_id) : link_(link), device_id_(std::move(device_id)) {}
  bool PublishOta(const ota::Report& report) override {
    const auto outcome = link_.Publish(telemetry::Topic(device_id_, telemetry::Channel::kOta),
                                       ota::ReportToMqttJson(report), mqtt::Qos::kAtLeastOnce, false);
    return outcome.ok() && outcome.value() != mqtt::PublishOutcome::kDropped;
  }

 private:
  mqtt::MqttLink& link_;
  std::string device_id_;
};

Expected<std::unique_ptr<OtaRunner>> OtaRunner::Open(ota::OtaConfig config,
                                                     const std::vector<std::filesystem::path>& key_files,
                                                     const std::filesystem::path& initial_model,
                                                     mqtt::MqttLink* link) {
  config.trusted_keys.clear();
  for (const auto& file : key_files) {
    auto key = common::ReadPublicKeyPem(file);
    if (!key.ok()) {
      return Error(ErrorCode::kInvalidArgument, "trusted_key " + file.string() + ": " + key.error().message());
    }
    config.trusted_keys.push_back(key.value());
  }
  std::unique_ptr<OtaRunner> runner(new OtaRunner());
  EDGEFLEET_RETURN_IF_ERROR(runner->fs_.CreateDirectories(config.model_dir));
  // First boot: the provisioned model becomes current.efm (crash-safely).
  const bool has_current = runner->fs_.FileSize(config.model_dir / ota::kCurrentFile).ok();
  const bool has_backup = runner->fs_.FileSize(config.model_dir / ota::kBackupFile).ok();
  if (!has_current && !has_backup && !initial_model.empty() && std::filesystem::exists(initial_model)) {
    auto bytes = runner->fs_.ReadFile(initial_model, 16u << 20);
    if (!bytes.ok()) return Error(bytes.error()).WithContext("reading the model");
    if (ota::Model::Load(bytes.value(), ota::ModelSource::kDisk).ok()) {
      EDGEFLEET_RETURN_IF_ERROR(
          runner->fs_.WriteFileAtomically(config.model_dir / ota::kCurrentFile, bytes.value()));
    }
  }
  if (link != nullptr) runner->hook_ = std::make_unique<MqttHook>(*link, config.device_id);
  auto opened = ota::OtaEngine::Open(std::move(config),
                                     {runner->fs_, runner->http_, runner->clock_, runner->hook_.get()});
  if (!opened.ok()) return opened.error();
  runner->engine_ = std::move(opened).value();
  return runner;
}

OtaRunner::~OtaRunner() { Stop(); }

void OtaRunner::Start(PostFn post, SwapFn swap) {
  post_ = std::move(post);
  swap_ = std::move(swap);
  engine_->SetActivateCallback([this](std::shared_ptr<const ota::Model> m) { return Activate(std::move(m)); });
  running_ = true;
  worker_ = std::thread([this] {
    common::NameThisThread("ef-ota");
    Work();
  });
}

void OtaRunner::Work() {
  while (running_) {
    const std::int64_t due = engine_->Tick();
    const std::int64_t wait = std::clamp<std::int64_t>(due - clock_.NowMs(), 0, 1000);
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return !running_.load(); });
  }
}

Expected<void> OtaRunner::Activate(std::shared_ptr<const ota::Model> model) {
  auto promise = std::make_shared<std::promise<Expected<void>>>();
  auto result = promise->get_future();
  const bool posted = post_([this, promise, model = std::move(model)]() mutable {
    promise->set_value(swap_(std::move(model)));
  });
  if (!posted) return Error(ErrorCode::kUnavailable, "the agent is stopping; the model was not swapped");
  while (result.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    if (!running_) return Error(ErrorCode::kUnavailable, "the agent stopped before the model was swapped");
  }
  try {
    return result.get();
  } catch (const std::future_error&) {  // the loop dropped the job unrun
    return Error(ErrorCode::kUnavailable, "the agent stopped before the model was swapped");
  }
}

void OtaRunner::Stop() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    running_ = false;
  }
  wake_.notify_all();
  worker_.join();
  engine_->Shutdown();
}

}  // namespace edgefleet::agent
