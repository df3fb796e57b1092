#include "server/store/sql_rows.h"

#include <bit>
#include <cstring>

#include "server/store/window_file.h"

namespace edgefleet::store::sql {

using common::Error;
using common::ErrorCode;
using common::Expected;

Bytes EncodeFloats(const std::vector<float>& values) {
  if constexpr (std::endian::native == std::endian::little) {
    // The stored form is the host's: one copy, no zero fill first (a row per
    // escalation, on the writer's thread).
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(values.data());
    return Bytes(bytes, bytes + values.size() * 4);
  } else {
    Bytes out(values.size() * 4);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const auto bits = std::bit_cast<std::uint32_t>(values[i]);
      for (std::size_t b = 0; b < 4; ++b) out[i * 4 + b] = static_cast<std::uint8_t>(bits >> (8 * b));
    }
    return out;
  }
}

Expected<std::vector<float>> DecodeFloats(const Bytes& bytes) {
  if (bytes.size() != kWindowValues * 4) {
    return Error(ErrorCode::kCorrupt,
                 "stored window has " + std::to_string(bytes.size()) + " bytes, not " +
                     std::to_string(kWindowValues * 4));
  }
  std::vector<float> out(kWindowValues);
  for (std::size_t i = 0; i < out.size(); ++i) {
    std::uint32_t bits = 0;
    for (std::size_t b = 0; b < 4; ++b) bits |= std::uint32_t{bytes[i * 4 + b]} << (8 * b);
    out[i] = std::bit_cast<float>(bits);
  }
  return out;
}

namespace {
Value Flag(bool v) { return std::int64_t{v ? 1 : 0}; }
}  // namespace

void AppendValues(const Escalation& e, std::optional<std::int64_t> features_at, std::vector<Value>& out) {
  out.insert(out.end(), {e.device_id, e.received_ms, features_at ? Bytes{} : EncodeFloats(e.features), e.edge_mse,
                         e.model_version, e.cloud_mse, e.label, e.confidence,
                         features_at ? Value{*features_at} : Value{Null{}}});
}

void AppendValues(std::string_view device, std::int64_t received_ms, const InferenceRow& r, std::vector<Value>& out) {
  out.insert(out.end(), {std::string(device), r.seq, r.ts_ms, r.model_version, r.decision, r.confidence, r.mse,
                         r.latency_us, r.input_hash, Flag(r.fallback), received_ms});
}

void AppendValues(std::string_view device, std::int64_t received_ms, const HardSampleRow& r, std::vector<Value>& out) {
  out.insert(out.end(), {std::string(device), r.seq, r.ts_ms, r.model_version, EncodeFloats(r.window), r.edge_mse,
                         r.confidence, r.decision, Flag(r.fallback), received_ms});
}

void AppendValues(std::string_view device, std::int64_t received_ms, const HealthRow& r, std::vector<Value>& out) {
  out.insert(out.end(), {std::string(device), r.seq, r.model_version, r.period_start_ms, r.period_end_ms,
                         r.stats_json, received_ms});
}

Expected<Device> ReadDevice(const Row& row) {
  RowReader r(row);
  Device d;
  d.id = r.Text(0);
  d.token_sha256 = r.Text(1);
  d.created_ms = r.Int(2);
  d.last_seen_ms = r.OptionalInt(3);
  d.reported_model_version = r.OptionalInt(4);
  d.firmware_version = r.Text(5);
  d.ram_mb = r.OptionalInt(6);
  d.counters.rows_synced = r.Int(7);
  d.counters.escalations = r.Int(8);
  d.counters.fallbacks = r.Int(9);
  d.counters.dropped_rows = r.Int(10);
  d.buffer_depth = r.Int(11);
  d.backoff.failures = r.Int(12);
  d.backoff.delay_ms = r.Int(13);
  d.health_json = r.Text(14);
  EDGEFLEET_RETURN_IF_ERROR(r.status());
  return d;
}

Expected<Model> ReadModel(const Row& row) {
  RowReader r(row);
  Model m;
  m.version = r.Int(0);
  m.model_id = r.Text(1);
  m.filename = r.Text(2);
  m.size_bytes = r.Int(3);
  m.sha256 = r.Text(4);
  m.signature = r.Text(5);
  m.min_device_ram_mb = r.Int(6);
  m.min_firmware_version = r.Text(7);
  m.thresholds.low = r.Double(8);
  m.thresholds.high = r.Double(9);
  m.thresholds.mu = r.Double(10);
  m.thresholds.sigma = r.Double(11);
  m.thresholds.k_low = r.Double(12);
  m.thresholds.k_high = r.Double(13);
  m.created_ms = r.Int(14);
  const std::string status = r.Text(15);
  EDGEFLEET_RETURN_IF_ERROR(r.status());
  auto parsed = ParseModelStatus(status);
  if (!parsed.ok()) return Error(ErrorCode::kCorrupt, "stored model status '" + status + "' is unknown");
  m.status = *parsed;
  return m;
}

Expected<Escalation> ReadEscalation(const Row& row, const WindowFile* windows) {
  RowReader r(row);
  Escalation e;
  e.id = r.Int(0);
  e.device_id = r.Text(1);
  e.received_ms = r.Int(2);
  const Bytes features = r.Blob(3);
  e.edge_mse = r.Double(4);
  e.model_version = r.Int(5);
  e.cloud_mse = r.Double(6);
  e.label = r.Int(7);
  e.confidence = r.Double(8);
  e.archived = r.Int(9) != 0;
  const std::optional<std::int64_t> features_at = r.OptionalInt(10);
  EDGEFLEET_RETURN_IF_ERROR(r.status());
  if (!features_at) {
    EDGEFLEET_ASSIGN_OR_RETURN(e.features, DecodeFloats(features));
  } else if (windows == nullptr) {
    return Error(ErrorCode::kCorrupt, "escalation " + std::to_string(e.id) +
                                          " points into a window file, and this database has none");
  } else {
    EDGEFLEET_ASSIGN_OR_RETURN(e.features, windows->Read(*features_at));
  }
  return e;
}

Expected<UpdateStatusEntry> ReadStatusEntry(const Row& row) {
  RowReader r(row);
  UpdateStatusEntry e;
  e.id = r.Int(0);
  const std::string status = r.Text(1);
  e.version = r.Int(2);
  e.error = r.Text(3);
  e.reported_ms = r.Int(4);
  EDGEFLEET_RETURN_IF_ERROR(r.status());
  auto parsed = ParseUpdateStatus(status);
  if (!parsed.ok()) return Error(ErrorCode::kCorrupt, "stored update status '" + status + "' is unknown");
  e.status = *parsed;
  return e;
}

}  // namespace edgefleet::store::sql
