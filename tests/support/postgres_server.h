// A throwaway PostgreSQL server for tests (STYLE.md practice 7: real
// databases started by the fixtures, never one someone else started).
//
// What it is for: the store's typed tests and later integration tests run
// against a real PostgreSQL. PostgresServer::Start runs `initdb` into a fresh
// temporary directory and `pg_ctl start` with TCP disabled
// (listen_addresses='') and the Unix socket in that same directory, on a port
// number that was free at the time; Stop runs `pg_ctl stop -m immediate`,
// makes sure the postmaster (by its pid) is gone and removes the directory.
// By default the server is tuned for tests (fsync=off,
// synchronous_commit=off, full_page_writes=off): it is not durable.
// PostgresServerOptions::durable keeps PostgreSQL's own durable defaults
// (fsync=on, synchronous_commit=on, full_page_writes=on), for benchmarks
// (bench/store_ingest.cc) that must measure what a real deployment pays.
//
// PostgreSQL refuses to run as root: when the test runs as root, the
// commands run as the `postgres` user (`runuser -u postgres --`) and the
// directory is given to that user. Binaries are looked up in
// $EDGEFLEET_PG_BINDIR, then the highest /usr/lib/postgresql/<N>/bin, then
// $PATH.
//
// If the test process dies without stopping the server (a crash, a timeout
// kill), a small watchdog process, which notices its parent's end through a
// pipe, stops the postmaster and removes the directory, so nothing outlives
// the test binary.
//
// This header needs no GoogleTest (benchmarks use it too); the GoogleTest
// environment holding one server per test binary is
// tests/support/postgres_environment.h.
//
// Threads: PostgresServer is not thread-safe (use it from one thread).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/error.h"

namespace edgefleet::testsupport {

struct PostgresServerOptions {
  // false: fsync, synchronous_commit and full_page_writes off (tests).
  // true: all three on, as PostgreSQL ships them.
  bool durable = false;
};

class PostgresServer {
 public:
  // kNotFound when the PostgreSQL binaries (or, as root, the postgres user)
  // are missing; any other error is a failure to start.
  static common::Expected<std::unique_ptr<PostgresServer>> Start(const PostgresServerOptions& options = {});

  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;
  ~PostgresServer();  // Stop(), errors ignored

  common::Expected<void> Stop();

  // A libpq URI for `database` on this server, as OpenStore takes it.
  std::string Url(std::string_view database = "postgres") const;
  // Creates an empty database named `name` ([a-z0-9_], 1..63) and returns its URL.
  common::Expected<std::string> CreateDatabase(std::string_view name);

  const std::filesystem::path& directory() const { return dir_; }
  int port() const { return port_; }
  pid_t postmaster_pid() const { return pid_; }
  bool durable() const { return durable_; }

 private:
  PostgresServer() = default;

  std::filesystem::path bin_;
  std::filesystem::path dir_;  // the socket directory; data/ below it
  int port_ = 0;
  pid_t pid_ = -1;
  bool as_postgres_user_ = false;
  int watchdog_fd_ = -1;       // write end of the watchdog's pipe
  pid_t watchdog_pid_ = -1;
  bool stopped_ = true;
  bool durable_ = false;
};

// The directory holding initdb and pg_ctl; kNotFound if there is none.
common::Expected<std::filesystem::path> FindPostgresBinDir();

// True when the environment variable CI is set (to anything but "", "0" or
// "false"): PostgreSQL tests must then run, and fail rather than skip when
// PostgreSQL is missing.
bool PostgresRequired();

}  // namespace edgefleet::testsupport
