// One throwaway PostgreSQL server per test binary, as a GoogleTest
// environment (the server itself: tests/support/postgres_server.h).
//
// What it is for: the store's typed tests and later integration tests share
// one server per binary: started on first use (binaries that run only SQLite
// tests never start it), stopped in TearDown. It runs with the test tuning
// (fsync off, not durable).
//
// Ownership and threads: GoogleTest owns the one environment (Register);
// Server() is thread-safe and the server it returns lives until TearDown.
#pragma once

#include <memory>
#include <mutex>
#include <optional>

#include <gtest/gtest.h>

#include "common/error.h"
#include "tests/support/postgres_server.h"

namespace edgefleet::testsupport {

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
