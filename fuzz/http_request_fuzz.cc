// libFuzzer target: the transport's request parser (Beast's basic_parser with
// edgefleet's storage callbacks), fed the way a connection feeds it: in
// pieces of a size taken from the input, consuming what it uses, under an
// 8 KiB header limit and a 64 KiB body limit. Several requests may follow
// one another (keep-alive, pipelining).
//
// Boost's debug assertions go to the handler below (this target is built
// with BOOST_ENABLE_ASSERT_DEBUG_HANDLER; Beast's parser is instantiated only
// in this file). It aborts on every assertion but one: Beast 1.74's
// parse_chunk_header asserts `n >= 5` where a chunk header of 3 bytes ("0\r\n"
// fed before its final CRLF) is valid and the code after the assertion
// answers need_more correctly. Upstream removed that assertion
// (boostorg/beast pull request 2861, 2024); release builds (NDEBUG) never
// had it. The fuzzer found it; nothing in edgefleet is wrong there.
#include <boost/assert.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <algorithm>
#include <optional>

#include "server/http/request_parser.h"

namespace boost {

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  const std::string_view e(expr);
  const std::string_view f(file);
  if (e == "n >= 5" && f.size() >= 16 && f.substr(f.size() - 16) == "basic_parser.ipp") return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion '%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file, long line) {
  std::fprintf(stderr, "%s:%ld: %s: Assertion '%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost

namespace {

std::size_t Limit(const void*, std::string_view target) { return target.size() % 2 == 0 ? 65536 : 100; }

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using edgefleet::server::http::internal::RequestParser;
  using edgefleet::server::http::internal::RequestStorage;
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  ++data;
  --size;
  RequestStorage storage;
  std::optional<RequestParser> parser;
  boost::beast::flat_buffer buffer;
  std::size_t at = 0;
  for (int requests = 0; requests < 16; ++requests) {
    storage.Clear();
    parser.emplace(storage, &Limit, nullptr);
    parser->header_limit(8192);
    parser->eager(true);
    boost::beast::error_code ec;
    while (!parser->is_done()) {
      if (buffer.size() == 0 || ec == boost::beast::http::error::need_more) {
        if (at >= size) return 0;
        const std::size_t n = std::min(piece, size - at);
        auto mb = buffer.prepare(n);
        std::memcpy(mb.data(), data + at, n);
        buffer.commit(n);
        at += n;
      }
      ec = {};
      const std::size_t used = parser->put(buffer.data(), ec);
      buffer.consume(used);
      if (ec && ec != boost::beast::http::error::need_more) return 0;
      Check(buffer.size() <= 8192 + 64 + 65536);
    }
    Check(storage.Body().size() <= 65536);
    for (const auto& s : storage.spans) {
      Check(s.name_at + s.name_len <= storage.fields.size());
      Check(s.value_at + s.value_len <= storage.fields.size());
    }
  }
  return 0;
}
