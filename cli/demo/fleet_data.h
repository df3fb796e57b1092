// The demo's devices and what each one replays (SPEC sections 1 and 9).
//
// What it is for: `edgefleet demo` gives every agent its own CSV (the
// recordings' format, header x,y,z, values count / 2048 g) cut from the
// shipped recordings (data/ceiling-fan.efr): a per-device mix of conditions
// (speeds, the coin imbalance, the fan off, the base moved, the later-day
// recording), in segments of whole windows that never cross a capture, from
// a device-specific starting point. The label of every window (its
// recording) is kept so the summary can score what the fleet decided: the
// agent numbers its rows 1, 2, ... in window order, so row seq k is window
// k - 1 of the device's CSV.
//
// Pure apart from writing the CSV file. Threads: no shared state.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "ml/dataset.h"

namespace edgefleet::cli::demo {

struct DeviceReplay {
  std::string id;                  // "fan-01", ...
  std::filesystem::path csv;
  std::string mix;                 // the recordings it replays, for the table
  std::vector<std::uint32_t> recording;  // per window: index into the dataset's recordings
  std::vector<ml::WindowRef> windows;    // per window, in replay order
};

// The mix of device `index` (0-based), as recording names.
std::vector<std::string> MixOf(std::size_t index);

// Writes `windows` windows for device `index` to `csv`. Returns "" or one
// sentence of error.
std::string WriteReplay(const ml::Dataset& data, std::size_t index, std::size_t windows,
                        const std::filesystem::path& csv, DeviceReplay* out);

}  // namespace edgefleet::cli::demo
