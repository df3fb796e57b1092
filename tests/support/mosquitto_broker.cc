#include "tests/support/mosquitto_broker.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <thread>

#include "common/file.h"

namespace edgefleet::testsupport {
namespace {

namespace fs = std::filesystem;
using common::Error;
using common::ErrorCode;
using common::Expected;

bool Exited(pid_t pid) {
  int status = 0;
  const pid_t r = ::waitpid(pid, &status, WNOHANG);
  return r == pid || (r < 0 && errno == ECHILD);
}

bool WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Exited(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return Exited(pid);
}

bool Accepts(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Expected<int> FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    Error e(ErrorCode::kIo, std::string("bind: ") + std::strerror(errno));
    ::close(fd);
    return e;
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

Expected<std::unique_ptr<MosquittoBroker>> MosquittoBroker::Start(const fs::path& data_dir, int port) {
  std::unique_ptr<MosquittoBroker> b(new MosquittoBroker());
  const char* env = std::getenv("EDGEFLEET_MOSQUITTO");
  b->binary_ = (env != nullptr && *env != '\0') ? fs::path(env) : fs::path("/usr/sbin/mosquitto");
  std::error_code ec;
  if (!fs::exists(b->binary_, ec)) {
    return Error(ErrorCode::kNotFound, b->binary_.string() + " is missing (Debian: apt-get install mosquitto)");
  }
  b->data_dir_ = data_dir;
  // A port free a moment ago may be taken by the time mosquitto binds it:
  // try a few.
  std::optional<Error> last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (port != 0) {
      b->port_ = port;
    } else {
      EDGEFLEET_ASSIGN_OR_RETURN(b->port_, FreeLoopbackPort());
    }
    broker::BrokerConfigOptions options;
    options.port = b->port_;
    if (::geteuid() == 0) options.run_as_user = "root";
    EDGEFLEET_ASSIGN_OR_RETURN(b->files_, broker::WriteBrokerConfig(data_dir, options));
    EDGEFLEET_ASSIGN_OR_RETURN(b->bridge_, broker::ReadBridgeCredential(data_dir));
    auto launched = b->Launch();
    if (launched.ok()) return b;
    last = std::move(launched).error();
    if (port != 0) break;
  }
  return *last;
}

Expected<void> MosquittoBroker::Launch() {
  const fs::path log_path = files_.dir / "broker.log";
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Error(ErrorCode::kIo, std::string("opening broker log: ") + std::strerror(errno));
  const std::string bin = binary_.string();
  const std::string config = files_.config.string();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return Error(ErrorCode::kIo, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::close_range(3, ~0U, 0);
    const char* argv[] = {bin.c_str(), "-c", config.c_str(), nullptr};
    ::execv(bin.c_str(), const_cast<char* const*>(argv));
    ::_exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Exited(pid_)) {
      pid_ = -1;
      return Error(ErrorCode::kUnavailable, "mosquitto exited at start: " + log());
    }
    if (Accepts(port_)) return common::Ok();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  (void)Stop();
  return Error(ErrorCode::kDeadlineExceeded, "mosquitto did not accept connections: " + log());
}

MosquittoBroker::~MosquittoBroker() { (void)Stop(); }

Expected<void> MosquittoBroker::Stop() {
  if (pid_ <= 0) return common::Ok();
  const pid_t pid = pid_;
  pid_ = -1;
  ::kill(pid, SIGTERM);
  if (WaitExit(pid, std::chrono::seconds(5))) return common::Ok();
  ::kill(pid, SIGKILL);
  if (WaitExit(pid, std::chrono::seconds(5))) return common::Ok();
  return Error(ErrorCode::kInternal, "mosquitto " + std::to_string(pid) + " did not exit");
}

Expected<void> MosquittoBroker::Restart() {
  EDGEFLEET_RETURN_IF_ERROR(Stop());
  // The old listening socket may linger briefly; mosquitto sets SO_REUSEADDR.
  std::optional<Error> last;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto r = Launch();
    if (r.ok()) return r;
    last = std::move(r).error();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return *last;
}

Expected<void> MosquittoBroker::Reload() {
  if (pid_ <= 0) return Error(ErrorCode::kFailedPrecondition, "the broker is not running");
  if (::kill(pid_, SIGHUP) != 0) return Error(ErrorCode::kIo, std::string("kill: ") + std::strerror(errno));
  return common::Ok();
}

Expected<void> MosquittoBroker::AddDevice(std::string_view id, std::string_view token) {
  EDGEFLEET_RETURN_IF_ERROR(broker::AddDeviceCredential(data_dir_, id, token));
  if (pid_ > 0) return Reload();
  return common::Ok();
}

std::string MosquittoBroker::log() const {
  auto text = common::ReadFile(files_.dir / "broker.log", 1 << 20);
  return text.ok() ? *text : std::string("(no broker log)");
}

}  // namespace edgefleet::testsupport
