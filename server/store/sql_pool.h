// The SQL store's connection pool (sql_store.cc): up to max_connections
// connections to one back end, opened on demand, handed out as Leases that
// return them when destroyed; a connection that reports itself broken is
// closed instead of returned. Acquire waits while all are in use.
//
// Threads: Pool is safe to share; a Lease belongs to one thread. Internal to
// server/store.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "common/error.h"
#include "server/store/sql.h"

namespace edgefleet::store::sql {

class Pool;

// A checked-out connection; returned to the pool when destroyed.
class Lease {
 public:
  Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease();

  Connection& conn() { return *conn_; }

 private:
  Pool* pool_;
  std::unique_ptr<Connection> conn_;
};

class Pool {
 public:
  Pool(Backend& backend, std::size_t max_connections)
      : backend_(backend), max_(max_connections == 0 ? 1 : max_connections) {}

  // Adds a connection opened elsewhere (the one that ran the migrations).
  void Adopt(std::unique_ptr<Connection> conn) {
    std::lock_guard lock(mu_);
    ++open_;
    idle_.push_back(std::move(conn));
  }

  Expected<Lease> Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return !idle_.empty() || open_ < max_; });
    if (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;
    lock.unlock();
    auto conn = backend_.Connect();
    if (!conn.ok()) {
      lock.lock();
      --open_;
      cv_.notify_one();
      return std::move(conn).error();
    }
    return Lease(this, std::move(conn).value());
  }

  void Release(std::unique_ptr<Connection> conn) {
    if (!conn) return;  // a moved-from lease
    {
      std::lock_guard lock(mu_);
      if (conn->broken()) {
        --open_;
      } else {
        idle_.push_back(std::move(conn));
      }
    }
    cv_.notify_one();
  }

 private:
  Backend& backend_;
  const std::size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;
};

}  // namespace edgefleet::store::sql
