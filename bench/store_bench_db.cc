#include "bench/store_bench_db.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <variant>

#include "server/store/sql.h"
#include "server/store/store.h"
#include "tests/support/postgres_server.h"

namespace edgefleet::storebench {
namespace {

namespace fs = std::filesystem;

class SqliteDatabases : public Databases {
 public:
  SqliteDatabases() {
    std::string tmpl = (fs::temp_directory_path() / "edgefleet-bench-store-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp failed");
    dir_ = tmpl;
  }
  ~SqliteDatabases() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Removes the previous database (its store is closed by then): the disk
  // holds one measurement's rows at a time.
  std::string Create() override {
    if (count_ > 0) {
      const std::string previous = (dir_ / ("bench-" + std::to_string(count_) + ".db")).string();
      for (const char* suffix : {"", "-wal", "-shm"}) {
        std::error_code ec;
        fs::remove(previous + suffix, ec);
      }
    }
    return "sqlite:" + (dir_ / ("bench-" + std::to_string(++count_) + ".db")).string();
  }

 private:
  fs::path dir_;
  int count_ = 0;
};

class PostgresDatabases : public Databases {
 public:
  explicit PostgresDatabases(bool durable) {
    testsupport::PostgresServerOptions options;
    options.durable = durable;
    server_ = Must(testsupport::PostgresServer::Start(options), "starting PostgreSQL");
  }
  ~PostgresDatabases() override {
    auto stopped = server_->Stop();
    if (!stopped.ok()) std::fprintf(stderr, "stopping PostgreSQL: %s\n", stopped.error().ToString().c_str());
  }
  std::string Create() override {
    return Must(server_->CreateDatabase("bench_" + std::to_string(++count_)), "CREATE DATABASE");
  }

 private:
  std::unique_ptr<testsupport::PostgresServer> server_;
  int count_ = 0;
};

}  // namespace

std::unique_ptr<Databases> MakeSqliteDatabases() { return std::make_unique<SqliteDatabases>(); }

std::unique_ptr<Databases> MakePostgresDatabases(bool durable) { return std::make_unique<PostgresDatabases>(durable); }

std::int64_t CountRows(const std::string& url, const std::string& table) {
  auto backend = Must(store::sql::MakeBackend(url, {}), "raw backend");
  auto conn = Must(backend->Connect(), "raw connection");
  Must(conn->Begin(store::sql::TxnKind::kRead), "BEGIN");
  const auto rows = Must(conn->Query("SELECT count(*) FROM " + table, {}), "count " + table);
  Must(conn->Commit(), "COMMIT");
  Check(rows.size() == 1 && rows[0].cells.size() == 1, "count(*) returned one cell");
  store::sql::RowReader reader(rows[0]);
  const std::int64_t n = reader.Int(0);
  Must(reader.status(), "count(*) cell");
  return n;
}

std::string ReadDurability(const std::string& url) {
  auto backend = Must(store::sql::MakeBackend(url, {}), "raw backend");
  auto conn = Must(backend->Connect(), "raw connection");
  auto text = [&conn](const std::string& sql) {
    const auto rows = Must(conn->Query(sql, {}), sql);
    Check(rows.size() == 1 && rows[0].cells.size() == 1, sql + " returns one cell");
    const store::sql::Value& v = rows[0].cells[0];
    if (const auto* s = std::get_if<std::string>(&v)) return *s;
    if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
    Die(sql + " returned neither text nor an integer");
  };
  Must(conn->Begin(store::sql::TxnKind::kRead), "BEGIN");
  std::string out;
  if (backend->name() == "sqlite") {
    static const char* const kLevels[] = {"OFF", "NORMAL", "FULL", "EXTRA"};
    const std::string level = text("PRAGMA synchronous");
    const int n = std::atoi(level.c_str());
    out = "journal_mode=" + text("PRAGMA journal_mode") +
          ", synchronous=" + (n >= 0 && n <= 3 ? kLevels[n] : level);
  } else {
    out = "fsync=" + text("SHOW fsync") + ", synchronous_commit=" + text("SHOW synchronous_commit") +
          ", full_page_writes=" + text("SHOW full_page_writes");
  }
  Must(conn->Commit(), "COMMIT");
  return out;
}

}  // namespace edgefleet::storebench
