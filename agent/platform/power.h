// Network type and battery level (SPEC section 7): what the sync strategies
// need to know about the device's links and power, behind one interface.
//
// What it is for: the sync scheduler (agent/sync_strategy.h) asks a
// PowerProvider before each decision. On a Linux device SysfsPowerProvider
// reads /sys (the root is a constructor argument, so tests build a fake tree
// in a temporary directory); the simulator and tests use ScriptedPowerProvider,
// which replays a file of timed states.
//
// Sysfs rules (SysfsPowerProvider):
//   - battery: the first entry of <root>/class/power_supply/* whose `type` is
//     "Battery" and that has a `capacity` (0..100); `status` "Charging" or
//     "Full" means charging. Any supply of type "Mains" or "USB" with
//     `online` 1 means charging too. No battery: battery_percent unset (mains
//     powered; the battery rules do not apply).
//   - network: every <root>/class/net/* except "lo" whose `operstate` is "up"
//     (or "unknown" with `carrier` 1). Wireless if it has a `wireless` or
//     `phy80211` entry; cellular if its `uevent` says DEVTYPE=wwan or its name
//     starts with "wwan"; else ethernet. Several links up: Wi-Fi over
//     ethernet over cellular.
//
// Scripted file format (ScriptedPowerProvider), one state per line, `#`
// starts a comment:
//   <seconds from start> <wifi|ethernet|cellular|none> <battery 0..100 | -> [charging|discharging]
// Times must increase. The state at time t is the last line with seconds <=
// t; before the first line, the first line's state.
//
// Threads: Read may be called from one thread at a time; the scripted
// provider is immutable after construction and safe from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"

namespace edgefleet::agent {

enum class NetworkType : std::uint8_t { kNone, kWifi, kEthernet, kCellular };

const char* ToString(NetworkType type);  // "none", "wifi", "ethernet", "cellular"
common::Expected<NetworkType> ParseNetworkType(std::string_view text);

struct PowerState {
  NetworkType network = NetworkType::kNone;
  std::optional<int> battery_percent;  // unset: no battery (mains powered)
  bool charging = false;

  // Wi-Fi or ethernet: the links the seeds call "Wi-Fi" (cheap, unmetered).
  bool unmetered() const { return network == NetworkType::kWifi || network == NetworkType::kEthernet; }
  friend bool operator==(const PowerState&, const PowerState&) = default;
};

class PowerProvider {
 public:
  virtual ~PowerProvider() = default;
  // The state at `now_ms` (the scripted provider replays by time; sysfs
  // ignores it and reads the present).
  virtual common::Expected<PowerState> Read(std::int64_t now_ms) = 0;
};

class SysfsPowerProvider final : public PowerProvider {
 public:
  explicit SysfsPowerProvider(std::filesystem::path root = "/sys") : root_(std::move(root)) {}
  common::Expected<PowerState> Read(std::int64_t now_ms) override;

 private:
  std::filesystem::path root_;
};

class ScriptedPowerProvider final : public PowerProvider {
 public:
  struct Entry {
    std::int64_t at_ms = 0;  // from start
    PowerState state;
  };
  // Parses the script (format above); kInvalidArgument naming the line.
  static common::Expected<ScriptedPowerProvider> Parse(std::string_view text, std::int64_t start_ms);
  static common::Expected<ScriptedPowerProvider> Load(const std::filesystem::path& path, std::int64_t start_ms);

  common::Expected<PowerState> Read(std::int64_t now_ms) override;
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  ScriptedPowerProvider(std::vector<Entry> entries, std::int64_t start_ms)
      : entries_(std::move(entries)), start_ms_(start_ms) {}
  std::vector<Entry> entries_;
  std::int64_t start_ms_;
};

}  // namespace edgefleet::agent
