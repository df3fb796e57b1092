// The databases edgefleet-bench-store (bench/store_ingest.cc) measures, and
// its way of failing: fresh SQLite files in a temporary directory, or
// databases on a throwaway PostgreSQL server (tests/support/postgres_server.h);
// raw counts and the durability settings read back from a database.
//
// Failure: Die throws Failure, which main catches after the databases and
// servers are gone; Must and Check die with a message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "common/error.h"

namespace edgefleet::storebench {

// Thrown by Die, caught in main after the databases and servers are gone.
struct Failure {
  std::string why;
};

[[noreturn]] inline void Die(const std::string& why) { throw Failure{why}; }

template <typename T>
T Must(common::Expected<T> value, const std::string& what) {
  if (!value.ok()) Die(what + ": " + value.error().ToString());
  return std::move(value).value();
}

inline void Must(common::Expected<void> value, const std::string& what) {
  if (!value.ok()) Die(what + ": " + value.error().ToString());
}

inline void Check(bool ok, const std::string& what) {
  if (!ok) Die("verification failed: " + what);
}

// Hands out fresh, empty databases of one back end (store URLs).
class Databases {
 public:
  virtual ~Databases() = default;
  virtual std::string Create() = 0;
};

// SQLite: one file at a time in a temporary directory, the previous one
// removed when the next is created; the directory removed at the end.
std::unique_ptr<Databases> MakeSqliteDatabases();
// A PostgreSQL server of its own (durable: fsync and full page writes on),
// stopped at the end.
std::unique_ptr<Databases> MakePostgresDatabases(bool durable);

// SELECT count(*) FROM table, on a raw connection.
std::int64_t CountRows(const std::string& url, const std::string& table);

// The durability settings in effect, read back from the database (not what
// we asked for): SQLite's journal mode and synchronous level on a store
// connection; PostgreSQL's fsync, synchronous_commit and full_page_writes.
std::string ReadDurability(const std::string& url);

}  // namespace edgefleet::storebench
