// A throwaway PostgreSQL server for tests (STYLE.md practice 7: real
// databases started by the fixtures, never one someone else started).
//
// What it is for: the store's typed tests and later integration tests run
// against a real PostgreSQL. PostgresServer::Start runs `initdb` into a fresh
// temporary directory and `pg_ctl start` with TCP disabled
// (listen_addresses='') and the Unix socket in that same directory, on a port
// number that was free at the time; Stop runs `pg_ctl stop -m immediate`,
// makes sure the postmaster (by its pid) is gone and removes the directory.
// The server is tuned for tests (fsync off): it is not durable.
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
// PostgresEnvironment wraps one server per test binary as a GoogleTest
// environment: started on first use (binaries that run only SQLite tests
// never start it), stopped in TearDown.
//
// Threads: PostgresServer is not thread-safe (use it from one thread);
// PostgresEnvironment::Server() is.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "common/error.h"

namespace edgefleet::testsupport {

class PostgresServer {
 public:
  // kNotFound when the PostgreSQL binaries (or, as root, the postgres user)
  // are missing; any other error is a failure to start.
  static common::Expected<std::unique_ptr<PostgresServer>> Start();

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
};

// The directory holding initdb and pg_ctl; kNotFound if there is none.
common::Expected<std::filesystem::path> FindPostgresBinDir();

// True when the environment variable CI is set (to anything but "", "0" or
// "false"): PostgreSQL tests must then run, and fail rather than skip when
// PostgreSQL is missing.
bool PostgresRequired();

class PostgresEnvironment : public ::testing::Environment {
 public:
  // Registers the one environment with GoogleTest; call at static
  // initialisation of a test file (`const auto* kPg = ...Register();`).
  static PostgresEnvironment* Register();
  static PostgresEnvironment* Get();  // null before Register

  // The server, started on the first call. After a failed start, every call
  // returns the same error without trying again.
  common::Expected<PostgresServer*> Server();

  void TearDown() override;

 private:
  std::mutex mu_;
  std::unique_ptr<PostgresServer> server_;
  std::optional<common::Error> error_;
  bool tried_ = false;
};

}  // namespace edgefleet::testsupport
