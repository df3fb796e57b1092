// One HTTP/1.x connection, over plain TCP or TLS: read and parse a request
// under the limits, call its handler, write the response, keep alive.
//
// Invariants: a connection runs only on its worker's thread and has at most
// one asynchronous operation pending at any time (handshake, read, write,
// wait for writability); every completion handler either starts the next one
// or calls Finish(), which deletes the connection. Sweep/BeginStop/ForceClose
// never delete: they shut the socket down (keeping its descriptor, so that a
// pending operation fails rather than touching a reused descriptor) and the
// pending operation's handler finishes.
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <cerrno>
#include <charconv>
#include <memory>
#include <optional>
#include <type_traits>

#include "server/http/internal.h"
#include "server/http/request_parser.h"

namespace edgefleet::server::http::internal {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using TlsStream = asio::ssl::stream<tcp::socket>;

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kKeepCapacity = 64 * 1024;  // larger per-connection buffers are released
constexpr std::size_t kFileChunk = 64 * 1024;     // per step of a file response
constexpr std::chrono::milliseconds kLinger{1000};

std::size_t LimitFor(const void* shared, std::string_view target) {
  return static_cast<const Shared*>(shared)->BodyLimitFor(target);
}

void AppendUint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Headers the transport writes itself; a handler's copy is dropped.
bool TransportOwned(std::string_view name) {
  return EqualsIgnoreCase(name, "content-length") || EqualsIgnoreCase(name, "connection") ||
         EqualsIgnoreCase(name, "transfer-encoding") || EqualsIgnoreCase(name, "date") ||
         EqualsIgnoreCase(name, "server") || EqualsIgnoreCase(name, "content-type");
}

bool HasLineBreak(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

template <class Stream>
class Connection final : public ConnectionBase {
 public:
  Connection(Worker& worker, tcp::socket socket)
      : worker_(worker), shared_(worker.shared), stream_(MakeStream(std::move(socket), worker.shared)) {
    error_code ec;
    const tcp::endpoint peer = Socket().remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string() + ":" + std::to_string(peer.port());
    head_.reserve(512);
    store_.target.reserve(256);
    store_.fields.reserve(1024);
    store_.spans.reserve(16);
    request_.headers.reserve(16);
  }

  ~Connection() override {
    if (file_fd_ >= 0) ::close(file_fd_);
  }

  void Start() override {
    deadline_ = worker_.Now() + shared_.options.header_timeout;
    if constexpr (kTls) {
      state_ = State::kHandshake;
      stream_.async_handshake(asio::ssl::stream_base::server, [this](error_code ec) {
        if (ec || killed_) return Finish();
        NextRequest(false);
      });
    } else {
      NextRequest(false);
    }
  }

  void Sweep(Clock::time_point now) override {
    if (killed_ || now < deadline_) return;
    if (state_ == State::kReading && !timed_out_) {
      // Answer 408: cancel the read; its handler writes the error.
      timed_out_ = true;
      deadline_ = now + shared_.options.write_timeout;
      error_code ec;
      Socket().cancel(ec);
      return;
    }
    Kill();
  }

  void BeginStop() override {
    stopping_ = true;
    if (state_ == State::kIdle || state_ == State::kHandshake || state_ == State::kDraining) Kill();
  }

  void ForceClose() override { Kill(); }

 private:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;
  enum class State { kHandshake, kIdle, kReading, kWriting, kDraining };

  static Stream MakeStream(tcp::socket socket, Shared& shared) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *shared.ssl);
    } else {
      (void)shared;
      return socket;
    }
  }

  tcp::socket& Socket() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  // Shuts the socket down so that the pending operation fails; its handler
  // then finishes the connection.
  void Kill() {
    if (killed_) return;
    killed_ = true;
    error_code ec;
    Socket().shutdown(tcp::socket::shutdown_both, ec);
    Socket().cancel(ec);
  }

  void Finish() {
    worker_.Remove(this);
    delete this;
  }

  // Ready for the next request on this connection.
  void NextRequest(bool after_response) {
    store_.Clear();
    if (store_.body.capacity() > kKeepCapacity) std::string().swap(store_.body);
    if (buffer_.capacity() > kKeepCapacity && buffer_.size() < kKeepCapacity) buffer_.shrink_to_fit();
    parser_.emplace(store_, &LimitFor, &shared_);
    parser_->header_limit(static_cast<std::uint32_t>(shared_.options.header_limit));
    parser_->eager(true);
    continue_sent_ = false;
    if (after_response) deadline_ = worker_.Now() + shared_.options.idle_timeout;
    if (buffer_.size() > 0) {
      // Pipelined bytes already here: the header clock starts now.
      state_ = State::kReading;
      deadline_ = worker_.Now() + shared_.options.header_timeout;
      Parse();
    } else {
      state_ = State::kIdle;
      if (stopping_) return Kill(), Read();
      Read();
    }
  }

  void Read() {
    // Asio's reactor skips the speculative read when the last one drained
    // the socket, so a keep-alive wait costs no failed recv.
    stream_.async_read_some(buffer_.prepare(kReadChunk), [this](error_code ec, std::size_t n) { OnRead(ec, n); });
  }

  void OnRead(error_code ec, std::size_t n) {
    if (timed_out_ && !killed_) {
      return SendError(408, "request_timeout", "The request was not received in time.");
    }
    if (ec || killed_) return Finish();
    buffer_.commit(n);
    shared_.bytes_in->Inc(n);
    if (state_ == State::kDraining) {
      buffer_.consume(buffer_.size());
      return Read();
    }
    if (state_ == State::kIdle) {
      state_ = State::kReading;
      deadline_ = worker_.Now() + shared_.options.header_timeout;
    }
    Parse();
  }

  void Parse() {
    error_code ec;
    const bool header_was_done = parser_->is_header_done();
    while (buffer_.size() > 0 && !parser_->is_done()) {
      const std::size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == beast::http::error::need_more) {
        ec = {};
        break;
      }
      if (ec || used == 0) break;
    }
    if (ec) return ParseError(ec);
    if (parser_->is_done()) return Handle();
    if (parser_->is_header_done() && !header_was_done) {
      deadline_ = worker_.Now() + shared_.options.body_timeout;
      if (store_.expect_continue && !continue_sent_) {
        continue_sent_ = true;
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                          [this](error_code wec, std::size_t) {
                            if (wec || killed_) return Finish();
                            Read();
                          });
        return;
      }
    }
    Read();
  }

  void ParseError(error_code ec) {
    if (ec == beast::http::error::header_limit) {
      return SendError(431, "request_header_fields_too_large",
                       "The request line and headers exceed " + std::to_string(shared_.options.header_limit) +
                           " bytes.");
    }
    if (ec == beast::http::error::body_limit) {
      return SendError(413, "payload_too_large",
                       "The request body exceeds " + std::to_string(shared_.BodyLimitFor(store_.target)) +
                           " bytes.");
    }
    SendError(400, "bad_request", "Malformed HTTP request: " + ec.message() + ".");
  }

  // A transport error: answered, then the connection closes.
  void SendError(unsigned status, std::string_view code, const std::string& message) {
    close_after_ = true;
    request_.method = store_.method;
    request_.path = std::string_view(store_.target).substr(0, store_.target.find('?'));
    route_ = 0;
    if (!store_.target.empty()) {
      const Routes::Match m = shared_.routes.Find(store_.method, request_.path);
      if (m.route >= 0) route_ = static_cast<std::size_t>(m.route) + 1;
    }
    started_ = worker_.Tick();
    is_head_ = false;
    response_ = Response::Error(status, code, message);
    WriteResponse();
  }

  void Handle() {
    started_ = worker_.Tick();
    state_ = State::kWriting;
    deadline_ = started_ + shared_.options.write_timeout;
    ++requests_;
    Request& r = request_;
    r.method = store_.method;
    r.target = store_.target;
    const std::size_t q = r.target.find('?');
    r.path = r.target.substr(0, q);
    r.query = q == std::string_view::npos ? std::string_view() : r.target.substr(q + 1);
    r.body = store_.Body();  // may point into buffer_, untouched until the next Read
    r.remote = remote_;
    r.headers.clear();
    const std::string_view fields = store_.fields;
    for (const auto& s : store_.spans) {
      r.headers.push_back(Header{fields.substr(s.name_at, s.name_len), fields.substr(s.value_at, s.value_len)});
    }
    is_head_ = r.method == Method::kHead;
    close_after_ = !parser_->keep_alive() || stopping_ ||
                   (shared_.options.max_requests_per_connection != 0 &&
                    requests_ >= shared_.options.max_requests_per_connection);
    const Routes::Match m = shared_.routes.Find(r.method, r.path);
    route_ = m.route >= 0 ? static_cast<std::size_t>(m.route) + 1 : 0;
    if (m.handler == nullptr) {
      response_ = shared_.routes.NotRouted(r, m);
    } else {
      try {
        response_ = (*m.handler)(r);
      } catch (const std::exception&) {
        response_ = Response::Error(500, "internal", "The handler failed.");
      }
    }
    WriteResponse();
  }

  void WriteHead(std::uint64_t content_length) {
    const unsigned status = response_.status;
    head_.clear();
    head_ += version_10() ? "HTTP/1.0 " : "HTTP/1.1 ";
    AppendUint(head_, status);
    head_ += ' ';
    const auto reason = beast::http::obsolete_reason(static_cast<beast::http::status>(status));
    head_.append(reason.data(), reason.size());
    head_ += "\r\nServer: edgefleet\r\nDate: ";
    head_ += worker_.Date();
    head_ += "\r\n";
    if (status != 204 && status != 304 && status >= 200) {
      head_ += "Content-Type: ";
      head_ += HasLineBreak(response_.content_type) ? std::string_view("application/octet-stream")
                                                    : std::string_view(response_.content_type);
      head_ += "\r\nContent-Length: ";
      AppendUint(head_, content_length);
      head_ += "\r\n";
    }
    if (close_after_) {
      head_ += "Connection: close\r\n";
    } else if (version_10()) {
      head_ += "Connection: keep-alive\r\n";
    }
    for (const auto& [name, value] : response_.headers) {
      if (TransportOwned(name) || HasLineBreak(name) || HasLineBreak(value) || name.empty()) continue;
      head_ += name;
      head_ += ": ";
      head_ += value;
      head_ += "\r\n";
    }
    head_ += "\r\n";
  }

  bool version_10() const { return store_.version == 10; }

  void WriteResponse() {
    state_ = State::kWriting;
    deadline_ = worker_.Now() + shared_.options.write_timeout;
    const bool no_body = is_head_ || response_.status == 204 || response_.status == 304;
    if (response_.file) {
      if (!OpenFile()) {
        response_ = Response::Error(500, "internal", "The file to send cannot be read.");
        return WriteResponse();
      }
      WriteHead(response_.file->length);
      if (no_body) {
        ::close(file_fd_);
        file_fd_ = -1;
      }
      std::size_t sent = 0;
      if constexpr (!kTls) {
        // The head goes out corked (MSG_MORE) when file bytes follow, so
        // that it shares segments with them rather than waking the client
        // for ~200 bytes on their own.
        if (file_fd_ >= 0 && file_remaining_ > 0) {
          SetNativeNonBlocking();
          const ssize_t n = ::send(Socket().native_handle(), head_.data(), head_.size(), MSG_MORE | MSG_NOSIGNAL);
          if (n < 0 && errno != EAGAIN && errno != EINTR) return CloseFile(), Finish();
          if (n > 0) {
            sent = static_cast<std::size_t>(n);
            shared_.bytes_out->Inc(sent);
          }
          if (sent == head_.size()) return SendFile();
        }
      }
      return asio::async_write(stream_, asio::buffer(head_.data() + sent, head_.size() - sent),
                               [this](error_code ec, std::size_t n) {
                                 if (ec || killed_) return CloseFile(), Finish();
                                 shared_.bytes_out->Inc(n);
                                 if (file_fd_ < 0) return ResponseDone();
                                 SendFile();
                               });
    }
    WriteHead(response_.body.size());
    const std::array<asio::const_buffer, 2> buffers{
        asio::buffer(head_), no_body ? asio::const_buffer() : asio::buffer(response_.body)};
    asio::async_write(stream_, buffers, [this](error_code ec, std::size_t n) {
      if (ec || killed_) return Finish();
      shared_.bytes_out->Inc(n);
      ResponseDone();
    });
  }

  bool OpenFile() {
    const FileRange& f = *response_.file;
    file_fd_ = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (file_fd_ < 0) return false;
    struct stat st {};
    if (::fstat(file_fd_, &st) != 0 || f.offset > static_cast<std::uint64_t>(st.st_size) ||
        f.length > static_cast<std::uint64_t>(st.st_size) - f.offset) {
      ::close(file_fd_);
      file_fd_ = -1;
      return false;
    }
    file_offset_ = f.offset;
    file_remaining_ = f.length;
    return true;
  }

  // sendfile(2) and send(2) on the descriptor itself must not block.
  void SetNativeNonBlocking() {
    if (native_non_blocking_) return;
    error_code ec;
    Socket().native_non_blocking(true, ec);
    native_non_blocking_ = !ec;
  }

  void CloseFile() {
    if (file_fd_ >= 0) ::close(file_fd_);
    file_fd_ = -1;
  }

  // One step of the file's bytes; comes back through the event loop between
  // steps, so a large download does not starve other connections.
  void SendFile() {
    if (killed_) return CloseFile(), Finish();
    if (file_remaining_ == 0) {
      CloseFile();
      return ResponseDone();
    }
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(file_remaining_, kFileChunk * 4));
    if constexpr (!kTls) {
      tcp::socket& s = Socket();
      SetNativeNonBlocking();
      off_t off = static_cast<off_t>(file_offset_);
      const ssize_t n = ::sendfile(s.native_handle(), file_fd_, &off, want);
      if (n > 0) {
        file_offset_ += static_cast<std::uint64_t>(n);
        file_remaining_ -= static_cast<std::uint64_t>(n);
        shared_.bytes_out->Inc(static_cast<std::uint64_t>(n));
        deadline_ = worker_.Now() + shared_.options.write_timeout;
        if (file_remaining_ == 0) return SendFile();
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        CloseFile();
        return Finish();  // the file shrank, or the peer is gone
      }
      s.async_wait(tcp::socket::wait_write, [this](error_code wec) {
        if (wec || killed_) return CloseFile(), Finish();
        SendFile();
      });
    } else {
      if (!chunk_) chunk_ = std::make_unique<char[]>(kFileChunk);
      const std::size_t len = std::min(want, kFileChunk);
      const ssize_t n = ::pread(file_fd_, chunk_.get(), len, static_cast<off_t>(file_offset_));
      if (n <= 0) return CloseFile(), Finish();
      asio::async_write(stream_, asio::buffer(chunk_.get(), static_cast<std::size_t>(n)),
                        [this](error_code ec, std::size_t written) {
                          if (ec || killed_) return CloseFile(), Finish();
                          file_offset_ += written;
                          file_remaining_ -= written;
                          shared_.bytes_out->Inc(written);
                          deadline_ = worker_.Now() + shared_.options.write_timeout;
                          SendFile();
                        });
    }
  }

  void ResponseDone() {
    const double seconds = std::chrono::duration<double>(worker_.Tick() - started_).count();
    shared_.duration[route_]->Observe(seconds);
    worker_.RequestCounter(route_, request_.method, response_.status).Inc();
    response_.body.clear();
    response_.headers.clear();
    response_.file.reset();
    if (close_after_) return Linger();
    NextRequest(true);
  }

  // Closing after a response: stop sending, then read (and drop) what the
  // client still sends until it closes, so that our response is not lost
  // to a reset; bounded by kLinger.
  void Linger() {
    state_ = State::kDraining;
    deadline_ = worker_.Now() + std::min<Clock::duration>(kLinger, shared_.options.header_timeout);
    error_code ec;
    Socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec || killed_) return Finish();
    buffer_.consume(buffer_.size());
    Socket().async_read_some(buffer_.prepare(kReadChunk), [this](error_code rec, std::size_t n) {
      if (rec || killed_) return Finish();
      buffer_.commit(n);
      Linger();
    });
  }

  Worker& worker_;
  Shared& shared_;
  Stream stream_;
  std::string remote_;
  beast::flat_buffer buffer_;
  RequestStorage store_;
  std::optional<RequestParser> parser_;
  Request request_;
  Response response_;
  std::string head_;
  std::unique_ptr<char[]> chunk_;
  int file_fd_ = -1;
  std::uint64_t file_offset_ = 0;
  std::uint64_t file_remaining_ = 0;
  State state_ = State::kIdle;
  Clock::time_point deadline_{};
  Clock::time_point started_{};
  std::uint64_t requests_ = 0;
  std::size_t route_ = 0;
  bool is_head_ = false;
  bool close_after_ = false;
  bool continue_sent_ = false;
  bool stopping_ = false;
  bool timed_out_ = false;
  bool killed_ = false;
  bool native_non_blocking_ = false;
};

}  // namespace

ConnectionBase* NewConnection(Worker& worker, tcp::socket socket) {
  if (worker.shared.ssl) return new Connection<TlsStream>(worker, std::move(socket));
  return new Connection<tcp::socket>(worker, std::move(socket));
}

}  // namespace edgefleet::server::http::internal
