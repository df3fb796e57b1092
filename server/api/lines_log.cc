#include "server/api/lines_log.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <new>
#include <vector>

#include "common/file.h"

namespace edgefleet::server::api {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;
using common::ErrnoError;

// The unit of direct writes: offsets, lengths and the buffer's address are
// multiples of it. 4096 serves devices of 512-byte and 4096-byte sectors.
constexpr std::uint64_t kBlock = 4096;

std::string UtcStamp(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d%02d%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

// Writes every piece, in order, however the kernel splits the writes.
bool WriteAllVector(int fd, std::vector<iovec>& pieces) {
  std::size_t first = 0;
  while (first < pieces.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(pieces.size() - first, IOV_MAX));
    ssize_t n = ::writev(fd, pieces.data() + first, count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0 && pieces[first].iov_len > 0) {
      errno = EIO;  // no progress on a regular file: give up rather than spin
      return false;
    }
    // Skip the pieces written whole, then trim the one written in part.
    while (first < pieces.size() && static_cast<std::size_t>(n) >= pieces[first].iov_len) {
      n -= static_cast<ssize_t>(pieces[first].iov_len);
      ++first;
    }
    if (n > 0) {
      pieces[first].iov_base = static_cast<char*>(pieces[first].iov_base) + n;
      pieces[first].iov_len -= static_cast<std::size_t>(n);
    }
  }
  return true;
}

}  // namespace

void LinesLog::FreeAligned::operator()(char* p) const { std::free(p); }

LinesLog::LinesLog(const Options& options, const Clock& clock) : options_(options), clock_(clock) {}

LinesLog::~LinesLog() {
  if (fd_ >= 0) ::close(fd_);
}

Expected<std::unique_ptr<LinesLog>> LinesLog::Open(const Options& options, const Clock& clock) {
  const std::filesystem::path path(options.path);
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return Error(ErrorCode::kIo, "cannot create " + path.parent_path().string() + ": " + ec.message());
  std::unique_ptr<LinesLog> log(new LinesLog(options, clock));
  EDGEFLEET_RETURN_IF_ERROR(log->OpenFile());
  return log;
}

Expected<void> LinesLog::OpenFile() {
  const char* path = options_.path.c_str();
  direct_ = false;
  fd_ = -1;
  if (options_.direct && !direct_refused_) {
    fd_ = ::open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_DIRECT, 0640);
    if (fd_ < 0 && errno != EINVAL) return ErrnoError(errno, "cannot open", path);
    direct_ = fd_ >= 0;
  }
  if (fd_ < 0) fd_ = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd_ < 0) return ErrnoError(errno, "cannot open", path);
  struct stat st{};
  if (::fstat(fd_, &st) != 0) return ErrnoError(errno, "cannot stat", path);
  size_ = static_cast<std::uint64_t>(st.st_size);
  if (!direct_) return common::Ok();
  // The last partial block, read back into the buffer the next write starts with.
  Reserve(kBlock);
  const std::uint64_t tail = size_ % kBlock;
  if (tail == 0) return common::Ok();
  const int reader = ::open(path, O_RDONLY | O_CLOEXEC);
  if (reader < 0) return ErrnoError(errno, "cannot open", path);
  const ssize_t n = ::pread(reader, buffer_.get(), tail, static_cast<off_t>(size_ - tail));
  const int err = errno;
  ::close(reader);
  if (n != static_cast<ssize_t>(tail)) return ErrnoError(n < 0 ? err : EIO, "cannot read the end of", path);
  return common::Ok();
}

void LinesLog::Reserve(std::uint64_t bytes) {
  if (bytes <= capacity_) return;
  const std::uint64_t capacity = std::max<std::uint64_t>((bytes + kBlock - 1) / kBlock * kBlock, 2 * capacity_);
  void* p = nullptr;
  if (::posix_memalign(&p, kBlock, capacity) != 0) throw std::bad_alloc();
  if (buffer_) std::memcpy(p, buffer_.get(), size_ % kBlock);
  buffer_.reset(static_cast<char*>(p));
  capacity_ = capacity;
}

Expected<LinesLog::Appended> LinesLog::Append(std::span<const std::string_view> pieces) {
  if (fd_ < 0) EDGEFLEET_RETURN_IF_ERROR(OpenFile());  // a rotation that could not reopen
  std::uint64_t bytes = 0;
  for (const std::string_view p : pieces) bytes += p.size();
  Appended out;
  if (size_ > 0 && size_ + bytes > options_.rotate_bytes) {
    auto rotated = Rotate();
    if (rotated.ok()) {
      out.rotated_to = std::move(rotated).value();
    } else {
      out.rotate_error = rotated.error().ToString();
      if (fd_ < 0) EDGEFLEET_RETURN_IF_ERROR(OpenFile());
    }
  }
  if (bytes == 0) return out;
  if (direct_) {
    auto written = AppendDirect(pieces, bytes);
    if (written.ok() || written.error().code() != ErrorCode::kInvalidArgument) {
      EDGEFLEET_RETURN_IF_ERROR(written);
      return out;
    }
    // EINVAL: this filesystem takes O_DIRECT at open but not these writes.
    ::close(fd_);
    direct_refused_ = true;
    out.became_buffered = true;
    EDGEFLEET_RETURN_IF_ERROR(OpenFile());
  }
  EDGEFLEET_RETURN_IF_ERROR(AppendBuffered(pieces, bytes));
  return out;
}

Expected<void> LinesLog::AppendDirect(std::span<const std::string_view> pieces, std::uint64_t bytes) {
  const std::uint64_t tail = size_ % kBlock;
  const std::uint64_t end = tail + bytes;
  const std::uint64_t padded = (end + kBlock - 1) / kBlock * kBlock;
  Reserve(padded);
  char* at = buffer_.get() + tail;
  for (const std::string_view p : pieces) {
    std::memcpy(at, p.data(), p.size());
    at += p.size();
  }
  std::memset(at, '\n', padded - end);
  const off_t offset = static_cast<off_t>(size_ - tail);
  for (std::uint64_t done = 0; done < padded;) {
    const ssize_t n = ::pwrite(fd_, buffer_.get() + done, padded - done, offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || static_cast<std::uint64_t>(n) % kBlock != 0) {
      const int err = n < 0 ? errno : EIO;
      if (err == EINVAL) return Error(ErrorCode::kInvalidArgument, "O_DIRECT write refused");
      return ErrnoError(err, "cannot write", options_.path);
    }
    done += static_cast<std::uint64_t>(n);
  }
  // Cut the padding off, then keep the new last partial block for the next write.
  const std::uint64_t new_size = size_ + bytes;
  if (::ftruncate(fd_, static_cast<off_t>(new_size)) != 0) return ErrnoError(errno, "cannot cut", options_.path);
  if (options_.fsync && ::fdatasync(fd_) != 0) return ErrnoError(errno, "cannot fdatasync", options_.path);
  size_ = new_size;
  const std::uint64_t kept = new_size % kBlock;
  if (kept > 0) std::memmove(buffer_.get(), buffer_.get() + (end - kept), kept);
  return common::Ok();
}

Expected<void> LinesLog::AppendBuffered(std::span<const std::string_view> pieces, std::uint64_t bytes) {
  std::vector<iovec> iov;
  iov.reserve(pieces.size());
  for (const std::string_view p : pieces) iov.push_back(iovec{const_cast<char*>(p.data()), p.size()});
  if (!WriteAllVector(fd_, iov)) return ErrnoError(errno, "cannot write", options_.path);
  if (options_.fsync && ::fdatasync(fd_) != 0) return ErrnoError(errno, "cannot fdatasync", options_.path);
  size_ += bytes;
  return common::Ok();
}

Expected<std::string> LinesLog::Rotate() {
  const std::filesystem::path path(options_.path);
  const std::filesystem::path dir = path.parent_path();
  std::filesystem::path target;
  const std::string stamp = UtcStamp(clock_.NowMs());
  std::error_code ec;
  for (int i = 0;; ++i) {
    target = dir / (path.stem().string() + "-" + stamp + (i ? "-" + std::to_string(i) : "") +
                    path.extension().string());
    if (!std::filesystem::exists(target, ec)) break;
  }
  if (options_.fsync && ::fdatasync(fd_) != 0) return ErrnoError(errno, "cannot fdatasync", path);
  std::filesystem::rename(path, target, ec);
  if (ec) return Error(ErrorCode::kIo, "cannot rename " + path.string() + ": " + ec.message());
  ::close(fd_);
  EDGEFLEET_RETURN_IF_ERROR(OpenFile());
  EDGEFLEET_RETURN_IF_ERROR(common::FsyncDirectory(dir.empty() ? std::filesystem::path(".") : dir));
  return target.string();
}

}  // namespace edgefleet::server::api
