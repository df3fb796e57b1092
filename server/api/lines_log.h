// LinesLog: an append-only file of text lines (the escalation log), written
// a batch at a time, renamed aside by size (rotation).
//
// Writes go around the page cache (O_DIRECT) where the filesystem allows it,
// through common::AppendFile (common/append_file.h, which says why and how);
// the file is cut back to its length after each batch, so a reader sees
// whole lines only. A process killed between the write and the cut leaves
// blank lines at the end (readers of JSON lines skip them), never a partial
// line. A filesystem that refuses O_DIRECT gets ordinary appends, and so
// does Options::direct = false.
//
// Rotation: before a batch would grow a non-empty file past rotate_bytes,
// the file is renamed to <stem>-<UTC time>[-n]<extension> beside it, its
// directory fsynced, and a new file started. A rotation that fails does not
// stop the log: the batch goes to the current file, and the next batch tries
// again.
//
// Durability: with fsync, every Append ends with fdatasync (the data, the
// length, the device's cache). Without, the bytes are still written before
// Append returns, but not flushed.
//
// Threads: one thread at a time (the writer's).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/append_file.h"
#include "common/error.h"
#include "server/clock.h"

namespace edgefleet::server::api {

class LinesLog {
 public:
  struct Options {
    std::string path;
    std::uint64_t rotate_bytes = 256ull * 1024 * 1024;
    bool fsync = true;
    bool direct = true;  // false: ordinary buffered appends
  };
  struct Appended {
    std::string rotated_to;    // the old file's new name when this append rotated; "" otherwise
    std::string rotate_error;  // why a rotation this append needed failed (the lines went to the
                               // current file instead); "" otherwise
    bool became_buffered = false;  // the filesystem refused a direct write: buffered from now on
  };

  // Creates the directory and the file if needed; appends after what is there.
  static common::Expected<std::unique_ptr<LinesLog>> Open(const Options& options, const Clock& clock);
  LinesLog(const LinesLog&) = delete;
  LinesLog& operator=(const LinesLog&) = delete;

  // Appends the pieces in order, as one write (each line may be several
  // pieces; the caller ends lines with '\n'). On an error nothing counts as
  // written: the next Append writes from the same place.
  common::Expected<Appended> Append(std::span<const std::string_view> pieces);

  std::uint64_t size() const { return file_ ? file_->size() : 0; }
  bool direct() const { return file_ && file_->direct(); }

 private:
  LinesLog(const Options& options, const Clock& clock);
  common::Expected<void> OpenFile();
  common::Expected<std::string> Rotate();

  Options options_;
  const Clock& clock_;
  std::unique_ptr<common::AppendFile> file_;  // null after a rotation that could not reopen
  bool direct_refused_ = false;  // the filesystem refused a direct write: buffered from then on
};

}  // namespace edgefleet::server::api
