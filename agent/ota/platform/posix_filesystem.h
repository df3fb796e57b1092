// The real Filesystem (agent/ota/platform.h) over POSIX calls: open, pwrite,
// fsync, rename, statvfs. Stateless; every method is reentrant.
#pragma once

#include "agent/ota/platform.h"

namespace edgefleet::ota {

class PosixFilesystem final : public Filesystem {
 public:
  Expected<std::string> ReadFile(const std::filesystem::path& path, std::size_t max_bytes) override;
  Expected<std::uint64_t> FileSize(const std::filesystem::path& path) override;
  Expected<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes) override;
  Expected<void> WriteAt(const std::filesystem::path& path, std::uint64_t offset, std::string_view bytes,
                         bool sync) override;
  Expected<void> Remove(const std::filesystem::path& path) override;
  Expected<void> SyncDir(const std::filesystem::path& dir) override;
  Expected<void> CreateDirectories(const std::filesystem::path& dir) override;
  Expected<std::uint64_t> FreeBytes(const std::filesystem::path& dir) override;
};

}  // namespace edgefleet::ota
