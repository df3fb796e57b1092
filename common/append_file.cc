#include "common/append_file.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "common/file.h"

namespace edgefleet::common {
namespace {

std::uint64_t RoundUp(std::uint64_t n) { return (n + AppendFile::kBlock - 1) / AppendFile::kBlock * AppendFile::kBlock; }

// Writes every piece, in order, from `offset` on, however the kernel splits
// the writes.
bool WriteAllAt(int fd, std::vector<iovec>& pieces, off_t offset) {
  std::size_t first = 0;
  while (first < pieces.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(pieces.size() - first, IOV_MAX));
    ssize_t n = ::pwritev(fd, pieces.data() + first, count, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0 && pieces[first].iov_len > 0) {
      errno = EIO;  // no progress on a regular file: give up rather than spin
      return false;
    }
    offset += n;
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

void AppendFile::FreeAligned::operator()(char* p) const { std::free(p); }

AppendFile::~AppendFile() {
  if (fd_ >= 0) ::close(fd_);
}

Expected<std::unique_ptr<AppendFile>> AppendFile::Open(const Options& options) {
  std::unique_ptr<AppendFile> file(new AppendFile(options));
  EDGEFLEET_RETURN_IF_ERROR(file->OpenFile());
  return file;
}

Expected<void> AppendFile::OpenFile() {
  const char* path = options_.path.c_str();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  direct_ = false;
  if (options_.direct) {
    fd_ = ::open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_DIRECT, 0640);
    if (fd_ < 0 && errno != EINVAL) return ErrnoError(errno, "cannot open", path);
    direct_ = fd_ >= 0;
  }
  if (fd_ < 0) fd_ = ::open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) return ErrnoError(errno, "cannot open", path);
  struct stat st{};
  if (::fstat(fd_, &st) != 0) return ErrnoError(errno, "cannot stat", path);
  return LoadEnd(static_cast<std::uint64_t>(st.st_size));
}

Expected<void> AppendFile::LoadEnd(std::uint64_t file_size) {
  size_ = file_size;
  if (!direct_) return Ok();
  // The last partial block, read back (through a buffered descriptor: the
  // direct one needs aligned reads) into the buffer the next write starts with.
  Reserve(kBlock);
  const std::uint64_t tail = size_ % kBlock;
  if (tail == 0) return Ok();
  const int reader = ::open(options_.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (reader < 0) return ErrnoError(errno, "cannot open", options_.path);
  const ssize_t n = ::pread(reader, buffer_.get(), tail, static_cast<off_t>(size_ - tail));
  const int err = errno;
  ::close(reader);
  if (n != static_cast<ssize_t>(tail)) return ErrnoError(n < 0 ? err : EIO, "cannot read the end of", options_.path);
  return Ok();
}

std::uint64_t AppendFile::FileEnd() const { return direct_ && !options_.cut_padding ? RoundUp(size_) : size_; }

Expected<bool> AppendFile::Refresh() {
  struct stat st{};
  if (::fstat(fd_, &st) != 0) return ErrnoError(errno, "cannot stat", options_.path);
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (file_size == FileEnd()) return false;
  EDGEFLEET_RETURN_IF_ERROR(LoadEnd(file_size));
  return true;
}

bool AppendFile::TakeBecameBuffered() { return std::exchange(became_buffered_, false); }

void AppendFile::Reserve(std::uint64_t bytes) {
  if (bytes <= capacity_) return;
  const std::uint64_t capacity = std::max<std::uint64_t>(RoundUp(bytes), 2 * capacity_);
  void* p = nullptr;
  if (::posix_memalign(&p, kBlock, capacity) != 0) throw std::bad_alloc();
  if (buffer_) std::memcpy(p, buffer_.get(), size_ % kBlock);
  buffer_.reset(static_cast<char*>(p));
  capacity_ = capacity;
}

Expected<std::uint64_t> AppendFile::Append(std::span<const std::string_view> pieces) {
  std::uint64_t bytes = 0;
  for (const std::string_view p : pieces) bytes += p.size();
  const std::uint64_t at = size_;
  if (bytes == 0) return at;
  if (direct_) {
    auto written = AppendDirect(pieces, bytes);
    if (written.ok()) return at;
    if (written.error().code() != ErrorCode::kInvalidArgument) return std::move(written).error();
    // EINVAL: this filesystem takes O_DIRECT at open but not these writes.
    // The padding a direct write may have left is overwritten from size_ on.
    options_.direct = false;
    became_buffered_ = true;
    const std::uint64_t keep = size_;
    EDGEFLEET_RETURN_IF_ERROR(OpenFile());
    size_ = keep;
  }
  EDGEFLEET_RETURN_IF_ERROR(AppendBuffered(pieces, bytes));
  return at;
}

Expected<void> AppendFile::AppendDirect(std::span<const std::string_view> pieces, std::uint64_t bytes) {
  const std::uint64_t tail = size_ % kBlock;
  const std::uint64_t end = tail + bytes;
  const std::uint64_t padded = RoundUp(end);
  Reserve(padded);
  char* at = buffer_.get() + tail;
  for (const std::string_view p : pieces) {
    std::memcpy(at, p.data(), p.size());
    at += p.size();
  }
  std::memset(at, options_.pad, padded - end);
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
  const std::uint64_t new_size = size_ + bytes;
  if (options_.cut_padding && ::ftruncate(fd_, static_cast<off_t>(new_size)) != 0) {
    return ErrnoError(errno, "cannot cut", options_.path);
  }
  if (options_.fsync && ::fdatasync(fd_) != 0) return ErrnoError(errno, "cannot fdatasync", options_.path);
  size_ = new_size;
  // Keep the new last partial block for the next write.
  const std::uint64_t kept = new_size % kBlock;
  if (kept > 0) std::memmove(buffer_.get(), buffer_.get() + (end - kept), kept);
  return Ok();
}

Expected<void> AppendFile::AppendBuffered(std::span<const std::string_view> pieces, std::uint64_t bytes) {
  std::vector<iovec> iov;
  iov.reserve(pieces.size());
  for (const std::string_view p : pieces) iov.push_back(iovec{const_cast<char*>(p.data()), p.size()});
  if (!WriteAllAt(fd_, iov, static_cast<off_t>(size_))) return ErrnoError(errno, "cannot write", options_.path);
  if (options_.fsync && ::fdatasync(fd_) != 0) return ErrnoError(errno, "cannot fdatasync", options_.path);
  size_ += bytes;
  return Ok();
}

}  // namespace edgefleet::common
