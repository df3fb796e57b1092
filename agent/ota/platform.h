// The operating-system effects the OTA client uses, each behind a narrow
// interface passed in at construction (STYLE.md practice 4): the filesystem,
// HTTP and the clock. Real implementations: posix_filesystem.h,
// curl_http_client.h, SystemClock below. Tests pass fakes: a filesystem that
// loses unsynced writes at a simulated crash and can run out of space, an
// HTTP client serving bytes from memory with Range support and injected
// drops, a clock they move by hand.
//
// Ownership: the OTA engine keeps references; the caller owns the objects
// and keeps them alive longer than the engine.
// Threads: the engine calls these from its one worker thread only; an
// implementation need not be thread-safe unless it is shared elsewhere.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace edgefleet::ota {

using common::Expected;

// Files in one directory (the model directory). Durability contract, as
// POSIX gives it and the fault-injecting test double enforces: bytes written
// are durable only after SyncFile (WriteAt syncs when asked); a new name
// (creation, rename, removal) is durable only after SyncDir of its directory.
class Filesystem {
 public:
  virtual ~Filesystem() = default;

  // A whole regular file; kNotFound if it does not exist, kResourceExhausted
  // if it is longer than max_bytes, kIo otherwise.
  virtual Expected<std::string> ReadFile(const std::filesystem::path& path, std::size_t max_bytes) = 0;
  // kNotFound if it does not exist.
  virtual Expected<std::uint64_t> FileSize(const std::filesystem::path& path) = 0;
  // Replaces `path` crash-safely: temporary file in the same directory,
  // write, fsync, rename over `path`, fsync the directory. On failure (also
  // ENOSPC: kResourceExhausted) the temporary is removed and `path` is unchanged.
  virtual Expected<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes) = 0;
  // Creates `path` if missing, cuts it to `offset` bytes (it must hold at
  // least that many), writes `bytes` there, and fsyncs the file when `sync`.
  // kResourceExhausted when the disk is full (the file may then hold part of
  // the bytes; callers cut it back).
  virtual Expected<void> WriteAt(const std::filesystem::path& path, std::uint64_t offset,
                                 std::string_view bytes, bool sync) = 0;
  // Removes a file; ok if it did not exist. Durable after SyncDir.
  virtual Expected<void> Remove(const std::filesystem::path& path) = 0;
  virtual Expected<void> SyncDir(const std::filesystem::path& dir) = 0;
  virtual Expected<void> CreateDirectories(const std::filesystem::path& dir) = 0;
  // Bytes an unprivileged writer may still use in the directory's filesystem.
  virtual Expected<std::uint64_t> FreeBytes(const std::filesystem::path& dir) = 0;
};

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method = "GET";  // GET or POST
  std::string url;             // absolute http:// URL
  std::vector<HttpHeader> headers;
  std::string body;            // POST only; sent as application/json
  std::chrono::milliseconds timeout{30'000};
  std::size_t max_body_bytes = 8u << 20;  // a longer response is an error
};

struct HttpResponse {
  int status = 0;
  std::vector<HttpHeader> headers;  // names as received
  std::string body;

  // The first header with this name, compared case-insensitively.
  std::optional<std::string> Header(std::string_view name) const;
};

// One blocking request. kUnavailable when the peer cannot be reached or the
// connection drops before the whole response arrived (no partial body is
// returned), kDeadlineExceeded on timeout, kResourceExhausted when the body
// exceeds max_body_bytes. Any HTTP status is a success here.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Expected<HttpResponse> Send(const HttpRequest& request) = 0;
};

// Wall-clock time in milliseconds since the Unix epoch: persisted deadlines
// must mean the same after a restart, so a monotonic clock would not do.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t NowMs() = 0;
};

class SystemClock final : public Clock {
 public:
  std::int64_t NowMs() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

}  // namespace edgefleet::ota
