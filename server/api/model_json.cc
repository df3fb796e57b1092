#include "server/api/model_json.h"

#include <algorithm>
#include <charconv>

namespace edgefleet::server::api {

nlohmann::json ModelJson(const store::Model& m) {
  const store::ModelThresholds& t = m.thresholds;
  return {{"version", m.version},
          {"model_id", m.model_id},
          {"filename", m.filename},
          {"size_bytes", m.size_bytes},
          {"sha256", m.sha256},
          {"signature", m.signature},
          {"min_device_ram_mb", m.min_device_ram_mb},
          {"min_firmware_version", m.min_firmware_version},
          {"thresholds",
           {{"low_threshold", t.low}, {"high_threshold", t.high}, {"mu", t.mu}, {"sigma", t.sigma},
            {"k_low", t.k_low}, {"k_high", t.k_high}}},
          {"created_ms", m.created_ms},
          {"status", store::ToString(m.status)}};
}

nlohmann::json UpdateEntryJson(const store::UpdateStatusEntry& e) {
  return {{"status", store::ToString(e.status)},
          {"version", e.version},
          {"error", e.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.error)},
          {"reported_ms", e.reported_ms}};
}

const char* DeviceState(const store::Device& device, std::int64_t now_ms, std::int64_t online_window_s,
                        std::int64_t stale_after_s) {
  if (!device.last_seen_ms) return "offline";
  const std::int64_t age = now_ms - *device.last_seen_ms;
  if (age <= online_window_s * 1000) return "online";
  if (age <= stale_after_s * 1000) return "stale";
  return "offline";
}

nlohmann::json DeviceJson(const store::Device& d, const char* state) {
  const auto optional = [](const std::optional<std::int64_t>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  nlohmann::json health = nlohmann::json::parse(d.health_json, nullptr, false);
  if (health.is_discarded()) health = nlohmann::json::object();
  return {{"id", d.id},
          {"state", state},
          {"reported_model_version", optional(d.reported_model_version)},
          {"firmware_version", d.firmware_version},
          {"ram_mb", optional(d.ram_mb)},
          {"created_ms", d.created_ms},
          {"last_seen_ms", optional(d.last_seen_ms)},
          {"rows_synced", d.counters.rows_synced},
          {"escalations", d.counters.escalations},
          {"fallbacks", d.counters.fallbacks},
          {"dropped_rows", d.counters.dropped_rows},
          {"buffer_depth", d.buffer_depth},
          {"backoff", {{"failures", d.backoff.failures}, {"delay_ms", d.backoff.delay_ms}}},
          {"health", std::move(health)}};
}

bool IsFirmwareVersion(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '+' || c == '_';
  });
}

int CompareVersions(std::string_view a, std::string_view b) {
  const auto next = [](std::string_view& s) {
    const std::size_t dot = s.find('.');
    const std::string_view part = s.substr(0, dot);
    s = dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
    return part;
  };
  const auto numeric = [](std::string_view p, std::uint64_t* v) {
    if (p.empty() || p.size() > 18) return p.empty() ? (*v = 0, true) : false;
    const auto r = std::from_chars(p.data(), p.data() + p.size(), *v);
    return r.ec == std::errc() && r.ptr == p.data() + p.size();
  };
  while (!a.empty() || !b.empty()) {
    const std::string_view pa = next(a);
    const std::string_view pb = next(b);
    std::uint64_t na = 0, nb = 0;
    if (numeric(pa, &na) && numeric(pb, &nb)) {
      if (na != nb) return na < nb ? -1 : 1;
    } else if (pa != pb) {
      return pa < pb ? -1 : 1;
    }
  }
  return 0;
}

}  // namespace edgefleet::server::api
