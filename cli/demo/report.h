// The demo's live table and final summary (SPEC section 9: the dashboard-free
// view of the hybrid loop).
//
// What it is for: `edgefleet demo` prints, while it runs, one compact table
// line per device (rows decided, per decision, cloud answers, fallbacks,
// buffer depth, rows the server holds, model version) from the agents'
// buffers and the server's database (cli/demo/stats.h), and at the end the
// summary: decisions per tier, escalation rate, fallbacks, rows synced
// against rows produced, bytes uploaded against the same rows as the seeds'
// JSON, OTA results per device, and edge-only vs hybrid vs cloud-only scored
// on the windows the devices actually replayed (hybrid: the decisions the
// fleet actually made; edge-only and cloud-only: the same windows through the
// edge artifact each row ran and through the cloud model, in process).
//
// Threads: none; prints to stdout.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/demo/fleet_data.h"
#include "cli/demo/stats.h"
#include "ml/dataset.h"

namespace edgefleet::cli::demo {

struct DeviceRun {
  DeviceReplay replay;
  std::string token;
  std::filesystem::path dir;     // its own folder: buffer, model, log
  std::filesystem::path buffer;
  std::filesystem::path log;
  int pid = -1;
  int exit_status = -1;  // after the clean stop
};

// One table: header and a line per device.
void PrintLiveTable(const std::vector<DeviceRun>& devices, const std::filesystem::path& server_db,
                    const std::string& phase, double elapsed_s);

struct SummaryInputs {
  const ml::Dataset* data = nullptr;
  std::vector<DeviceRun>* devices = nullptr;
  std::filesystem::path server_db;
  std::filesystem::path cloud_model;                    // cloud.efcm
  std::vector<std::filesystem::path> edge_models;       // index = model version - 1
  std::int64_t final_version = 0;
};

struct SummaryResult {
  bool rows_equal = false;      // every device: produced == synced == distinct, nothing pending
  bool all_on_final = false;    // every device reported and ran final_version
  std::int64_t rows_produced = 0;
  std::int64_t rows_synced = 0;
};

SummaryResult PrintSummary(const SummaryInputs& in);

}  // namespace edgefleet::cli::demo
