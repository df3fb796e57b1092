// The store's typed-test fixture: the same test bodies run against SQLite
// (a file in a temporary directory) and PostgreSQL (a fresh database on the
// binary's own server, tests/support/postgres_environment.h).
//
// Without PostgreSQL binaries the PostgreSQL half skips, or fails when the
// environment variable CI is set.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "server/store/sql.h"
#include "server/store/store.h"
#include "tests/support/postgres_environment.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::store {

// A fresh, empty database for one test, named by its store URL.
struct SqliteDb {
  static constexpr const char* kName = "Sqlite";
  static common::Expected<std::string> Create(TempDir& dir) {
    return "sqlite:" + (dir.path() / "store.db").string();
  }
};

struct PostgresDb {
  static constexpr const char* kName = "Postgres";
  static common::Expected<std::string> Create(TempDir& /*dir*/) {
    auto* env = testsupport::PostgresEnvironment::Get();
    if (env == nullptr) return common::Error(common::ErrorCode::kInternal, "environment not registered");
    EDGEFLEET_ASSIGN_OR_RETURN(testsupport::PostgresServer * server, env->Server());
    static std::atomic<int> counter{0};
    return server->CreateDatabase("store_test_" + std::to_string(++counter));
  }
};

struct DbNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

using Databases = ::testing::Types<SqliteDb, PostgresDb>;

// "token-<n>"'s hash: what the server stores for a device or admin token.
inline std::string TokenHash(const std::string& token) { return common::Sha256Hex(token).value(); }

template <typename Db>
class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = Db::Create(dir_);
    if (!url.ok()) {
      if (url.error().code() == common::ErrorCode::kNotFound && !testsupport::PostgresRequired()) {
        GTEST_SKIP() << url.error().message();
      }
      FAIL() << url.error().ToString();
    }
    url_ = *url;
  }

  // Opens (and migrates) the store; fails the test if it cannot.
  std::unique_ptr<Store> Open() {
    auto store = OpenStore(url_);
    EXPECT_TRUE(store.ok()) << store.error().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // A raw connection to the same database, for what the Store hides.
  std::unique_ptr<sql::Connection> Raw() {
    auto backend = sql::MakeBackend(url_, {});
    EXPECT_TRUE(backend.ok());
    auto conn = (*backend)->Connect();
    EXPECT_TRUE(conn.ok()) << conn.error().ToString();
    return conn.ok() ? std::move(conn).value() : nullptr;
  }

  const std::string& url() const { return url_; }

 private:
  TempDir dir_;
  std::string url_;
};

}  // namespace edgefleet::store
