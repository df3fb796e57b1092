#include "common/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace edgefleet::common {
namespace {

Expected<void> WriteAll(int fd, const std::uint8_t* data, std::size_t size,
                        const std::filesystem::path& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "cannot write", path);
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return Ok();
}

}  // namespace

Expected<void> WriteFileAtomically(const std::filesystem::path& path,
                                   std::span<const std::uint8_t> bytes,
                                   std::filesystem::perms permissions) {
  if (path.filename().empty()) {
    return Error(ErrorCode::kInvalidArgument, "cannot write '" + path.string() + "': not a file name");
  }
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::string tmpl = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  UniqueFd fd(::mkstemp(name.data()));
  if (fd.get() < 0) return ErrnoError(errno, "cannot create a temporary file for", path);
  const std::filesystem::path tmp(name.data());

  auto fail = [&tmp](Error error) {
    ::unlink(tmp.c_str());
    return error;
  };
  // Permissions first: the content is never visible with wider ones.
  const auto mode = static_cast<mode_t>(permissions & std::filesystem::perms::mask);
  if (::fchmod(fd.get(), mode) != 0) return fail(ErrnoError(errno, "cannot chmod", tmp));
  if (auto w = WriteAll(fd.get(), bytes.data(), bytes.size(), tmp); !w.ok()) {
    return fail(std::move(w).error());
  }
  if (::fsync(fd.get()) != 0) return fail(ErrnoError(errno, "cannot fsync", tmp));
  if (::close(fd.Release()) != 0) return fail(ErrnoError(errno, "cannot close", tmp));
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return fail(ErrnoError(errno, "cannot rename a temporary file over", path));
  }
  return FsyncDirectory(dir);
}

Expected<void> WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes,
                                   std::filesystem::perms permissions) {
  return WriteFileAtomically(
      path,
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()),
                                    bytes.size()),
      permissions);
}

Expected<std::string> ReadFile(const std::filesystem::path& path, std::size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(errno, "cannot open", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return ErrnoError(errno, "cannot stat", path);
  if (!S_ISREG(st.st_mode)) {
    return Error(ErrorCode::kInvalidArgument, path.string() + " is not a regular file");
  }
  std::string out;
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(errno, "cannot read", path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      return Error(ErrorCode::kResourceExhausted,
                   path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

Error ErrnoError(int err, std::string_view what, const std::filesystem::path& path) {
  std::string message(what);
  message += " ";
  message += path.string();
  message += ": ";
  message += std::strerror(err);
  const ErrorCode code = err == ENOENT                     ? ErrorCode::kNotFound
                         : err == ENOSPC || err == EDQUOT ? ErrorCode::kResourceExhausted
                                                          : ErrorCode::kIo;
  return Error(code, std::move(message));
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

Expected<void> FsyncDirectory(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(errno, "cannot open directory", dir);
  if (::fsync(fd.get()) != 0) return ErrnoError(errno, "cannot fsync directory", dir);
  return Ok();
}

}  // namespace edgefleet::common
