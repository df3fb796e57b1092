// JSON views of stored things the admin routes return (models, devices,
// OTA history), and the firmware version rules update checks apply.
//
// Threads: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "server/store/store.h"

namespace edgefleet::server::api {

nlohmann::json ModelJson(const store::Model& model);
nlohmann::json UpdateEntryJson(const store::UpdateStatusEntry& entry);

// "online" (seen within online_window_s), "stale" (within stale_after_s),
// else "offline" (and "offline" when never seen).
const char* DeviceState(const store::Device& device, std::int64_t now_ms, std::int64_t online_window_s,
                        std::int64_t stale_after_s);

// The device as GET /api/devices lists it (docs/api/openapi.yaml, Device).
nlohmann::json DeviceJson(const store::Device& device, const char* state);

// Firmware versions: 1..64 of letters, digits, '.', '-', '+', '_'.
bool IsFirmwareVersion(std::string_view text);

// Compares dotted versions part by part: numeric parts as numbers, others as
// text, a missing part as 0 ("1.2" == "1.2.0" < "1.10"). <0, 0, >0.
int CompareVersions(std::string_view a, std::string_view b);

}  // namespace edgefleet::server::api
