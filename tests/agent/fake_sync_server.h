// A fake sync server for the buffer's tests: an idempotent ingest into its own
// SQLite file (synchronous=FULL), answering like Store::IngestBatch (stored /
// already present, per kind, in batch order). It logs every call, so a test
// can count how often rows came back after they were stored.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>

#include "agent/sqlite_db.h"
#include "common/sync_batch.h"

namespace edgefleet::agent::testing {

class FakeServer {
 public:
  static std::unique_ptr<FakeServer> Open(const std::string& path) {
    auto db = sqlite::Connection::Open(path);
    if (!db.ok()) return nullptr;
    auto s = std::unique_ptr<FakeServer>(new FakeServer(std::move(db).value()));
    if (!s->db_->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                      "CREATE TABLE IF NOT EXISTS rows (kind INTEGER, seq INTEGER, PRIMARY KEY (kind, seq));"
                      "CREATE TABLE IF NOT EXISTS calls (id INTEGER PRIMARY KEY, stored INTEGER, present INTEGER);")
             .ok()) {
      return nullptr;
    }
    return s;
  }

  // One transaction, as the real store does.
  common::Expected<sync::IngestResult> Ingest(const sync::SyncBatch& batch) {
    sync::IngestResult out;
    std::int64_t stored = 0;
    std::int64_t present = 0;
    EDGEFLEET_ASSIGN_OR_RETURN(auto tx, sqlite::Transaction::Begin(*db_));
    EDGEFLEET_ASSIGN_OR_RETURN(auto ins, db_->Prepare("INSERT OR IGNORE INTO rows (kind, seq) VALUES (?, ?)"));
    auto one = [&](std::int64_t kind, std::int64_t seq, sync::SeqAck& ack) -> common::Expected<void> {
      ins.Bind(1, kind).Bind(2, seq);
      EDGEFLEET_RETURN_IF_ERROR(ins.Run());
      if (db_->Changes() == 1) {
        ack.stored.push_back(seq);
        ++stored;
      } else {
        ack.already_present.push_back(seq);
        ++present;
      }
      return common::Ok();
    };
    for (const auto& r : batch.inferences) EDGEFLEET_RETURN_IF_ERROR(one(0, r.seq, out.inferences));
    for (const auto& r : batch.hard_samples) EDGEFLEET_RETURN_IF_ERROR(one(1, r.seq, out.hard_samples));
    for (const auto& r : batch.health) EDGEFLEET_RETURN_IF_ERROR(one(2, r.seq, out.health));
    EDGEFLEET_ASSIGN_OR_RETURN(auto log, db_->Prepare("INSERT INTO calls (stored, present) VALUES (?, ?)"));
    log.Bind(1, stored).Bind(2, present);
    EDGEFLEET_RETURN_IF_ERROR(log.Run());
    EDGEFLEET_RETURN_IF_ERROR(tx.Commit());
    return out;
  }

  std::set<std::pair<std::int64_t, std::int64_t>> Rows() {
    std::set<std::pair<std::int64_t, std::int64_t>> out;
    auto q = db_->Prepare("SELECT kind, seq FROM rows");
    while (q.ok() && q->Step().value_or(false)) out.insert({q->Int(0), q->Int(1)});
    return out;
  }
  // Ingest calls that found rows already stored.
  std::int64_t CallsWithPresentRows() { return db_->QueryInt("SELECT count(*) FROM calls WHERE present > 0").value_or(-1); }

 private:
  explicit FakeServer(std::unique_ptr<sqlite::Connection> db) : db_(std::move(db)) {}
  std::unique_ptr<sqlite::Connection> db_;
};

}  // namespace edgefleet::agent::testing
