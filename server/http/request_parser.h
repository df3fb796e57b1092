// Internal to server/http/: a Beast request parser that copies the request
// line, header fields and body into storage owned by the connection and
// reused from request to request (no allocation per request once warm, unlike
// beast::http::request_parser's fields container).
//
// Ownership: the parser writes into a RequestStorage it does not own. A
// parser parses one request; the connection emplaces a fresh one (in place,
// no heap) for the next.
//
// Threads: one connection's thread only.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/http/message.h"

namespace edgefleet::server::http::internal {

struct RequestStorage {
  Method method = Method::kGet;
  std::string target;
  std::string fields;  // names and values back to back
  struct Span {
    std::uint32_t name_at, name_len, value_at, value_len;
  };
  std::vector<Span> spans;
  std::string body;
  // A Content-Length body parsed from one piece of the read buffer is not
  // copied: this points into the buffer, which the connection leaves alone
  // until the handler has returned. Otherwise empty, and `body` holds it.
  std::string_view body_in_buffer;
  std::uint64_t content_length = 0;
  bool has_content_length = false;
  bool expect_continue = false;

  std::string_view Body() const { return body_in_buffer.empty() ? std::string_view(body) : body_in_buffer; }
  int version = 11;

  void Clear() {
    target.clear();
    fields.clear();
    spans.clear();
    body.clear();
    body_in_buffer = {};
    has_content_length = false;
    expect_continue = false;
  }
};

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  using BodyLimitFn = std::size_t (*)(const void* context, std::string_view target);

  RequestParser(RequestStorage& storage, BodyLimitFn body_limit_for, const void* context)
      : storage_(storage), body_limit_for_(body_limit_for), context_(context) {}

 private:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;
  using verb = boost::beast::http::verb;
  using field = boost::beast::http::field;

  void on_request_impl(verb method, string_view, string_view target, int version, error_code&) override {
    storage_.version = version;
    switch (method) {
      case verb::get: storage_.method = Method::kGet; break;
      case verb::head: storage_.method = Method::kHead; break;
      case verb::post: storage_.method = Method::kPost; break;
      case verb::put: storage_.method = Method::kPut; break;
      case verb::delete_: storage_.method = Method::kDelete; break;
      default: storage_.method = Method::kOther; break;
    }
    storage_.target.assign(target.data(), target.size());
    body_limit(body_limit_for_(context_, std::string_view(target.data(), target.size())));
  }

  void on_response_impl(int, string_view, int, error_code&) override {}

  void on_field_impl(field name, string_view name_string, string_view value, error_code&) override {
    if (name == field::expect && value.size() == 12 && (value[0] == '1')) storage_.expect_continue = true;
    RequestStorage::Span span{};
    span.name_at = static_cast<std::uint32_t>(storage_.fields.size());
    span.name_len = static_cast<std::uint32_t>(name_string.size());
    storage_.fields.append(name_string.data(), name_string.size());
    span.value_at = static_cast<std::uint32_t>(storage_.fields.size());
    span.value_len = static_cast<std::uint32_t>(value.size());
    storage_.fields.append(value.data(), value.size());
    storage_.spans.push_back(span);
  }

  void on_header_impl(error_code&) override {}

  void on_body_init_impl(boost::optional<std::uint64_t> const& content_length, error_code&) override {
    storage_.has_content_length = content_length.has_value();
    storage_.content_length = content_length.value_or(0);
  }

  std::size_t on_body_impl(string_view body, error_code&) override {
    if (storage_.body.empty() && storage_.body_in_buffer.empty() && storage_.has_content_length &&
        body.size() == storage_.content_length) {
      storage_.body_in_buffer = std::string_view(body.data(), body.size());
      return body.size();
    }
    if (storage_.body.empty()) {
      // The parser has already checked the length against the body limit.
      storage_.body.reserve(static_cast<std::size_t>(storage_.content_length));
    }
    storage_.body.append(body.data(), body.size());
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}

  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    storage_.body.append(body.data(), body.size());
    return body.size();
  }

  void on_finish_impl(error_code&) override {}

  RequestStorage& storage_;
  BodyLimitFn body_limit_for_;
  const void* context_;
};

}  // namespace edgefleet::server::http::internal
