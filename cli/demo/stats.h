// What the demo measures, read from the real stores (SPEC section 9).
//
// What it is for: the live table and the final summary of `edgefleet demo`
// read each agent's SQLite buffer (agent/buffer.h's schema: the rows a device
// produced, whether each is synced, its decision, fallback flag and model
// version, the bytes sent per strategy) and the server's SQLite database
// (server/store: the rows it holds per device, the escalations it answered,
// the device's reported model, the OTA statuses it received). Both are opened
// read-only with a busy timeout, so reading while the agent or the server
// writes is safe (a failed read returns ok = false and the table shows "?").
//
// Threads: no shared state; each call opens and closes its connection.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace edgefleet::cli::demo {

struct AgentCounts {
  bool ok = false;
  std::int64_t rows = 0;  // inference rows produced (one per window)
  std::int64_t normal = 0;
  std::int64_t anomaly = 0;
  std::int64_t fallbacks = 0;
  std::int64_t pending = 0;  // inference rows not yet acknowledged by the server
  std::int64_t pending_all = 0;  // every kind (inferences, hard samples, health)
  std::int64_t hard_samples = 0;
  std::int64_t health = 0;
  std::int64_t model_version = 0;  // of the newest row
  std::int64_t bytes_sent = 0;     // every strategy
};
AgentCounts ReadAgent(const std::filesystem::path& buffer);

// (seq, decision, fallback) of every inference row, by seq.
struct AgentRow {
  std::int64_t seq = 0;
  std::string decision;
  bool fallback = false;
  std::int64_t model_version = 0;
};
std::vector<AgentRow> ReadAgentRows(const std::filesystem::path& buffer);

// The bytes of every row in the buffer as the seeds' JSON (uncompressed
// JSON rows with the field names of common/sync_batch.h, one message), -1 on
// failure.
std::int64_t SeedJsonBytes(const std::filesystem::path& buffer, const std::string& device_id);

struct ServerCounts {
  bool ok = false;
  std::int64_t rows = 0;           // inference rows held
  std::int64_t distinct_seq = 0;
  std::int64_t escalations = 0;    // /classify answers logged
  std::int64_t hard_samples = 0;
  std::int64_t health = 0;
  std::int64_t reported_model = 0;  // 0: none reported yet
  std::vector<std::pair<std::string, std::int64_t>> ota;  // (status, version), in order received
};
ServerCounts ReadServer(const std::filesystem::path& db, const std::string& device_id);

}  // namespace edgefleet::cli::demo
