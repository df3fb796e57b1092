#include "server/store/window_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/crypto.h"
#include "common/file.h"
#include "server/store/sql_rows.h"

namespace edgefleet::store::sql {
namespace {

using common::ErrnoError;

constexpr std::string_view kMagic = "edgefleet windows 1\nid ";
constexpr std::size_t kIdChars = 32;

std::string Header(std::string_view id) {
  std::string header(WindowFile::kHeaderBytes, '\0');
  const std::string text = std::string(kMagic) + std::string(id) + "\n";
  std::memcpy(header.data(), text.data(), text.size());
  return header;
}

// An exclusive flock for the duration of a scope.
class FileLock {
 public:
  explicit FileLock(int fd) : fd_(fd) {
    while ((rc_ = ::flock(fd_, LOCK_EX)) != 0 && errno == EINTR) {
    }
  }
  ~FileLock() {
    if (rc_ == 0) ::flock(fd_, LOCK_UN);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool held() const { return rc_ == 0; }

 private:
  int fd_;
  int rc_ = -1;
};

Expected<std::unique_ptr<common::AppendFile>> OpenAppender(const std::string& path) {
  return common::AppendFile::Open({.path = path, .fsync = true, .direct = true, .cut_padding = false, .pad = '\0'});
}

}  // namespace

WindowFile::WindowFile(std::string path, std::unique_ptr<common::AppendFile> file, int reader)
    : path_(std::move(path)), file_(std::move(file)), reader_(reader) {}

WindowFile::~WindowFile() { ::close(reader_); }

Expected<std::unique_ptr<WindowFile>> WindowFile::Create(const std::string& path, std::string_view id) {
  if (id.size() != kIdChars) return Error(ErrorCode::kInvalidArgument, "a window file id has 32 characters");
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError(errno, "cannot replace", path);
  EDGEFLEET_ASSIGN_OR_RETURN(std::unique_ptr<common::AppendFile> file, OpenAppender(path));
  const std::string header = Header(id);
  const std::string_view pieces[] = {header};
  EDGEFLEET_RETURN_IF_ERROR(file->Append(pieces));
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  EDGEFLEET_RETURN_IF_ERROR(common::FsyncDirectory(dir.empty() ? std::filesystem::path(".") : dir));
  return Open(path, id);
}

Expected<std::unique_ptr<WindowFile>> WindowFile::Open(const std::string& path, std::string_view id) {
  const int reader = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (reader < 0 && errno == ENOENT) {
    return Error(ErrorCode::kFailedPrecondition,
                 "the escalation windows of this database are missing: " + path +
                     " must lie beside it (restore it with the database)");
  }
  if (reader < 0) return ErrnoError(errno, "cannot open", path);
  common::UniqueFd guard(reader);
  std::string header(kHeaderBytes, '\0');
  const ssize_t n = ::pread(reader, header.data(), header.size(), 0);
  if (n < 0) return ErrnoError(errno, "cannot read", path);
  const std::string_view text(header.data(), static_cast<std::size_t>(n));
  if (text.size() < kHeaderBytes || !text.starts_with(kMagic) || text[kMagic.size() + kIdChars] != '\n') {
    return Error(ErrorCode::kCorrupt, path + " is not an edgefleet window file");
  }
  if (text.substr(kMagic.size(), kIdChars) != id) {
    return Error(ErrorCode::kFailedPrecondition,
                 path + " holds the escalation windows of another database (its id is " +
                     std::string(text.substr(kMagic.size(), kIdChars)) + ", this database's " + std::string(id) + ")");
  }
  EDGEFLEET_ASSIGN_OR_RETURN(std::unique_ptr<common::AppendFile> file, OpenAppender(path));
  return std::unique_ptr<WindowFile>(new WindowFile(path, std::move(file), guard.Release()));
}

Expected<std::unique_ptr<WindowFile>> WindowFile::OpenForDatabase(Connection& c, const std::string& path,
                                                                  bool create) {
  EDGEFLEET_ASSIGN_OR_RETURN(const Rows rows, c.Query("SELECT id FROM window_file", {}));
  if (!rows.empty()) {
    RowReader r(rows.front());
    const std::string id = r.Text(0);
    EDGEFLEET_RETURN_IF_ERROR(r.status());
    return Open(path, id);
  }
  if (!create) return std::unique_ptr<WindowFile>();
  EDGEFLEET_ASSIGN_OR_RETURN(const std::vector<std::uint8_t> random, common::SecureRandomBytes(16));
  const std::string id = common::HexEncode(random);
  EDGEFLEET_ASSIGN_OR_RETURN(std::unique_ptr<WindowFile> file, Create(path, id));
  const Value params[] = {id};
  EDGEFLEET_RETURN_IF_ERROR(c.Execute("INSERT INTO window_file (id) VALUES ($1)", params));
  return file;
}

Expected<std::vector<std::int64_t>> WindowFile::Append(std::span<const Escalation> batch) {
  std::vector<std::string_view> pieces;
  pieces.reserve(batch.size());
  std::vector<Bytes> encoded;  // big-endian hosts only
  for (const Escalation& e : batch) {
    if (e.features.size() != kWindowValues) return Error(ErrorCode::kInvalidArgument, "a window has 300 values");
    if constexpr (std::endian::native == std::endian::little) {
      pieces.emplace_back(reinterpret_cast<const char*>(e.features.data()), kRecordBytes);
    } else {
      encoded.push_back(EncodeFloats(e.features));
    }
  }
  for (const Bytes& b : encoded) pieces.emplace_back(reinterpret_cast<const char*>(b.data()), b.size());

  std::lock_guard lock(mu_);
  const FileLock flock(file_->fd());
  if (!flock.held()) return ErrnoError(errno, "cannot lock", path_);
  EDGEFLEET_RETURN_IF_ERROR(file_->Refresh());  // another process may have appended
  EDGEFLEET_ASSIGN_OR_RETURN(const std::uint64_t at, file_->Append(pieces));
  std::vector<std::int64_t> offsets(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) offsets[i] = static_cast<std::int64_t>(at + i * kRecordBytes);
  return offsets;
}

Expected<std::vector<float>> WindowFile::Read(std::int64_t offset) const {
  const auto corrupt = [&](std::string_view why) {
    return Error(ErrorCode::kCorrupt, "escalation window at offset " + std::to_string(offset) + " of " + path_ +
                                          ": " + std::string(why));
  };
  if (offset < static_cast<std::int64_t>(kHeaderBytes)) return corrupt("inside the header");
  Bytes record(kRecordBytes);
  std::size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = ::pread(reader_, record.data() + done, record.size() - done, static_cast<off_t>(offset) +
                                                                                       static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(errno, "cannot read", path_);
    if (n == 0) return corrupt("past the end of the file");
    done += static_cast<std::size_t>(n);
  }
  return DecodeFloats(record);
}

}  // namespace edgefleet::store::sql
