#include "agent/ota/platform/posix_filesystem.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "common/file.h"

namespace edgefleet::ota {

using common::Error;
using common::ErrorCode;

Expected<std::string> PosixFilesystem::ReadFile(const std::filesystem::path& path, std::size_t max_bytes) {
  return common::ReadFile(path, max_bytes);
}

Expected<std::uint64_t> PosixFilesystem::FileSize(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return common::ErrnoError(errno, "stat", path);
  return static_cast<std::uint64_t>(st.st_size);
}

Expected<void> PosixFilesystem::WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes) {
  return common::WriteFileAtomically(path, bytes,
                                     std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                         std::filesystem::perms::group_read | std::filesystem::perms::others_read);
}

Expected<void> PosixFilesystem::WriteAt(const std::filesystem::path& path, std::uint64_t offset,
                                        std::string_view bytes, bool sync) {
  common::UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (fd.get() < 0) return common::ErrnoError(errno, "open", path);
  if (::ftruncate(fd.get(), static_cast<off_t>(offset)) != 0) return common::ErrnoError(errno, "truncate", path);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd.get(), bytes.data() + done, bytes.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return common::ErrnoError(errno, "write", path);
    }
    done += static_cast<std::size_t>(n);
  }
  if (sync && ::fdatasync(fd.get()) != 0) return common::ErrnoError(errno, "fsync", path);
  return common::Ok();
}

Expected<void> PosixFilesystem::Remove(const std::filesystem::path& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return common::ErrnoError(errno, "remove", path);
  return common::Ok();
}

Expected<void> PosixFilesystem::SyncDir(const std::filesystem::path& dir) { return common::FsyncDirectory(dir); }

Expected<void> PosixFilesystem::CreateDirectories(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Error(ErrorCode::kIo, "creating " + dir.string() + ": " + ec.message());
  return common::Ok();
}

Expected<std::uint64_t> PosixFilesystem::FreeBytes(const std::filesystem::path& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return common::ErrnoError(errno, "statvfs", dir);
  return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
}

}  // namespace edgefleet::ota
