// Rows inserted several to a statement (internal to server/store).
//
// Why: SQLite's RETURNING builds a temporary table per statement, which cost
// more than an escalation's row, and every PostgreSQL statement is a round
// trip (docs/DECISIONS.md, "Rows go several to an INSERT"). A kind of row is
// inserted 32, 16, ... 1 rows to a statement, so each kind has six statement
// texts, built once, in the connection's statement cache.
//
// Threads: the texts are immutable once built; the functions use only the
// connection they are given.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "server/store/sql.h"
#include "server/store/store.h"

namespace edgefleet::store::sql {

inline constexpr std::size_t kMaxRowsPerInsert = 32;

// "<head> VALUES ($1, .. $k), ($k+1, ..) <tail>" for `rows` rows of
// `columns` values.
inline std::string InsertText(std::string_view head, std::size_t columns, std::size_t rows, std::string_view tail) {
  std::string sql = std::string(head) + " VALUES ";
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (std::size_t col = 0; col < columns; ++col) {
      sql += (col == 0 ? "$" : ", $") + std::to_string(r * columns + col + 1);
    }
    sql += ")";
  }
  return sql + " " + std::string(tail);
}

// The texts for 1, 2, 4, ... kMaxRowsPerInsert rows.
class MultiRowInsert {
 public:
  MultiRowInsert(std::string_view head, std::size_t columns, std::string_view tail) {
    for (std::size_t n = 1; n <= kMaxRowsPerInsert; n *= 2) texts_.push_back(InsertText(head, columns, n, tail));
  }
  // rows: a power of two, at most kMaxRowsPerInsert.
  const std::string& Sql(std::size_t rows) const { return texts_.at(static_cast<std::size_t>(std::countr_zero(rows))); }

 private:
  std::vector<std::string> texts_;  // [i]: 2^i rows
};

// Inserts `rows` (a vector or a span) in statements of 32, 16, ... 1 rows:
// `append(row, params)` appends a row's values; `returned(n, result)` gets
// each statement's RETURNING rows (n: the rows the statement inserted).
template <typename RowRange, typename Append, typename Returned>
Expected<void> InsertInChunks(Connection& c, const MultiRowInsert& insert, const RowRange& rows, Append append,
                              Returned returned) {
  std::vector<Value> params;
  for (std::size_t done = 0; done < rows.size();) {
    const std::size_t n = std::bit_floor(std::min(kMaxRowsPerInsert, rows.size() - done));
    params.clear();
    for (std::size_t i = done; i < done + n; ++i) append(rows[i], params);
    EDGEFLEET_ASSIGN_OR_RETURN(const Rows result, c.Query(insert.Sql(n), params));
    EDGEFLEET_RETURN_IF_ERROR(returned(n, result));
    done += n;
  }
  return common::Ok();
}

// The ids of the `n` rows one INSERT statement just inserted, appended to
// `ids` in the statement's VALUES order. Both databases assign ids in VALUES
// order (SQLite's AUTOINCREMENT, PostgreSQL's sequence), so the statement's
// RETURNING ids, sorted, are its rows' ids in order. Where the back end gives
// one statement's rows consecutive ids (`computed`: SQLite, the one writer
// while the transaction lasts; Backend::ids_without_returning) they are
// computed back from the last inserted id instead, and the statement needs
// no RETURNING (a temporary table per statement on SQLite).
inline Expected<void> AppendInsertedIds(Connection& c, bool computed, std::size_t n, const Rows& rows,
                                        std::vector<std::int64_t>& ids) {
  if (computed) {
    EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t last, c.LastInsertId());
    for (std::size_t i = 0; i < n; ++i) ids.push_back(last - static_cast<std::int64_t>(n - 1 - i));
    return common::Ok();
  }
  if (rows.size() != n) {
    return Error(ErrorCode::kInternal,
                 "insert returned " + std::to_string(rows.size()) + " ids for " + std::to_string(n) + " rows");
  }
  const std::size_t first = ids.size();
  for (const Row& row : rows) {
    RowReader r(row);
    ids.push_back(r.Int(0));
    EDGEFLEET_RETURN_IF_ERROR(r.status());
  }
  std::sort(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end());
  return common::Ok();
}

// The INSERT of one kind of sync row, "... ON CONFLICT (device_id, seq) DO
// NOTHING": several rows to a statement with RETURNING seq where statements
// are round trips (PostgreSQL), else one row to a statement and its change
// count (SQLite, where that measured cheaper).
struct SyncInsert {
  SyncInsert(std::string_view head, std::size_t columns)
      : multi(head, columns, "ON CONFLICT (device_id, seq) DO NOTHING RETURNING seq"),
        single(InsertText(head, columns, 1, "ON CONFLICT (device_id, seq) DO NOTHING")) {}
  MultiRowInsert multi;
  std::string single;
};

// Inserts one kind of a sync batch and fills `ack` in the rows' order: each
// seq stored or already present (a batch holds a seq once per kind).
// `stored(row)` is called for each row this call stored.
template <typename RowT, typename Append, typename Stored>
Expected<void> InsertSyncRows(Connection& c, bool multi_row, const SyncInsert& insert, const std::vector<RowT>& rows,
                              Append append, Stored stored, SeqAck& ack) {
  std::vector<bool> is_new(rows.size(), false);
  if (multi_row) {
    std::unordered_set<std::int64_t> seqs;
    EDGEFLEET_RETURN_IF_ERROR(InsertInChunks(c, insert.multi, rows, append,
                                             [&seqs](std::size_t, const Rows& result) -> Expected<void> {
                                               for (const Row& row : result) {
                                                 RowReader r(row);
                                                 seqs.insert(r.Int(0));
                                                 if (auto ok = r.status(); !ok.ok()) return ok;
                                               }
                                               return common::Ok();
                                             }));
    for (std::size_t i = 0; i < rows.size(); ++i) is_new[i] = seqs.contains(rows[i].seq);
  } else {
    std::vector<Value> params;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      params.clear();
      append(rows[i], params);
      EDGEFLEET_ASSIGN_OR_RETURN(const std::int64_t changed, c.Execute(insert.single, params));
      is_new[i] = changed != 0;
    }
  }
  for (std::size_t i = 0; i < rows.size(); ++i) {
    (is_new[i] ? ack.stored : ack.already_present).push_back(rows[i].seq);
    if (is_new[i]) stored(rows[i]);
  }
  return common::Ok();
}

}  // namespace edgefleet::store::sql
