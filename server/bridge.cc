#include "server/bridge.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "server/broker/broker.h"

namespace edgefleet::bridge {
namespace {

using common::Error;
using common::ErrorCode;

std::int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// ---- RateWindow ---------------------------------------------------------------------

RateWindow::RateWindow(std::int64_t window_ms, std::int64_t buckets) {
  buckets = std::max<std::int64_t>(1, buckets);
  window_ms = std::max(window_ms, buckets);
  bucket_ms_ = window_ms / buckets;
  window_ms_ = bucket_ms_ * buckets;
  counts_.assign(static_cast<std::size_t>(buckets), 0);
  stamps_.assign(static_cast<std::size_t>(buckets), -1);
}

void RateWindow::Add(std::int64_t now_ms, std::int64_t count) {
  if (now_ms < 0 || count <= 0) return;
  const std::int64_t bucket = now_ms / bucket_ms_;
  const auto n = static_cast<std::int64_t>(counts_.size());
  const auto slot = static_cast<std::size_t>(bucket % n);
  if (stamps_[slot] > bucket) return;  // that slot already holds a later bucket: too old
  if (stamps_[slot] != bucket) {
    stamps_[slot] = bucket;
    counts_[slot] = 0;
  }
  counts_[slot] += count;
}

std::int64_t RateWindow::Total(std::int64_t now_ms) const {
  if (now_ms < 0) return 0;
  const std::int64_t bucket = now_ms / bucket_ms_;
  const auto n = static_cast<std::int64_t>(counts_.size());
  std::int64_t total = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    if (stamps_[i] > bucket - n && stamps_[i] <= bucket) total += counts_[i];
  }
  return total;
}

double RateWindow::PerMinute(std::int64_t now_ms) const {
  return static_cast<double>(Total(now_ms)) * 60'000.0 / static_cast<double>(window_ms_);
}

// ---- Bridge --------------------------------------------------------------------------

Expected<BridgeOptions> BridgeOptionsFromDataDir(const std::filesystem::path& data_dir, std::string host,
                                                 int port) {
  EDGEFLEET_ASSIGN_OR_RETURN(broker::Credential credential, broker::ReadBridgeCredential(data_dir));
  BridgeOptions options;
  options.mqtt.host = std::move(host);
  options.mqtt.port = port;
  options.mqtt.client_id = "edgefleet-server-" + std::to_string(::getpid());
  options.mqtt.username = std::move(credential.username);
  options.mqtt.password = std::move(credential.password);
  return options;
}

Bridge::Bridge(store::Store& store, BridgeOptions options) : store_(store), options_(std::move(options)) {}

Bridge::~Bridge() { (void)Close(); }

Expected<std::unique_ptr<Bridge>> Bridge::Start(store::Store& store, BridgeOptions options) {
  if (options.rate_window_ms < 1 || options.last_seen_interval_ms < 0) {
    return Error(ErrorCode::kInvalidArgument, "bridge rate window must be positive");
  }
  std::unique_ptr<Bridge> bridge(new Bridge(store, std::move(options)));
  EDGEFLEET_ASSIGN_OR_RETURN(bridge->link_, mqtt::MqttLink::Create(bridge->options_.mqtt));
  Bridge* self = bridge.get();
  EDGEFLEET_RETURN_IF_ERROR(bridge->link_->Subscribe(telemetry::kAllDevicesFilter, mqtt::Qos::kAtLeastOnce,
                                                     [self](const mqtt::Message& m) { self->Handle(m); }));
  EDGEFLEET_RETURN_IF_ERROR(bridge->link_->Start());
  return bridge;
}

Expected<void> Bridge::Close() {
  if (!link_) return common::Ok();
  return link_->Close();
}

bool Bridge::connected() const { return link_ && link_->connected(); }
mqtt::MqttStats Bridge::link_stats() const { return link_ ? link_->stats() : mqtt::MqttStats{}; }

std::int64_t Bridge::Now() const { return options_.now_ms ? options_.now_ms() : SystemNowMs(); }

Bridge::State& Bridge::StateFor(const std::string& id) {
  auto it = devices_.find(id);
  if (it == devices_.end()) {
    State s{DeviceActivity{}, RateWindow(options_.rate_window_ms), RateWindow(options_.rate_window_ms), -1};
    s.activity.device_id = id;
    it = devices_.emplace(id, std::move(s)).first;
  }
  return it->second;
}

void Bridge::CountStoreError(const Error& error) {
  std::lock_guard lock(mu_);
  if (error.code() == ErrorCode::kNotFound) {
    ++stats_.unknown_device;
  } else {
    ++stats_.store_errors;
  }
}

void Bridge::Handle(const mqtt::Message& message) {
  const std::int64_t now = Now();
  {
    std::lock_guard lock(mu_);
    ++stats_.messages;
  }
  auto topic = telemetry::ParseTopic(message.topic);
  if (!topic.ok()) {
    std::lock_guard lock(mu_);
    ++stats_.rejected;
    return;
  }
  const std::string& id = topic->device_id;
  switch (topic->channel) {
    case telemetry::Channel::kStatus: {
      auto status = telemetry::ParseStatus(message.payload);
      if (!status.ok()) break;
      HandleStatus(id, *status, message.retain, now);
      return;
    }
    case telemetry::Channel::kInference: {
      auto report = telemetry::ParseInference(message.payload);
      if (!report.ok()) break;
      if (!TouchLastSeen(id, now)) return;
      std::lock_guard lock(mu_);
      State& s = StateFor(id);
      s.activity.last_message_ms = now;
      std::int64_t count = 0;
      if (const auto* m = std::get_if<telemetry::InferenceMessage>(&*report)) {
        count = m->count;
        s.activity.model_version = m->model_version;
        if (m->decision == "anomaly") s.activity.anomalies += count;
        if (m->zone == "ambiguous") s.activity.ambiguous += count;
        if (m->fallback) s.activity.inference_fallbacks += count;
      } else {
        const auto& sum = std::get<telemetry::InferenceSummary>(*report);
        count = sum.count;
        s.activity.model_version = sum.model_version;
        s.activity.anomalies += sum.anomaly;
        s.activity.ambiguous += sum.ambiguous;
        s.activity.inference_fallbacks += sum.fallbacks;
      }
      s.activity.inferences += count;
      s.inference_rate.Add(now, count);
      return;
    }
    case telemetry::Channel::kEscalation: {
      auto esc = telemetry::ParseEscalation(message.payload);
      if (!esc.ok()) break;
      if (!TouchLastSeen(id, now)) return;
      std::lock_guard lock(mu_);
      State& s = StateFor(id);
      s.activity.last_message_ms = now;
      s.activity.model_version = esc->model_version;
      ++s.activity.escalations;
      if (std::holds_alternative<telemetry::Fallback>(esc->outcome)) ++s.activity.escalation_fallbacks;
      s.escalation_rate.Add(now, 1);
      return;
    }
    case telemetry::Channel::kOta: {
      auto ota = telemetry::ParseOta(message.payload);
      if (!ota.ok()) break;
      if (!TouchLastSeen(id, now)) return;
      std::lock_guard lock(mu_);
      State& s = StateFor(id);
      s.activity.last_message_ms = now;
      s.activity.model_version = ota->model_version;
      s.activity.last_ota = *ota;
      return;
    }
  }
  std::lock_guard lock(mu_);
  ++stats_.rejected;
}

void Bridge::HandleStatus(const std::string& id, const telemetry::StatusMessage& status, bool retained,
                          std::int64_t now) {
  store::DeviceReport report;
  // A retained status was published some time ago: never newer than now,
  // and no newer than what it says.
  report.seen_ms = retained ? std::clamp<std::int64_t>(status.ts_ms, 0, now) : now;
  report.model_version = status.model_version;
  if (!status.firmware_version.empty()) report.firmware_version = status.firmware_version;
  report.buffer_depth = status.buffer_depth;
  if (status.backoff) report.backoff = store::BackoffState{status.backoff->failures, status.backoff->delay_ms};
  report.dropped_rows = status.dropped_rows;
  if (status.online) report.health_json = status.health_json;
  auto recorded = store_.RecordDeviceReport(id, report);
  if (!recorded.ok()) {
    CountStoreError(recorded.error());
    return;
  }
  std::lock_guard lock(mu_);
  ++stats_.status_updates;
  State& s = StateFor(id);
  s.activity.last_message_ms = now;
  s.activity.online = status.online;
  s.activity.model_version = status.model_version;
  s.activity.last_status = status;
  s.last_seen_written_ms = std::max(s.last_seen_written_ms, report.seen_ms);
}

// Refreshes last seen in the store at most once per interval per device, and
// says whether the device is known: a device gets in-memory state only once
// the store has accepted a report for it, so ids the store does not know
// cannot grow the map.
bool Bridge::TouchLastSeen(const std::string& id, std::int64_t now) {
  {
    std::lock_guard lock(mu_);
    auto it = devices_.find(id);
    if (it != devices_.end() && now - it->second.last_seen_written_ms < options_.last_seen_interval_ms) {
      return true;
    }
  }
  store::DeviceReport report;
  report.seen_ms = now;
  auto recorded = store_.RecordDeviceReport(id, report);
  std::lock_guard lock(mu_);
  if (!recorded.ok()) {
    if (recorded.error().code() == ErrorCode::kNotFound) {
      ++stats_.unknown_device;
      return false;
    }
    ++stats_.store_errors;
    return devices_.contains(id);
  }
  State& s = StateFor(id);
  s.last_seen_written_ms = std::max(s.last_seen_written_ms, now);
  return true;
}

DeviceActivity Bridge::Snapshot(const State& state, std::int64_t now) const {
  DeviceActivity a = state.activity;
  a.inference_rate_per_min = state.inference_rate.PerMinute(now);
  a.escalation_rate_per_min = state.escalation_rate.PerMinute(now);
  return a;
}

std::vector<DeviceActivity> Bridge::Devices() const {
  const std::int64_t now = Now();
  std::lock_guard lock(mu_);
  std::vector<DeviceActivity> out;
  out.reserve(devices_.size());
  for (const auto& [id, state] : devices_) out.push_back(Snapshot(state, now));
  return out;
}

std::optional<DeviceActivity> Bridge::Device(std::string_view id) const {
  const std::int64_t now = Now();
  std::lock_guard lock(mu_);
  auto it = devices_.find(id);
  if (it == devices_.end()) return std::nullopt;
  return Snapshot(it->second, now);
}

BridgeStats Bridge::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace edgefleet::bridge
