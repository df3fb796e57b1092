// Reading a SQLite database from a test (the server's or the agent's, by
// file): rows as text, one text cell, one integer.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

namespace edgefleet::testsupport {

// Every row of `sql` as text cells ("" for NULL); none if it does not prepare.
inline std::vector<std::vector<std::string>> QueryRows(sqlite3* db, const std::string& sql) {
  std::vector<std::vector<std::string>> rows;
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return rows;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* text = sqlite3_column_text(stmt, i);
      row.emplace_back(text == nullptr ? "" : reinterpret_cast<const char*>(text));
    }
    rows.push_back(std::move(row));
  }
  sqlite3_finalize(stmt);
  return rows;
}

// The first cell of the first row; "" if there is none.
inline std::string QueryText(sqlite3* db, const std::string& sql) {
  const auto rows = QueryRows(db, sql);
  return rows.empty() || rows[0].empty() ? "" : rows[0][0];
}

// The first cell of the first row as an integer; -1 if there is none.
inline std::int64_t QueryInt(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return -1;
  std::int64_t n = -1;
  if (sqlite3_step(stmt) == SQLITE_ROW) n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return n;
}

}  // namespace edgefleet::testsupport
