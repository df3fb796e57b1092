#include "server/api/lines_log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <filesystem>

#include "common/file.h"

namespace edgefleet::server::api {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;
using common::ErrnoError;

std::string UtcStamp(std::int64_t ms) {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%04d%02d%02dT%02d%02d%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

}  // namespace

LinesLog::LinesLog(const Options& options, const Clock& clock) : options_(options), clock_(clock) {}

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
  file_.reset();
  EDGEFLEET_ASSIGN_OR_RETURN(file_, common::AppendFile::Open({.path = options_.path,
                                                              .fsync = options_.fsync,
                                                              .direct = options_.direct && !direct_refused_,
                                                              .cut_padding = true,
                                                              .pad = '\n'}));
  return common::Ok();
}

Expected<LinesLog::Appended> LinesLog::Append(std::span<const std::string_view> pieces) {
  if (!file_) EDGEFLEET_RETURN_IF_ERROR(OpenFile());  // a rotation that could not reopen
  std::uint64_t bytes = 0;
  for (const std::string_view p : pieces) bytes += p.size();
  Appended out;
  if (file_->size() > 0 && file_->size() + bytes > options_.rotate_bytes) {
    auto rotated = Rotate();
    if (rotated.ok()) {
      out.rotated_to = std::move(rotated).value();
    } else {
      out.rotate_error = rotated.error().ToString();
      if (!file_) EDGEFLEET_RETURN_IF_ERROR(OpenFile());
    }
  }
  EDGEFLEET_RETURN_IF_ERROR(file_->Append(pieces));
  if (file_->TakeBecameBuffered()) {
    direct_refused_ = true;
    out.became_buffered = true;
  }
  return out;
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
  if (options_.fsync && ::fdatasync(file_->fd()) != 0) return ErrnoError(errno, "cannot fdatasync", path);
  std::filesystem::rename(path, target, ec);
  if (ec) return Error(ErrorCode::kIo, "cannot rename " + path.string() + ": " + ec.message());
  EDGEFLEET_RETURN_IF_ERROR(OpenFile());
  EDGEFLEET_RETURN_IF_ERROR(common::FsyncDirectory(dir.empty() ? std::filesystem::path(".") : dir));
  return target.string();
}

}  // namespace edgefleet::server::api
