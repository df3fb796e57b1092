// How the SQL store's rows map to the store's types (sql_store.cc): a
// window's blob encoding, the values of the INSERTs, the column lists of the
// SELECTs, and the readers that turn a result row in that column order into
// a value (a cell of the wrong type is kCorrupt). Internal to server/store.
//
// Threads: pure functions and constants.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "server/store/sql.h"
#include "server/store/store.h"

namespace edgefleet::store::sql {

class WindowFile;

// A window as little-endian float32: exact, compact (1,200 bytes), and the
// same bytes on every host.
Bytes EncodeFloats(const std::vector<float>& values);
common::Expected<std::vector<float>> DecodeFloats(const Bytes& bytes);

// A row's values appended in its INSERT's column order (sql_store.cc):
// escalations (device_id, received_ms, features, edge_mse, model_version,
// cloud_mse, label, confidence); inference_rows, hard_samples and
// health_stats (device_id, seq, the row's fields in their declaration
// order, received_ms).
// features_at: the window's offset in the window file (the row's features are
// then an empty blob), or nullopt to keep the window in the row.
void AppendValues(const Escalation& e, std::optional<std::int64_t> features_at, std::vector<Value>& out);
void AppendValues(std::string_view device, std::int64_t received_ms, const InferenceRow& r, std::vector<Value>& out);
void AppendValues(std::string_view device, std::int64_t received_ms, const HardSampleRow& r, std::vector<Value>& out);
void AppendValues(std::string_view device, std::int64_t received_ms, const HealthRow& r, std::vector<Value>& out);

// The columns the readers below expect, in order.
inline constexpr std::string_view kDeviceColumns =
    "id, token_sha256, created_ms, last_seen_ms, reported_model_version, firmware_version, ram_mb,"
    " rows_synced, escalations, fallbacks, dropped_rows, buffer_depth, backoff_failures,"
    " backoff_delay_ms, health_json";
inline constexpr std::string_view kModelColumns =
    "version, model_id, filename, size_bytes, sha256, signature, min_device_ram_mb,"
    " min_firmware_version, threshold_low, threshold_high, mu, sigma, k_low, k_high, created_ms,"
    " status";
inline constexpr std::string_view kEscalationColumns =
    "id, device_id, received_ms, features, edge_mse, model_version, cloud_mse, label, confidence,"
    " archived, features_at";

common::Expected<Device> ReadDevice(const Row& row);
common::Expected<Model> ReadModel(const Row& row);
// `windows`: where rows with a features_at read their window (null: none).
common::Expected<Escalation> ReadEscalation(const Row& row, const WindowFile* windows);
// id, status, version, error, reported_ms
common::Expected<UpdateStatusEntry> ReadStatusEntry(const Row& row);

}  // namespace edgefleet::store::sql
