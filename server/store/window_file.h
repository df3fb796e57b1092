// WindowFile: the escalations' windows (300 float32 values, 1,200 bytes
// each) of a SQLite store, kept in a file beside the database
// ("<database>-windows") while each row holds its window's offset
// (escalations.features_at). Internal to server/store.
//
// Why: in SQLite's WAL mode every byte of a row is written twice through the
// page cache (into the WAL at commit, into the database at the checkpoint)
// and read back once in between; for an escalation the window is 1,200 of
// its ~1,300 bytes. Measured on the 2-core VM the server is benchmarked on
// (docs/DECISIONS.md, "Escalation windows beside the database"): the
// escalation writer's CPU per /classify request fell from 8.7 to 4.9 us with
// the window out of the row, and /classify served 14% more requests. Here the
// window is written once, directly (common/append_file.h: O_DIRECT, a batch
// at a time).
//
// Format: a 4096-byte header ("edgefleet windows 1\nid <32 hex digits>\n",
// then zeros), then records at the offsets the rows name, each the window's
// values as little-endian float32. Zeros may lie between batches (the
// padding of a direct write after a reopen, or bytes of a batch whose
// transaction failed); nothing points there.
//
// The pair belongs together: the header's id is also in the database (table
// window_file), and Open refuses a missing file or one with another id, so a
// database restored without its windows (or with another's) fails loudly
// instead of reading wrong windows.
//
// Durability: Append returns after fdatasync; the caller commits the rows
// that point into the file afterwards. A committed row therefore always
// points to durable bytes; a crash between the two leaves bytes nothing
// points to.
//
// Processes and threads: Append holds an exclusive flock on the file (the
// server and a CLI command may both write) and a mutex; records are never
// rewritten, so Read needs neither.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/append_file.h"
#include "common/error.h"
#include "server/store/sql.h"
#include "server/store/store.h"

namespace edgefleet::store::sql {

class WindowFile {
 public:
  static constexpr std::uint64_t kHeaderBytes = common::AppendFile::kBlock;
  static constexpr std::uint64_t kRecordBytes = kWindowValues * sizeof(float);

  // Creates the file (replacing one that is there) with a header naming `id`,
  // durably (file and directory fsynced).
  static Expected<std::unique_ptr<WindowFile>> Create(const std::string& path, std::string_view id);
  // Opens an existing file whose header names `id`: kFailedPrecondition if it
  // is missing or names another id, kCorrupt if it has no valid header.
  static Expected<std::unique_ptr<WindowFile>> Open(const std::string& path, std::string_view id);
  // The database's window file, in the transaction `c` holds: opened by the
  // id the database records (table window_file). When it records none (no
  // row can point into a file yet): with `create` (a write transaction), the
  // file is created with a new random id, which is then recorded; without,
  // null.
  static Expected<std::unique_ptr<WindowFile>> OpenForDatabase(Connection& c, const std::string& path,
                                                               bool create);
  ~WindowFile();
  WindowFile(const WindowFile&) = delete;
  WindowFile& operator=(const WindowFile&) = delete;

  // Appends the escalations' windows (kWindowValues each) as one write and
  // fdatasyncs; returns their offsets, in order.
  Expected<std::vector<std::int64_t>> Append(std::span<const Escalation> batch);

  // The window at `offset`; kCorrupt if no whole record can be there.
  Expected<std::vector<float>> Read(std::int64_t offset) const;

  const std::string& path() const { return path_; }

 private:
  WindowFile(std::string path, std::unique_ptr<common::AppendFile> file, int reader);

  const std::string path_;
  std::mutex mu_;  // Append
  std::unique_ptr<common::AppendFile> file_;
  const int reader_;  // O_RDONLY, for Read
};

}  // namespace edgefleet::store::sql
