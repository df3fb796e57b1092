// The migration runner, on each back end: pending steps only, all or
// nothing, and never onto a database newer than the code.

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/server/store_fixture.h"

namespace edgefleet::store {
namespace {

using common::ErrorCode;
using sql::Migration;

const auto* const kPostgres = testsupport::PostgresEnvironment::Register();

// The steps are deliberately not idempotent (CREATE TABLE without IF NOT
// EXISTS): running one twice fails.
constexpr Migration kStep1{1, "t1", "CREATE TABLE t1 (x INTEGER NOT NULL)"};
constexpr Migration kStep2{2, "t2", "CREATE TABLE t2 (y INTEGER NOT NULL); INSERT INTO t2 (y) VALUES (7)"};
constexpr Migration kStep3{3, "t3", "CREATE TABLE t3 (z INTEGER NOT NULL)"};
constexpr Migration kBroken4{4, "broken", "CREATE TABLE t4 (w NOSUCHTYPE NOT NULL"};

template <typename Db>
class MigrationTest : public StoreFixture<Db> {
 protected:
  // Whether `table` exists, by reading from it in a transaction of its own.
  bool TableExists(sql::Connection& conn, const std::string& table) {
    EXPECT_TRUE(conn.Begin(sql::TxnKind::kRead).ok());
    const bool exists = conn.Query("SELECT COUNT(*) FROM " + table, {}).ok();
    conn.Rollback();
    return exists;
  }

  int Version(sql::Connection& conn) {
    EXPECT_TRUE(conn.Begin(sql::TxnKind::kRead).ok());
    const auto v = sql::ReadSchemaVersion(conn);
    conn.Rollback();
    EXPECT_TRUE(v.ok()) << v.error().ToString();
    return v.ok() ? *v : -1;
  }
};

TYPED_TEST_SUITE(MigrationTest, Databases, DbNames);

TYPED_TEST(MigrationTest, AppliesOnlyThePendingSteps) {
  auto conn = this->Raw();
  ASSERT_NE(conn, nullptr);
  const Migration one[] = {kStep1};
  const Migration two[] = {kStep1, kStep2};
  EXPECT_EQ(sql::ApplyMigrations(*conn, one).value(), 1);
  EXPECT_EQ(this->Version(*conn), 1);
  EXPECT_EQ(sql::ApplyMigrations(*conn, one).value(), 1);  // nothing to do, step 1 not rerun
  EXPECT_EQ(sql::ApplyMigrations(*conn, two).value(), 2);
  EXPECT_EQ(this->Version(*conn), 2);
  EXPECT_TRUE(this->TableExists(*conn, "t1"));
  EXPECT_TRUE(this->TableExists(*conn, "t2"));
}

TYPED_TEST(MigrationTest, AFailedStepRollsBackEveryStepOfThatRun) {
  auto conn = this->Raw();
  ASSERT_NE(conn, nullptr);
  const Migration two[] = {kStep1, kStep2};
  ASSERT_TRUE(sql::ApplyMigrations(*conn, two).ok());
  const Migration four[] = {kStep1, kStep2, kStep3, kBroken4};
  const auto failed = sql::ApplyMigrations(*conn, four);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.error().message().find("migration 4 (broken)"), std::string::npos)
      << failed.error().message();
  EXPECT_EQ(this->Version(*conn), 2);
  EXPECT_FALSE(this->TableExists(*conn, "t3"));  // step 3 ran, and was rolled back
  // The connection is still usable, and a fixed list goes through.
  const Migration three[] = {kStep1, kStep2, kStep3};
  EXPECT_EQ(sql::ApplyMigrations(*conn, three).value(), 3);
  EXPECT_TRUE(this->TableExists(*conn, "t3"));
}

TYPED_TEST(MigrationTest, RefusesANewerDatabaseAndMisnumberedLists) {
  auto conn = this->Raw();
  ASSERT_NE(conn, nullptr);
  const Migration two[] = {kStep1, kStep2};
  ASSERT_TRUE(sql::ApplyMigrations(*conn, two).ok());
  const Migration one[] = {kStep1};
  const auto older_code = sql::ApplyMigrations(*conn, one);
  ASSERT_FALSE(older_code.ok());
  EXPECT_EQ(older_code.error().code(), ErrorCode::kFailedPrecondition);
  const Migration gap[] = {kStep1, kStep3};
  EXPECT_EQ(sql::ApplyMigrations(*conn, gap).error().code(), ErrorCode::kInternal);
  EXPECT_EQ(this->Version(*conn), 2);
}

TYPED_TEST(MigrationTest, ConcurrentOpenersMigrateOnce) {
  // Two processes' worth of openers (server replicas, the CLI) racing on a
  // fresh database: one migrates, the others find it done.
  std::vector<std::thread> threads;
  std::vector<std::string> errors(3);
  for (std::size_t i = 0; i < errors.size(); ++i) {
    threads.emplace_back([&, i] {
      auto store = OpenStore(this->url());
      if (!store.ok()) errors[i] = store.error().ToString();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  auto conn = this->Raw();
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(this->Version(*conn), LatestSchemaVersion());
}

}  // namespace
}  // namespace edgefleet::store
