#include "agent/config.h"

#include <charconv>
#include <fstream>
#include <cmath>
#include <sstream>

#include <toml++/toml.h>

#include "agent/platform/beast_http_client.h"
#include "agent/sync_strategy.h"

namespace edgefleet::agent {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;

Error Bad(std::string_view key, std::string_view what) {
  return Error(ErrorCode::kInvalidArgument, "config key " + std::string(key) + " (" + FlagName(key) + ") " +
                                                std::string(what));
}

Expected<std::int64_t> Int(const ConfigValues& v, std::string_view key, std::int64_t min, std::int64_t max) {
  const std::string& text = v.at(std::string(key));
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return Bad(key, "must be an integer, not \"" + text + "\"");
  if (out < min || out > max) {
    return Bad(key, "must be from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return out;
}

Expected<double> Double(const ConfigValues& v, std::string_view key, double min, double max) {
  const std::string& text = v.at(std::string(key));
  double out = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(out)) {
    return Bad(key, "must be a number, not \"" + text + "\"");
  }
  if (out < min || out > max) return Bad(key, "is out of range");
  return out;
}

}  // namespace

// clang-format off
const std::array<ConfigKey, 51> kConfigKeys = {{
  {"device_id", "", "this device's id (required; [A-Za-z0-9._-], 1 to 128 characters)"},
  {"token", "", "the device's bearer token for the server and its MQTT password"},
  {"server", "http://127.0.0.1:8000", "the cloud's base URL, http://HOST[:PORT]"},
  {"broker", "127.0.0.1:1883", "the MQTT broker, HOST:PORT; empty: no telemetry"},
  {"source", "stdin", "where windows come from: csv:PATH[@RATE_HZ] (default 200 Hz, 0 as fast as possible), iio:DEVICE, stdin"},
  {"buffer", "edgefleet-buffer.db", "the SQLite store-and-forward buffer file"},
  {"model", "model.efm", "the edge model artifact to run"},
  {"trusted_key", "", "Ed25519 public keys (PEM files, comma-separated; the flag may repeat) that sign models and manifests; unset: no OTA"},
  {"firmware_version", "", "reported in status and update checks"},
  {"strategy", "adaptive", "sync strategy: periodic, event, opportunistic, batched, adaptive"},
  {"escalation_timeout_ms", "5000", "POST /classify timeout"},
  {"backoff_initial_ms", "60000", "first wait after a cloud failure (doubles each failure)"},
  {"backoff_max_ms", "1800000", "longest wait after cloud failures"},
  {"sync_check_interval_ms", "1000", "how often the sync strategy is asked"},
  {"sync_retry_ms", "60000", "wait after a failed sync before the next attempt"},
  {"sync_budget_bytes", "262144", "byte budget of one sync batch (before compression)"},
  {"sync_timeout_ms", "30000", "POST /api/sync timeout"},
  {"periodic_interval_ms", "300000", "periodic strategy: sync interval"},
  {"adaptive_wifi_pending", "100", "adaptive strategy: sync on Wi-Fi when more rows than this are pending"},
  {"adaptive_max_interval_ms", "3600000", "adaptive strategy: sync at least this often"},
  {"critical_min_interval_ms", "0", "event and adaptive strategies: least time between syncs for critical rows (0: at once)"},
  {"opportunistic_min_battery", "20", "opportunistic strategy: minimum battery percent (strictly above)"},
  {"batched_hour", "2", "batched strategy: local hour of the nightly sync"},
  {"utc_offset_minutes", "0", "local time = UTC + this (batched strategy)"},
  {"status_interval_ms", "60000", "retained status message interval (also sent on change)"},
  {"health_interval_ms", "300000", "health statistics period (one row per model version per period)"},
  {"inference_mode", "sample", "MQTT inference messages: every, sample, aggregate"},
  {"inference_sample_every", "10", "sample mode: one message per N decisions (anomalies always)"},
  {"inference_period_ms", "10000", "aggregate mode: one summary per period"},
  {"buffer_disk_budget_bytes", "67108864", "the buffer's disk budget; beyond it rows are dropped by policy and counted"},
  {"buffer_durability", "normal", "normal (crash-safe) or full (fsync every commit)"},
  {"grid_step_g", "0.00048828125", "CSV/stdin values are snapped to this step (1/2048 g); 0 disables"},
  {"power", "sysfs", "network/battery provider: sysfs, none (mains on ethernet), script:PATH"},
  {"sysfs_root", "/sys", "root of sysfs for the power provider"},
  {"mqtt_keepalive_s", "30", "MQTT keepalive"},
  {"mqtt_max_queued", "256", "MQTT messages kept while disconnected"},
  {"shutdown_sync_timeout_ms", "5000", "bound of the final sync attempt on SIGTERM/SIGINT"},
  {"ota_dir", "ota", "the OTA model directory (current.efm, backup.efm, download.part, ota-state.json); OTA runs when trusted_key is set"},
  {"ota_check_interval_ms", "300000", "how often GET /api/updates/check is asked"},
  {"ota_check_jitter", "0.1", "each check wait is the interval x (1 +- this)"},
  {"ota_chunk_bytes", "16384", "bytes per Range request of a download"},
  {"ota_retry_initial_ms", "2000", "first wait after a failed download or step (doubles per retry)"},
  {"ota_retry_max_ms", "300000", "longest such wait"},
  {"ota_report_retry_ms", "30000", "wait while the server cannot take status reports"},
  {"ota_health_period_ms", "600000", "health check of a new model: how long it runs before the verdict"},
  {"ota_health_grace_ms", "600000", "extra wait when the period saw fewer than ota_health_min_inferences windows"},
  {"ota_health_min_inferences", "20", "windows the health check needs to judge"},
  {"ota_health_max_error_rate", "0.01", "health check: the new model's highest inference error rate"},
  {"ota_health_max_latency_ratio", "1.2", "health check: the new model's highest mean latency over the previous model's"},
  {"ota_health_max_escalation_rate", "0.5", "health check: the highest escalation rate (or 2x the previous model's, if higher)"},
  {"device_ram_mb", "512", "this device's RAM; models needing more are refused"},
}};
// clang-format on

std::string FlagName(std::string_view key) {
  std::string flag = "--";
  for (char c : key) flag += c == '_' ? '-' : c;
  return flag;
}

ConfigValues DefaultValues() {
  ConfigValues values;
  for (const auto& key : kConfigKeys) values[key.name] = key.default_value;
  return values;
}

Expected<void> OverlayTomlText(std::string_view text, ConfigValues& values) {
  toml::table table;
  try {
    table = toml::parse(text);
  } catch (const toml::parse_error& e) {
    std::ostringstream msg;
    msg << "config file line " << e.source().begin.line << ": " << e.description();
    return Error(ErrorCode::kInvalidArgument, msg.str());
  }
  for (const auto& [k, node] : table) {
    const std::string key(k.str());
    if (values.count(key) == 0) return Error(ErrorCode::kInvalidArgument, "config file: unknown key " + key);
    if (auto s = node.value<std::string>(); s && node.is_string()) {
      values[key] = *s;
    } else if (node.is_integer()) {
      values[key] = std::to_string(node.as_integer()->get());
    } else if (node.is_floating_point()) {
      std::ostringstream out;
      out.precision(17);
      out << node.as_floating_point()->get();
      values[key] = out.str();
    } else if (node.is_boolean()) {
      values[key] = node.as_boolean()->get() ? "true" : "false";
    } else {
      return Error(ErrorCode::kInvalidArgument, "config file: key " + key + " must be a string or a number");
    }
  }
  return common::Ok();
}

Expected<void> OverlayTomlFile(const std::filesystem::path& path, ConfigValues& values) {
  std::ifstream in(path);
  if (!in) return Error(ErrorCode::kNotFound, "cannot read the config file " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  auto overlaid = OverlayTomlText(ss.str(), values);
  if (!overlaid.ok()) return Error(overlaid.error()).WithContext(path.string());
  return common::Ok();
}

Expected<AgentSettings> ToSettings(const ConfigValues& v) {
  AgentSettings s;
  s.device_id = v.at("device_id");
  if (!telemetry::IsValidDeviceId(s.device_id)) {
    return Bad("device_id", s.device_id.empty() ? "is required" : "must be 1 to 128 characters of [A-Za-z0-9._-]");
  }
  s.token = v.at("token");
  s.server = v.at("server");
  if (!ParseBaseUrl(s.server).ok()) return Bad("server", "must look like http://HOST[:PORT]");
  s.broker = v.at("broker");
  if (!s.broker.empty()) {
    const auto colon = s.broker.rfind(':');
    int port = 0;
    const char* first = s.broker.data() + (colon == std::string::npos ? 0 : colon + 1);
    const char* last = s.broker.data() + s.broker.size();
    const auto [end, ec] = std::from_chars(first, last, port);
    if (colon == std::string::npos || colon == 0 || ec != std::errc() || end != last || port < 1 || port > 65535) {
      return Bad("broker", "must look like HOST:PORT");
    }
    s.broker_host = s.broker.substr(0, colon);
    if (s.broker_host.size() > 2 && s.broker_host.front() == '[') s.broker_host = s.broker_host.substr(1, s.broker_host.size() - 2);
    s.broker_port = port;
  }
  s.source = v.at("source");
  if (s.source.empty()) return Bad("source", "is required");
  s.buffer = v.at("buffer");
  if (s.buffer.empty()) return Bad("buffer", "is required");
  s.model = v.at("model");
  if (s.model.empty()) return Bad("model", "is required");
  for (std::string_view rest = v.at("trusted_key"); !rest.empty();) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) s.trusted_keys.emplace_back(item);
  }
  s.firmware_version = v.at("firmware_version");
  s.power = v.at("power");
  if (s.power != "sysfs" && s.power != "none" && s.power.rfind("script:", 0) != 0) {
    return Bad("power", "must be sysfs, none or script:PATH");
  }
  s.sysfs_root = v.at("sysfs_root");
  EDGEFLEET_ASSIGN_OR_RETURN(s.grid_step_g, Double(v, "grid_step_g", 0, 1));

  AgentConfig& a = s.agent;
  a.device_id = s.device_id;
  auto strategy = ParseStrategy(v.at("strategy"));
  if (!strategy.ok()) return Bad("strategy", "must be periodic, event, opportunistic, batched or adaptive");
  a.strategy = strategy.value();
  constexpr std::int64_t kDay = 86'400'000;
  EDGEFLEET_ASSIGN_OR_RETURN(a.escalation_timeout_ms, Int(v, "escalation_timeout_ms", 1, 600'000));
  EDGEFLEET_ASSIGN_OR_RETURN(a.backoff.initial_ms, Int(v, "backoff_initial_ms", 1, kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(a.backoff.max_ms, Int(v, "backoff_max_ms", 1, 7 * kDay));
  if (a.backoff.max_ms < a.backoff.initial_ms) return Bad("backoff_max_ms", "must be at least backoff_initial_ms");
  EDGEFLEET_ASSIGN_OR_RETURN(a.sync_check_interval_ms, Int(v, "sync_check_interval_ms", 1, kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(a.sync_retry_ms, Int(v, "sync_retry_ms", 1, kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t budget, Int(v, "sync_budget_bytes", 1024, 64 << 20));
  a.sync_budget_bytes = static_cast<std::size_t>(budget);
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t sync_timeout, Int(v, "sync_timeout_ms", 1, 600'000));
  s.sync_timeout = std::chrono::milliseconds(sync_timeout);
  StrategyConfig& sc = a.strategy_config;
  EDGEFLEET_ASSIGN_OR_RETURN(sc.periodic_interval_ms, Int(v, "periodic_interval_ms", 1, 7 * kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(sc.adaptive_wifi_pending, Int(v, "adaptive_wifi_pending", 0, 1'000'000'000));
  EDGEFLEET_ASSIGN_OR_RETURN(sc.adaptive_max_interval_ms, Int(v, "adaptive_max_interval_ms", 1, 7 * kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(sc.critical_min_interval_ms, Int(v, "critical_min_interval_ms", 0, kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t battery, Int(v, "opportunistic_min_battery", 0, 100));
  sc.opportunistic_min_battery = static_cast<int>(battery);
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t hour, Int(v, "batched_hour", 0, 23));
  sc.batched_hour = static_cast<int>(hour);
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t offset, Int(v, "utc_offset_minutes", -14 * 60, 14 * 60));
  sc.utc_offset_minutes = static_cast<int>(offset);
  EDGEFLEET_ASSIGN_OR_RETURN(a.status_interval_ms, Int(v, "status_interval_ms", 1000, kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(a.health_interval_ms, Int(v, "health_interval_ms", 1000, 7 * kDay));

  auto mode = telemetry::ParseInferenceMode(v.at("inference_mode"));
  if (!mode.ok()) return Bad("inference_mode", "must be every, sample or aggregate");
  s.inference.mode = mode.value();
  EDGEFLEET_ASSIGN_OR_RETURN(s.inference.sample_every, Int(v, "inference_sample_every", 1, 1'000'000));
  EDGEFLEET_ASSIGN_OR_RETURN(s.inference.period_ms, Int(v, "inference_period_ms", 1, kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(s.buffer_disk_budget_bytes,
                             Int(v, "buffer_disk_budget_bytes", 64 * 1024, std::int64_t{1} << 40));
  const std::string& durability = v.at("buffer_durability");
  if (durability != "normal" && durability != "full") return Bad("buffer_durability", "must be normal or full");
  s.buffer_durability_full = durability == "full";
  EDGEFLEET_ASSIGN_OR_RETURN(s.mqtt_keepalive_s, Int(v, "mqtt_keepalive_s", 5, 3600));
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t queued, Int(v, "mqtt_max_queued", 0, 1'000'000));
  s.mqtt_max_queued = static_cast<std::size_t>(queued);
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t shutdown, Int(v, "shutdown_sync_timeout_ms", 0, 600'000));
  s.shutdown_sync_timeout = std::chrono::milliseconds(shutdown);

  ota::OtaConfig& o = s.ota;
  o.device_id = s.device_id;
  o.token = s.token;
  o.server_url = s.server;
  o.firmware_version = s.firmware_version;
  o.model_dir = v.at("ota_dir");
  if (o.model_dir.empty()) return Bad("ota_dir", "is required");
  EDGEFLEET_ASSIGN_OR_RETURN(o.check_interval_ms, Int(v, "ota_check_interval_ms", 100, 7 * kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(o.check_jitter, Double(v, "ota_check_jitter", 0, 0.5));
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t chunk, Int(v, "ota_chunk_bytes", 512, 16 << 20));
  o.chunk_bytes = static_cast<std::uint64_t>(chunk);
  EDGEFLEET_ASSIGN_OR_RETURN(o.retry_initial_ms, Int(v, "ota_retry_initial_ms", 1, kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(o.retry_max_ms, Int(v, "ota_retry_max_ms", 1, kDay));
  if (o.retry_max_ms < o.retry_initial_ms) return Bad("ota_retry_max_ms", "must be at least ota_retry_initial_ms");
  EDGEFLEET_ASSIGN_OR_RETURN(o.report_retry_ms, Int(v, "ota_report_retry_ms", 1, kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(o.health.period_ms, Int(v, "ota_health_period_ms", 0, 7 * kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(o.health.grace_ms, Int(v, "ota_health_grace_ms", 0, 7 * kDay));
  EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t min_inf, Int(v, "ota_health_min_inferences", 0, 1'000'000));
  o.health.min_inferences = static_cast<std::uint32_t>(min_inf);
  EDGEFLEET_ASSIGN_OR_RETURN(o.health.max_error_rate, Double(v, "ota_health_max_error_rate", 0, 1));
  EDGEFLEET_ASSIGN_OR_RETURN(o.health.max_latency_ratio, Double(v, "ota_health_max_latency_ratio", 1, 1000));
  EDGEFLEET_ASSIGN_OR_RETURN(o.health.max_escalation_rate, Double(v, "ota_health_max_escalation_rate", 0, 1));
  EDGEFLEET_ASSIGN_OR_RETURN(o.device_ram_mb, Int(v, "device_ram_mb", 0, 1'000'000'000));
  return s;
}

}  // namespace edgefleet::agent
