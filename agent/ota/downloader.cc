#include "agent/ota/downloader.h"

#include <algorithm>
#include <charconv>

namespace edgefleet::ota {
namespace {

using common::Error;
using common::ErrorCode;

struct ContentRange {
  std::uint64_t first = 0, last = 0, total = 0;
};

bool ParseU64(std::string_view s, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// "bytes a-b/total"
bool ParseContentRange(std::string_view v, ContentRange& out) {
  if (v.rfind("bytes ", 0) != 0) return false;
  v.remove_prefix(6);
  const std::size_t dash = v.find('-');
  const std::size_t slash = v.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash) return false;
  return ParseU64(v.substr(0, dash), out.first) && ParseU64(v.substr(dash + 1, slash - dash - 1), out.last) &&
         ParseU64(v.substr(slash + 1), out.total) && out.first <= out.last;
}

}  // namespace

Expected<ChunkResult> DownloadChunk(Filesystem& fs, HttpClient& http, const std::filesystem::path& part,
                                    const ChunkRequest& req) {
  if (req.size == 0 || req.offset >= req.size) return Error(ErrorCode::kInvalidArgument, "nothing left to download");
  const std::uint64_t last = std::min(req.size, req.offset + std::max<std::uint64_t>(req.chunk_bytes, 1)) - 1;
  HttpRequest get;
  get.url = req.url;
  get.headers = req.headers;
  get.headers.push_back({"Range", "bytes=" + std::to_string(req.offset) + "-" + std::to_string(last)});
  if (!req.etag.empty()) get.headers.push_back({"If-Range", req.etag});
  get.timeout = req.timeout;
  get.max_body_bytes = static_cast<std::size_t>(req.size) + 1;
  EDGEFLEET_ASSIGN_OR_RETURN(HttpResponse response, http.Send(get));

  ChunkResult result;
  result.etag = response.Header("ETag").value_or("");
  result.signature = response.Header(kSignatureHeader).value_or("");
  if (response.status == 404) return Error(ErrorCode::kNotFound, "the artifact " + req.url + " is not on the server");
  if (response.status == 416) return Error(ErrorCode::kAborted, "the server refused the range; starting again");
  if (response.status >= 500 || response.status == 429 || response.status == 408) {
    return Error(ErrorCode::kUnavailable, "download answered HTTP " + std::to_string(response.status));
  }
  if (response.status == 200) {
    // The whole artifact: a server without Range support, or If-Range saw a new ETag.
    if (response.body.size() != req.size) {
      return Error(ErrorCode::kCorrupt, "the artifact is " + std::to_string(response.body.size()) +
                                            " bytes, the manifest says " + std::to_string(req.size));
    }
    EDGEFLEET_RETURN_IF_ERROR(fs.WriteAt(part, 0, response.body, true));
    result.downloaded = req.size;
    result.restarted = req.offset != 0;
    return result;
  }
  if (response.status != 206) {
    return Error(ErrorCode::kCorrupt, "download answered HTTP " + std::to_string(response.status));
  }
  if (!req.etag.empty() && !result.etag.empty() && result.etag != req.etag) {
    return Error(ErrorCode::kAborted, "the artifact changed on the server during the download");
  }
  ContentRange range;
  if (!ParseContentRange(response.Header("Content-Range").value_or(""), range)) {
    return Error(ErrorCode::kCorrupt, "a 206 without a valid Content-Range");
  }
  if (range.total != req.size) {
    return Error(ErrorCode::kCorrupt, "the server's artifact is " + std::to_string(range.total) +
                                          " bytes, the manifest says " + std::to_string(req.size));
  }
  if (range.first != req.offset || range.last > last || response.body.size() != range.last - range.first + 1) {
    return Error(ErrorCode::kCorrupt, "a 206 whose range does not match the request");
  }
  EDGEFLEET_RETURN_IF_ERROR(fs.WriteAt(part, req.offset, response.body, true));
  result.downloaded = range.last + 1;
  return result;
}

}  // namespace edgefleet::ota
