// ServerConfig: every setting of `edgefleet server`, with its default, and
// the TOML file that overrides them (docs/operations.md lists every key).
//
// Precedence: built-in defaults < the TOML file (--config) < command-line
// flags. Paths left empty are derived from data_dir by Resolve().
//
// The TOML file has the sections [server], [models], [escalations], [auth],
// [devices], [log]; an unknown section or key, or a value of the wrong type
// or out of range, is an error naming it (a typo never goes unnoticed).
//
// Threads: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"

namespace edgefleet::server::api {

struct ServerConfig {
  // [server]
  std::string data_dir;              // required (flag --data-dir or this key)
  std::string bind = "0.0.0.0";      // listening address
  std::uint16_t port = 8000;         // 0: any free port (printed at start)
  unsigned threads = 0;              // transport worker threads; 0: two per core (docs/DECISIONS.md)
  int worker_slice_us = 100;         // the workers' scheduler slice (Linux >= 6.12); 0: the kernel's
  std::string public_url;            // base of manifest URLs; "": the request's Host
  std::string db;                    // "": sqlite:<data_dir>/edgefleet.db
  std::string tls_cert;              // PEM certificate chain; with tls_key: HTTPS
  std::string tls_key;               // PEM private key
  std::size_t max_body_bytes = 1024 * 1024;  // larger bodies: 413
  std::size_t sync_max_body_bytes = 8 * 1024 * 1024;  // the same for POST /api/sync
  std::int64_t header_timeout_ms = 10'000;   // a request's headers must arrive within this

  // [models]
  std::string cloud_model;           // "": <data_dir>/cloud.efcm; missing file: /classify answers 503
  std::int64_t cache_ms = 1000;      // how long the latest model is answered from memory

  // [escalations]
  std::size_t queue_capacity = 65'536;  // escalations waiting for the writer; full: 503
  std::size_t batch_max = 250;          // rows per transaction (4x under a backlog)
  std::int64_t batch_interval_ms = 20;  // longest wait of a row before its batch is written
  std::string log_path;                 // "": <data_dir>/escalations/escalations.jsonl
  std::uint64_t log_rotate_bytes = 256ull * 1024 * 1024;  // rotate before exceeding this
  bool log_fsync = true;                // fdatasync the log after each batch
  bool log_direct = true;               // O_DIRECT writes where the filesystem allows (lines_log.h)
  int writer_nice = -5;                 // the writer thread's nice (needs CAP_SYS_NICE); 0: leave it

  // [auth]
  std::int64_t token_refresh_ms = 1000;  // least time between reloads of the device tokens on a miss

  // [devices]
  std::int64_t online_window_s = 900;     // seen within: online
  std::int64_t stale_after_s = 86'400;    // seen within (but not online): stale; else offline

  // [log]
  std::string log_level = "info";  // trace, debug, info, warn, error, off
  std::string log_format = "text";  // text or json (one object per line)

  // Fills the derived paths from data_dir; kInvalidArgument if data_dir is
  // empty or a value is out of range.
  common::Expected<void> Resolve();
};

// Reads `path` over `config` (keys absent from the file keep their values).
common::Expected<void> LoadConfigFile(const std::string& path, ServerConfig& config);

// The same from TOML text (for tests); `origin` names it in errors.
common::Expected<void> LoadConfigText(std::string_view text, const std::string& origin, ServerConfig& config);

}  // namespace edgefleet::server::api
