// LinesLog: an append-only file of text lines (the escalation log), written
// a batch at a time, renamed aside by size (rotation).
//
// Writes go around the page cache (O_DIRECT) where the filesystem allows it.
// Measured on the 2-core VM this server is benchmarked on: a buffered write
// of a 3.3 KB log line cost 3 to 4 us of CPU (the kernel's copy into new
// page-cache pages), about half of the escalation writer's time; the same
// bytes written directly, a batch at a time, cost 0.4 us per line
// (docs/DECISIONS.md). How: the file is written in whole 4096-byte blocks
// from an aligned buffer that starts with the file's last partial block
// (kept in memory), the last block padded with '\n'; the file is then cut
// back to its length. A process killed between the write and the cut leaves
// blank lines at the end (readers of JSON lines skip them), never a partial
// line (a direct write, like a buffered one, is not torn by a signal; a
// power loss before the fdatasync may lose or tear the batch either way). A
// filesystem that refuses O_DIRECT (EINVAL at open or at the first write)
// gets ordinary appends instead, and so does Options::direct = false.
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
  ~LinesLog();
  LinesLog(const LinesLog&) = delete;
  LinesLog& operator=(const LinesLog&) = delete;

  // Appends the pieces in order, as one write (each line may be several
  // pieces; the caller ends lines with '\n'). On an error nothing counts as
  // written: the next Append writes from the same place.
  common::Expected<Appended> Append(std::span<const std::string_view> pieces);

  std::uint64_t size() const { return size_; }
  bool direct() const { return direct_; }

 private:
  LinesLog(const Options& options, const Clock& clock);
  common::Expected<void> OpenFile();
  common::Expected<std::string> Rotate();
  common::Expected<void> AppendDirect(std::span<const std::string_view> pieces, std::uint64_t bytes);
  common::Expected<void> AppendBuffered(std::span<const std::string_view> pieces, std::uint64_t bytes);
  void Reserve(std::uint64_t bytes);  // the aligned buffer holds at least `bytes`

  Options options_;
  const Clock& clock_;
  int fd_ = -1;
  bool direct_ = false;
  bool direct_refused_ = false;  // a direct write failed with EINVAL: buffered from then on
  std::uint64_t size_ = 0;
  // O_DIRECT: the file's last partial block is buffer_[0, size_ % kBlock).
  struct FreeAligned {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, FreeAligned> buffer_;
  std::uint64_t capacity_ = 0;
};

}  // namespace edgefleet::server::api
