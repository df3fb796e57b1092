#include "tests/support/postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>
#include <vector>

namespace edgefleet::testsupport {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;
namespace fs = std::filesystem;

std::string Tail(const fs::path& log, std::size_t bytes = 2000) {
  std::ifstream in(log, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() > bytes) text = "..." + text.substr(text.size() - bytes);
  return text;
}

// Runs argv (as the postgres user when `as_postgres`), in `cwd`, with stdout
// and stderr appended to `log`; ok if it exits 0.
Expected<void> Run(std::vector<std::string> argv, bool as_postgres, const fs::path& cwd,
                   const fs::path& log) {
  if (as_postgres) {
    argv.insert(argv.begin(), {"runuser", "-u", "postgres", "--"});
  }
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return Error(ErrorCode::kIo, "cannot open " + log.string());
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    return Error(ErrorCode::kIo, std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    if (::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Error(ErrorCode::kIo, std::string("waitpid: ") + std::strerror(errno));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string command;
    for (const auto& a : argv) command += (command.empty() ? "" : " ") + a;
    return Error(ErrorCode::kInternal, "`" + command + "` failed (status " + std::to_string(status) +
                                           "); log:\n" + Tail(log));
  }
  return common::Ok();
}

// A TCP port that was free a moment ago. The server listens on a Unix socket
// only, whose name carries the port number, in a directory nobody else uses;
// a free number keeps the socket name unique even across directories.
Expected<int> FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error(ErrorCode::kIo, "socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Error(ErrorCode::kIo, "cannot bind a port");
  }
  ::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

bool Alive(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

bool WaitGone(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Alive(pid)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Forks the watchdog: it blocks reading a pipe whose only write end the test
// process holds (close-on-exec, so no server process inherits it). When the
// test process ends in any way, the read returns, and the watchdog stops the
// postmaster (SIGQUIT is PostgreSQL's immediate shutdown) and removes the
// directory. After a normal Stop() there is nothing left for it to do.
Expected<void> StartWatchdog(pid_t postmaster, const fs::path& dir, int* write_fd, pid_t* watchdog) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error(ErrorCode::kIo, "pipe2 failed");
  std::string rm_target = dir.string();
  char rm[] = "/bin/rm";
  char rf[] = "-rf";
  char* rm_args[] = {rm, rf, rm_target.data(), nullptr};
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return Error(ErrorCode::kIo, "fork failed");
  }
  if (pid == 0) {
    // Keep only the pipe's read end (as stdin) and stdout/stderr: the
    // watchdog must not hold the test's other files or sockets open.
    ::dup2(fds[0], STDIN_FILENO);
    ::close_range(3, ~0U, 0);
    ::setpgid(0, 0);  // a terminal's Ctrl-C to the test does not reach it
    char byte;
    while (::read(STDIN_FILENO, &byte, 1) < 0 && errno == EINTR) {
    }
    if (::kill(postmaster, 0) == 0) {
      ::kill(postmaster, SIGQUIT);
      for (int i = 0; i < 500 && ::kill(postmaster, 0) == 0; ++i) {
        const timespec ten_ms{0, 10'000'000};
        ::nanosleep(&ten_ms, nullptr);
      }
      ::kill(postmaster, SIGKILL);
    }
    if (::access(rm_args[2], F_OK) == 0) ::execv(rm, rm_args);
    ::_exit(0);
  }
  ::close(fds[0]);
  *write_fd = fds[1];
  *watchdog = pid;
  return common::Ok();
}

}  // namespace

Expected<fs::path> FindPostgresBinDir() {
  auto has_tools = [](const fs::path& dir) {
    std::error_code ec;
    return fs::exists(dir / "initdb", ec) && fs::exists(dir / "pg_ctl", ec);
  };
  if (const char* env = std::getenv("EDGEFLEET_PG_BINDIR"); env != nullptr && *env != '\0') {
    if (has_tools(env)) return fs::path(env);
    return Error(ErrorCode::kNotFound, std::string("EDGEFLEET_PG_BINDIR=") + env +
                                           " holds no initdb and pg_ctl");
  }
  std::error_code ec;
  int best = -1;
  fs::path best_dir;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    int version = 0;
    const auto [end, err] = std::from_chars(name.data(), name.data() + name.size(), version);
    if (err != std::errc() || end != name.data() + name.size()) continue;
    if (version > best && has_tools(entry.path() / "bin")) {
      best = version;
      best_dir = entry.path() / "bin";
    }
  }
  if (best >= 0) return best_dir;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::stringstream ss(path);
    std::string dir;
    while (std::getline(ss, dir, ':')) {
      if (!dir.empty() && has_tools(dir)) return fs::path(dir);
    }
  }
  return Error(ErrorCode::kNotFound,
               "PostgreSQL is not installed (no initdb/pg_ctl in /usr/lib/postgresql/*/bin or $PATH;"
               " Debian: apt-get install postgresql)");
}

bool PostgresRequired() {
  const char* ci = std::getenv("CI");
  if (ci == nullptr) return false;
  const std::string value(ci);
  return !value.empty() && value != "0" && value != "false";
}

Expected<std::unique_ptr<PostgresServer>> PostgresServer::Start(const PostgresServerOptions& options) {
  EDGEFLEET_ASSIGN_OR_RETURN(const fs::path bin, FindPostgresBinDir());
  std::unique_ptr<PostgresServer> server(new PostgresServer());
  server->bin_ = bin;
  server->as_postgres_user_ = ::geteuid() == 0;
  server->durable_ = options.durable;

  // /tmp, not $TMPDIR: a Unix socket path must stay under 108 bytes.
  char tmpl[] = "/tmp/edgefleet-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return Error(ErrorCode::kIo, std::string("mkdtemp: ") + std::strerror(errno));
  }
  server->dir_ = tmpl;
  auto fail = [&server](Error e) {
    std::error_code ec;
    fs::remove_all(server->dir_, ec);
    return e;
  };
  if (server->as_postgres_user_) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      return fail(Error(ErrorCode::kNotFound,
                        "running as root and there is no postgres user to run PostgreSQL as"));
    }
    if (::chown(tmpl, pw->pw_uid, pw->pw_gid) != 0) {
      return fail(Error(ErrorCode::kIo, std::string("chown: ") + std::strerror(errno)));
    }
  }
  const fs::path data = server->dir_ / "data";
  const fs::path log = server->dir_ / "setup.log";
  // Run() opens the log itself and hands the descriptor to the command, so
  // the postgres user needs no write access to it.
  if (auto r = Run({(bin / "initdb").string(), "-D", data.string(), "-A", "trust", "-U", "postgres",
                    "-E", "UTF8", "--locale=C", "--no-sync"},
                   server->as_postgres_user_, server->dir_, log);
      !r.ok()) {
    return fail(std::move(r).error().WithContext("initdb"));
  }
  auto port = FreePort();
  if (!port.ok()) return fail(std::move(port).error());
  server->port_ = *port;
  const std::string durability = options.durable
                                     ? " -c fsync=on -c synchronous_commit=on -c full_page_writes=on"
                                     : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
  const std::string server_options = "-c listen_addresses='' -k " + server->dir_.string() + " -p " +
                                     std::to_string(server->port_) + durability +
                                     " -c shared_buffers=16MB -c max_connections=60";
  if (auto r = Run({(bin / "pg_ctl").string(), "-D", data.string(), "-l",
                    (server->dir_ / "server.log").string(), "-o", server_options, "-w", "-t", "60", "start"},
                   server->as_postgres_user_, server->dir_, log);
      !r.ok()) {
    return fail(std::move(r).error().WithContext("pg_ctl start"));
  }
  server->stopped_ = false;
  // The postmaster's pid is the first line of postmaster.pid.
  std::ifstream pidfile(data / "postmaster.pid");
  long pid = -1;
  pidfile >> pid;
  if (pid <= 0) {
    (void)server->Stop();
    return Error(ErrorCode::kInternal, "cannot read postmaster.pid");
  }
  server->pid_ = static_cast<pid_t>(pid);
  if (auto w = StartWatchdog(server->pid_, server->dir_, &server->watchdog_fd_, &server->watchdog_pid_);
      !w.ok()) {
    (void)server->Stop();
    return std::move(w).error();
  }
  return server;
}

PostgresServer::~PostgresServer() { (void)Stop(); }

Expected<void> PostgresServer::Stop() {
  std::optional<Error> error;
  if (!stopped_) {
    stopped_ = true;
    auto r = Run({(bin_ / "pg_ctl").string(), "-D", (dir_ / "data").string(), "-m", "immediate", "-w",
                  "stop"},
                 as_postgres_user_, dir_, dir_ / "setup.log");
    if (!r.ok()) error = std::move(r).error();
    if (pid_ > 0 && !WaitGone(pid_, std::chrono::seconds(10))) {
      ::kill(pid_, SIGKILL);
      if (!WaitGone(pid_, std::chrono::seconds(5)) && !error) {
        error = Error(ErrorCode::kInternal, "postmaster " + std::to_string(pid_) + " did not exit");
      }
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    dir_.clear();
  }
  if (watchdog_fd_ >= 0) {
    ::close(watchdog_fd_);  // the watchdog wakes, finds nothing to do, exits
    watchdog_fd_ = -1;
    int status = 0;
    while (::waitpid(watchdog_pid_, &status, 0) < 0 && errno == EINTR) {
    }
    watchdog_pid_ = -1;
  }
  if (error) return *error;
  return common::Ok();
}

std::string PostgresServer::Url(std::string_view database) const {
  return "postgresql:///" + std::string(database) + "?host=" + dir_.string() +
         "&port=" + std::to_string(port_) + "&user=postgres";
}

Expected<std::string> PostgresServer::CreateDatabase(std::string_view name) {
  const bool valid = !name.empty() && name.size() <= 63 &&
                     std::all_of(name.begin(), name.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                     });
  if (!valid) return Error(ErrorCode::kInvalidArgument, "bad database name");
  try {
    pqxx::connection conn(Url("postgres"));
    pqxx::nontransaction txn(conn);
    // An identifier cannot be a bound parameter; `name` is checked above.
    txn.exec0("CREATE DATABASE " + std::string(name) + " STRATEGY FILE_COPY");
  } catch (const std::exception& e) {
    return Error(ErrorCode::kInternal, std::string("CREATE DATABASE: ") + e.what());
  }
  return Url(name);
}

}  // namespace edgefleet::testsupport
