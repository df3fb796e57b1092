#include "server/api/config.h"

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <toml++/toml.h>

namespace edgefleet::server::api {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;

Error Invalid(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

// One setter per key: reads the node into the config or says why not.
using Setter = std::function<Expected<void>(const toml::node&, const std::string& name, ServerConfig&)>;

Setter String(std::string ServerConfig::*field) {
  return [field](const toml::node& n, const std::string& name, ServerConfig& c) -> Expected<void> {
    const auto v = n.value<std::string>();
    if (!n.is_string() || !v) return Invalid(name + " must be a string");
    c.*field = *v;
    return common::Ok();
  };
}

template <typename T>
Setter Integer(T ServerConfig::*field, std::int64_t min, std::int64_t max) {
  return [field, min, max](const toml::node& n, const std::string& name, ServerConfig& c) -> Expected<void> {
    if (!n.is_integer()) return Invalid(name + " must be an integer");
    const std::int64_t v = *n.value<std::int64_t>();
    if (v < min || v > max) {
      return Invalid(name + " must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    c.*field = static_cast<T>(v);
    return common::Ok();
  };
}

Setter Boolean(bool ServerConfig::*field) {
  return [field](const toml::node& n, const std::string& name, ServerConfig& c) -> Expected<void> {
    if (!n.is_boolean()) return Invalid(name + " must be true or false");
    c.*field = *n.value<bool>();
    return common::Ok();
  };
}

constexpr std::int64_t kBig = std::numeric_limits<std::int64_t>::max() / 2;

const std::map<std::string, std::map<std::string, Setter>>& Keys() {
  static const auto* keys = new std::map<std::string, std::map<std::string, Setter>>{
      {"server",
       {{"data_dir", String(&ServerConfig::data_dir)},
        {"bind", String(&ServerConfig::bind)},
        {"port", Integer(&ServerConfig::port, 0, 65535)},
        {"threads", Integer(&ServerConfig::threads, 0, 256)},
        {"worker_slice_us", Integer(&ServerConfig::worker_slice_us, 0, 100'000)},
        {"public_url", String(&ServerConfig::public_url)},
        {"db", String(&ServerConfig::db)},
        {"tls_cert", String(&ServerConfig::tls_cert)},
        {"tls_key", String(&ServerConfig::tls_key)},
        {"max_body_bytes", Integer(&ServerConfig::max_body_bytes, 4096, 256ll * 1024 * 1024)},
        {"sync_max_body_bytes", Integer(&ServerConfig::sync_max_body_bytes, 4096, 256ll * 1024 * 1024)},
        {"header_timeout_ms", Integer(&ServerConfig::header_timeout_ms, 100, 3'600'000)}}},
      {"models",
       {{"cloud_model", String(&ServerConfig::cloud_model)},
        {"cache_ms", Integer(&ServerConfig::cache_ms, 0, 3'600'000)}}},
      {"escalations",
       {{"queue_capacity", Integer(&ServerConfig::queue_capacity, 1, 10'000'000)},
        {"batch_max", Integer(&ServerConfig::batch_max, 1, 10'000)},
        {"batch_interval_ms", Integer(&ServerConfig::batch_interval_ms, 0, 60'000)},
        {"log_path", String(&ServerConfig::log_path)},
        {"log_rotate_bytes", Integer(&ServerConfig::log_rotate_bytes, 4096, kBig)},
        {"log_fsync", Boolean(&ServerConfig::log_fsync)},
        {"log_direct", Boolean(&ServerConfig::log_direct)},
        {"writer_nice", Integer(&ServerConfig::writer_nice, -20, 19)}}},
      {"auth", {{"token_refresh_ms", Integer(&ServerConfig::token_refresh_ms, 0, 3'600'000)}}},
      {"devices",
       {{"online_window_s", Integer(&ServerConfig::online_window_s, 1, kBig)},
        {"stale_after_s", Integer(&ServerConfig::stale_after_s, 1, kBig)}}},
      {"log",
       {{"level", String(&ServerConfig::log_level)}, {"format", String(&ServerConfig::log_format)}}},
  };
  return *keys;
}

Expected<void> Apply(const toml::table& root, const std::string& origin, ServerConfig& config) {
  for (const auto& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    const auto known = Keys().find(section);
    if (known == Keys().end()) return Invalid(origin + ": unknown section [" + section + "]");
    const toml::table* table = section_node.as_table();
    if (table == nullptr) return Invalid(origin + ": " + section + " must be a section ([" + section + "])");
    for (const auto& [key, node] : *table) {
      const std::string name = section + "." + std::string(key.str());
      const auto setter = known->second.find(std::string(key.str()));
      if (setter == known->second.end()) return Invalid(origin + ": unknown key " + name);
      if (auto r = setter->second(node, name, config); !r.ok()) return std::move(r).error().WithContext(origin);
    }
  }
  return common::Ok();
}

}  // namespace

Expected<void> ServerConfig::Resolve() {
  if (data_dir.empty()) return Invalid("no data dir (--data-dir DIR or server.data_dir)");
  const std::filesystem::path dir(data_dir);
  if (db.empty()) db = "sqlite:" + (dir / "edgefleet.db").string();
  if (cloud_model.empty()) cloud_model = (dir / "cloud.efcm").string();
  if (log_path.empty()) log_path = (dir / "escalations" / "escalations.jsonl").string();
  if (tls_cert.empty() != tls_key.empty()) return Invalid("TLS needs both a certificate and a key");
  if (stale_after_s < online_window_s) return Invalid("devices.stale_after_s is below devices.online_window_s");
  static const char* const kLevels[] = {"trace", "debug", "info", "warn", "error", "off"};
  bool level_ok = false;
  for (const char* l : kLevels) level_ok = level_ok || log_level == l;
  if (!level_ok) return Invalid("log.level must be one of trace, debug, info, warn, error, off");
  if (log_format != "text" && log_format != "json") return Invalid("log.format must be text or json");
  while (!public_url.empty() && public_url.back() == '/') public_url.pop_back();
  if (!public_url.empty() && public_url.rfind("http://", 0) != 0 && public_url.rfind("https://", 0) != 0) {
    return Invalid("server.public_url must start with http:// or https://");
  }
  return common::Ok();
}

Expected<void> LoadConfigText(std::string_view text, const std::string& origin, ServerConfig& config) {
  try {
    const toml::table root = toml::parse(text, origin);
    return Apply(root, origin, config);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return Invalid(origin + ": " + std::string(e.description()) + " at " + where.str());
  }
}

Expected<void> LoadConfigFile(const std::string& path, ServerConfig& config) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kNotFound, "cannot open the config file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > 1024 * 1024) return Invalid(path + ": the config file is larger than 1 MiB");
  return LoadConfigText(text.str(), path, config);
}

}  // namespace edgefleet::server::api
