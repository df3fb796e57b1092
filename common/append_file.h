// AppendFile: a file written only at its end, a batch at a time, around the
// page cache (O_DIRECT) where the filesystem allows it.
//
// What it is for: the server's escalation log (server/api/lines_log.h) and
// the store's window file (server/store/window_file.h), both written on the
// escalation writer's thread at tens of thousands of records a second.
// Measured on the 2-core VM the server is benchmarked on: a buffered write of
// a 3.3 KB log line cost 3 to 4 us of CPU (the kernel's copy into new
// page-cache pages); the same bytes written directly, a batch at a time,
// 0.4 us (docs/DECISIONS.md, "The escalation log is written around the page
// cache").
//
// How: a batch goes out as whole 4096-byte blocks from an aligned buffer that
// starts with the file's last partial block (kept in memory), the last block
// padded with Options::pad. With cut_padding the file is then cut back to its
// length, so that a reader of the file sees whole batches only; without, the
// file stays block-aligned and the next batch overwrites the padding (size()
// is the end of the data; after a reopen, appending resumes at the file's
// aligned end). A filesystem that refuses O_DIRECT (EINVAL at open or at the
// first write) gets ordinary writes instead, and so does direct = false.
//
// Crash safety: a direct write, like a buffered one, is not torn by a signal;
// a process killed between the write and the cut leaves padding at the end.
// The rewritten partial block carries the bytes it held before unchanged.
// Durability: with fsync, every Append ends with fdatasync (the data, the
// length, the device's cache).
//
// Threads: one thread at a time. Processes: one appender at a time, under a
// lock the caller holds (flock on fd()); Refresh() then picks up what another
// process appended.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"

namespace edgefleet::common {

class AppendFile {
 public:
  static constexpr std::uint64_t kBlock = 4096;  // serves devices of 512- and 4096-byte sectors

  struct Options {
    std::string path;
    bool fsync = true;
    bool direct = true;        // false: ordinary buffered writes
    bool cut_padding = true;   // false: the file stays block-aligned (see above)
    char pad = '\n';           // what fills a direct write's last block
  };

  // Opens (creating it, mode 0640) the file; appends after what is there.
  static Expected<std::unique_ptr<AppendFile>> Open(const Options& options);
  ~AppendFile();
  AppendFile(const AppendFile&) = delete;
  AppendFile& operator=(const AppendFile&) = delete;

  // Appends the pieces in order, as one write. Returns the offset of the
  // first byte. On an error nothing counts as written: the next Append writes
  // from the same place.
  Expected<std::uint64_t> Append(std::span<const std::string_view> pieces);

  // Re-reads the file's length: true if another process appended since this
  // object last wrote (appending then resumes after it).
  Expected<bool> Refresh();

  std::uint64_t size() const { return size_; }
  bool direct() const { return direct_; }
  // The first Append the filesystem refused directly switched to buffered
  // writes; read and cleared by the caller (to log it once).
  bool TakeBecameBuffered();
  int fd() const { return fd_; }

 private:
  explicit AppendFile(const Options& options) : options_(options) {}
  Expected<void> OpenFile();
  Expected<void> LoadEnd(std::uint64_t file_size);
  Expected<void> AppendDirect(std::span<const std::string_view> pieces, std::uint64_t bytes);
  Expected<void> AppendBuffered(std::span<const std::string_view> pieces, std::uint64_t bytes);
  std::uint64_t FileEnd() const;  // the file's length as this object left it
  void Reserve(std::uint64_t bytes);  // the aligned buffer holds at least `bytes`

  Options options_;
  int fd_ = -1;
  bool direct_ = false;
  bool became_buffered_ = false;
  std::uint64_t size_ = 0;
  // Direct: the file's last partial block is buffer_[0, size_ % kBlock).
  struct FreeAligned {
    void operator()(char* p) const;
  };
  std::unique_ptr<char, FreeAligned> buffer_;
  std::uint64_t capacity_ = 0;
};

}  // namespace edgefleet::common
