// Whole-file reads and crash-safe whole-file writes.
//
// What it is for: keys, configuration and (later) models are replaced whole.
// WriteFileAtomically follows the LevelDB recipe: write a temporary file in
// the same directory, fsync it, rename it over the target, fsync the
// directory. After it returns ok, the new content survives a crash or power
// loss; if it fails or the process dies part way, the target holds its old
// content (or does not exist), never a mix. A leftover temporary
// (".<name>.tmp.XXXXXX") may remain after a crash; it is never read.
//
// The temporary file is created with `permissions` before any byte is
// written, so a private key is never readable by others, not even briefly.
//
// Threads: the functions are reentrant; concurrent writers of the same path
// each leave a whole file, and the last rename wins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "common/error.h"

namespace edgefleet::common {

Expected<void> WriteFileAtomically(const std::filesystem::path& path,
                                   std::span<const std::uint8_t> bytes,
                                   std::filesystem::perms permissions);
Expected<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes,
                                   std::filesystem::perms permissions);

// Reads a whole regular file. kNotFound if it does not exist,
// kResourceExhausted if it is larger than max_bytes, kIo otherwise.
Expected<std::string> ReadFile(const std::filesystem::path& path, std::size_t max_bytes);

// fsyncs a directory, so that a rename or a new file in it is durable.
Expected<void> FsyncDirectory(const std::filesystem::path& dir);

// The error of a failed system call on `path`: "<what> <path>: <strerror>",
// kNotFound for ENOENT, kResourceExhausted for ENOSPC and EDQUOT, else kIo.
Error ErrnoError(int err, std::string_view what, const std::filesystem::path& path);

// A file descriptor closed when this goes out of scope; Release() hands it
// back without closing.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();
  int get() const { return fd_; }
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace edgefleet::common
