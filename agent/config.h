// The agent's configuration: one table of keys with documented defaults
// (docs/agent.md lists every one; tests/agent/config_test.cc checks the list
// against kConfigKeys), read from a TOML file and overridden by flags of the
// same name (`--device-id` for device_id: every key is also a flag).
//
// Precedence: flag > TOML file (`--config FILE`) > default. The TOML file is
// flat (top-level keys only), values of any scalar type. Unknown keys in the
// file are an error (a typo must not silently fall back to a default).
//
// Threads: plain values and pure functions.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/agent.h"
#include "agent/ota/engine.h"
#include "common/error.h"
#include "common/telemetry.h"

namespace edgefleet::agent {

struct ConfigKey {
  const char* name;           // TOML key; the flag is "--" + name with '_' -> '-'
  const char* default_value;  // as text; "" means unset
  const char* help;
};

// Every key, in the order of docs/agent.md.
extern const std::array<ConfigKey, 51> kConfigKeys;

// "device_id" -> "--device-id".
std::string FlagName(std::string_view key);

// The typed settings the binary runs with.
struct AgentSettings {
  std::string device_id;
  std::string token;
  std::string server;          // http://HOST:PORT
  std::string broker;          // HOST:PORT, "" = no MQTT
  std::string broker_host;
  int broker_port = 1883;
  std::string source;          // csv:PATH[@HZ] | iio:DEVICE | stdin
  std::filesystem::path buffer;
  std::filesystem::path model;
  std::vector<std::filesystem::path> trusted_keys;  // empty: no OTA
  std::string firmware_version;
  std::string power;           // "sysfs", "none", or "script:PATH"
  std::filesystem::path sysfs_root;
  double grid_step_g = 1.0 / 2048.0;
  AgentConfig agent;           // device id, timeouts, backoff, sync, strategy, status, health
  std::chrono::milliseconds sync_timeout{30'000};
  std::chrono::milliseconds shutdown_sync_timeout{5000};
  std::int64_t buffer_disk_budget_bytes = 64 << 20;
  bool buffer_durability_full = false;
  telemetry::InferencePolicy inference;
  std::int64_t mqtt_keepalive_s = 30;
  std::size_t mqtt_max_queued = 256;
  ota::OtaConfig ota;           // trusted_keys are loaded by the binary from trusted_keys above
};

// Raw key -> text, after defaults, the file and the flags.
using ConfigValues = std::map<std::string, std::string>;

ConfigValues DefaultValues();
// Overlays the TOML file's keys; kInvalidArgument naming the key or the line.
common::Expected<void> OverlayTomlFile(const std::filesystem::path& path, ConfigValues& values);
common::Expected<void> OverlayTomlText(std::string_view text, ConfigValues& values);
// Checks and converts; kInvalidArgument with one sentence naming the key.
common::Expected<AgentSettings> ToSettings(const ConfigValues& values);

}  // namespace edgefleet::agent
