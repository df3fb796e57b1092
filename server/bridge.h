// The server's MQTT bridge (SPEC section 5): subscribes to
// edge-ai/device/+/# as the bridge user and keeps fleet state from the
// devices' telemetry.
//
// What it does with each message (topics and payloads: common/telemetry.h,
// docs/mqtt.md):
//   status      -> store::RecordDeviceReport: model version, buffer depth,
//                  backoff, dropped rows, health, firmware, and last seen
//                  (the bridge's clock for a live message; for a retained
//                  one, delivered at subscription and possibly old,
//                  min(payload ts, now)). Online/offline is kept in memory.
//   inference   -> per-device counters and a rate over the last minute, in
//                  memory (a summary or sampled message adds its "count").
//   escalation  -> per-device counters (cloud answers, fallbacks) and a rate.
//   ota         -> the device's latest OTA state, in memory. (The HTTP
//                  status endpoint is what records OTA history in the store;
//                  recording MQTT copies too could reorder it.)
// Inference, escalation and ota messages also refresh last seen in the store,
// at most once per `last_seen_interval` per device (a write per inference
// would load the database for nothing).
// Messages that fail to parse, name an invalid topic, or come from a device
// the store does not know are counted (BridgeStats) and otherwise ignored:
// the payloads are untrusted input. The store is never written from an
// unparsed payload.
//
// Ownership and threads: the Bridge borrows the Store (which must outlive
// it) and owns its MqttLink. Messages are handled on the link's network
// thread; Devices(), Device() and stats() may be called from any thread
// (one mutex guards the in-memory state; store calls happen outside it).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "common/mqtt.h"
#include "common/telemetry.h"
#include "server/store/store.h"

namespace edgefleet::bridge {

template <typename T>
using Expected = common::Expected<T>;

// Events per minute over a sliding window of fixed buckets; pure (the caller
// passes the time), not thread-safe.
class RateWindow {
 public:
  // window_ms >= buckets >= 1; a finer bucket follows the rate more closely.
  explicit RateWindow(std::int64_t window_ms = 60'000, std::int64_t buckets = 60);

  // Adds `count` events at `now_ms`. Events older than the window (the clock
  // went back, or a late message) are ignored.
  void Add(std::int64_t now_ms, std::int64_t count);
  // The events of the window ending at now_ms, scaled to one minute.
  double PerMinute(std::int64_t now_ms) const;
  std::int64_t Total(std::int64_t now_ms) const;

 private:
  std::int64_t bucket_ms_;
  std::int64_t window_ms_;
  std::vector<std::int64_t> counts_;
  std::vector<std::int64_t> stamps_;  // the absolute bucket each slot holds; -1 empty
};

// What the bridge has seen of one device since it started.
struct DeviceActivity {
  std::string device_id;
  std::optional<bool> online;               // from the last status message; unset: none seen
  std::int64_t last_message_ms = 0;         // the bridge's clock
  std::int64_t model_version = 0;           // from the last message of any kind
  std::int64_t inferences = 0;              // decisions reported (sums "count")
  std::int64_t anomalies = 0;
  std::int64_t ambiguous = 0;
  std::int64_t inference_fallbacks = 0;
  std::int64_t escalations = 0;
  std::int64_t escalation_fallbacks = 0;    // escalations the cloud did not answer
  double inference_rate_per_min = 0;        // over the rate window, at the time of the call
  double escalation_rate_per_min = 0;
  std::optional<telemetry::StatusMessage> last_status;
  std::optional<telemetry::OtaMessage> last_ota;
};

struct BridgeStats {
  std::uint64_t messages = 0;         // every message delivered to the bridge
  std::uint64_t rejected = 0;         // bad topic or payload
  std::uint64_t unknown_device = 0;   // a device the store does not know
  std::uint64_t store_errors = 0;     // other store failures
  std::uint64_t status_updates = 0;   // RecordDeviceReport calls that succeeded
};

struct BridgeOptions {
  mqtt::MqttOptions mqtt;  // host, port, client id and the bridge's credential
  std::int64_t rate_window_ms = 60'000;
  std::int64_t last_seen_interval_ms = 10'000;  // 0: every message
  // The clock, milliseconds since the Unix epoch; unset: the system clock.
  std::function<std::int64_t()> now_ms;
};

// Options for the broker the data dir's `edgefleet broker config` set up:
// the bridge credential (broker::ReadBridgeCredential; kNotFound if `broker
// config` never ran), client id "edgefleet-server-<pid>" so replicas do not
// evict each other, and `host`/`port`.
Expected<BridgeOptions> BridgeOptionsFromDataDir(const std::filesystem::path& data_dir, std::string host,
                                                 int port);

class Bridge {
 public:
  // Creates the link, subscribes to every device's telemetry and starts it;
  // returns at once (the link connects in the background, see connected()).
  static Expected<std::unique_ptr<Bridge>> Start(store::Store& store, BridgeOptions options);

  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;
  ~Bridge();

  // One delivered message; what the subscription calls (public for tests
  // that feed messages without a broker).
  void Handle(const mqtt::Message& message);

  std::vector<DeviceActivity> Devices() const;  // by id
  std::optional<DeviceActivity> Device(std::string_view id) const;
  BridgeStats stats() const;
  bool connected() const;
  // The link's statistics (connection state, SUBACKs), for health checks.
  mqtt::MqttStats link_stats() const;

  // Disconnects and stops handling messages. Idempotent.
  Expected<void> Close();

 private:
  struct State {
    DeviceActivity activity;
    RateWindow inference_rate;
    RateWindow escalation_rate;
    std::int64_t last_seen_written_ms = -1;
  };

  Bridge(store::Store& store, BridgeOptions options);
  std::int64_t Now() const;
  State& StateFor(const std::string& id);  // mu_ held
  DeviceActivity Snapshot(const State& state, std::int64_t now) const;
  void HandleStatus(const std::string& id, const telemetry::StatusMessage& status, bool retained,
                    std::int64_t now);
  bool TouchLastSeen(const std::string& id, std::int64_t now);
  void CountStoreError(const common::Error& error);

  store::Store& store_;
  BridgeOptions options_;
  std::unique_ptr<mqtt::MqttLink> link_;

  mutable std::mutex mu_;
  std::map<std::string, State, std::less<>> devices_;
  BridgeStats stats_;
};

}  // namespace edgefleet::bridge
