// The real `edgefleet server` for end-to-end tests: a temporary data dir
// prepared with the real CLI (keys generate, device add, admin token, model
// publish), the trained cloud model copied in, the server started on
// 127.0.0.1 port 0 and stopped by its process id (SIGTERM, then SIGKILL if it
// does not exit within 10 s).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/server/api_fixture.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace edgefleet::server::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;
};

// Runs argv[0] with the arguments, stdout captured, stderr to `err_file`.
inline RunResult RunProcess(const std::vector<std::string>& argv, const std::string& err_file = "/dev/null") {
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  RunResult result;
  if (rc != 0) {
    ::close(pipe_fds[0]);
    return result;
  }
  char buf[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) result.out.append(buf, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

inline std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

class ServerProcess {
 public:
  // Prepares the data dir; `config_toml` is written as DIR/server.toml. With
  // `db` (a `postgresql://` URL, say), the CLI and the server use that
  // database instead of DIR/data/edgefleet.db.
  explicit ServerProcess(const std::string& config_toml = "", std::string db = "") : db_(std::move(db)) {
    const auto& models = api::testing::TrainedModels();
    data_ = dir_.path() / "data";
    std::filesystem::create_directories(data_);
    std::filesystem::copy_file(models.dir / "cloud.efcm", data_ / "cloud.efcm");
    golden_ = dir_.path() / "edge-v1.efm";
    std::ofstream(golden_, std::ios::binary) << models.golden_v1;
    config_ = dir_.path() / "server.toml";
    std::ofstream(config_) << config_toml;
    err_ = (dir_.path() / "cli.err").string();
    EXPECT_EQ(Cli({"keys", "generate"}).exit_code, 0);
    device_token_ = Trimmed(Cli({"device", "add", "fan-0001"}).out);
    other_token_ = Trimmed(Cli({"device", "add", "fan-0002"}).out);
    admin_token_ = Trimmed(Cli({"admin", "token"}).out);
    EXPECT_EQ(device_token_.size(), 68u);
    EXPECT_EQ(admin_token_.size(), 68u);
    EXPECT_EQ(Cli({"model", "publish", golden_.string()}).exit_code, 0);
  }
  ~ServerProcess() { Stop(); }

  RunResult Cli(std::vector<std::string> args) {
    args.insert(args.begin(), EDGEFLEET_BIN);
    args.push_back("--data-dir");
    args.push_back(data_.string());
    if (!db_.empty()) args.insert(args.end(), {"--db", db_});
    return RunProcess(args, err_);
  }

  // Starts the server and waits until it listens.
  void Start() {
    const std::string port_file = (dir_.path() / "port").string();
    std::filesystem::remove(port_file);
    const std::string out = (dir_.path() / "server.out").string();
    const std::string err = (dir_.path() / "server.err").string();
    std::vector<std::string> argv = {EDGEFLEET_BIN, "server",      "--data-dir", data_.string(), "--port", "0",
                                     "--bind",      "127.0.0.1",   "--config",   config_.string(),
                                     "--port-file", port_file,     "--threads",  "2"};
    if (!db_.empty()) argv.insert(argv.end(), {"--db", db_});
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ASSERT_EQ(posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    for (int i = 0; i < 1000 && port_ == 0; ++i) {
      std::ifstream in(port_file);
      int p = 0;
      if (in >> p) port_ = static_cast<std::uint16_t>(p);
      if (port_ == 0) {
        int status = 0;
        ASSERT_EQ(::waitpid(pid_, &status, WNOHANG), 0) << "the server exited: " << Log();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    }
    ASSERT_NE(port_, 0) << "the server did not start: " << Log();
  }

  // SIGTERM and wait; the exit status (or -1 if it had to be killed).
  int Stop() {
    if (pid_ <= 0) return exit_code_;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 1000; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        pid_ = 0;
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = 0;
    exit_code_ = -1;
    return exit_code_;
  }

  bool Alive() const { return pid_ > 0 && ::kill(pid_, 0) == 0; }

  std::string Log() const {
    std::ifstream in(dir_.path() / "server.err");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::filesystem::path& data() const { return data_; }
  const std::filesystem::path& golden() const { return golden_; }
  const std::string& device_token() const { return device_token_; }
  const std::string& other_token() const { return other_token_; }
  const std::string& admin_token() const { return admin_token_; }

 private:
  TempDir dir_;
  std::filesystem::path data_, golden_, config_;
  std::string err_;
  std::string db_;
  std::string device_token_, other_token_, admin_token_;
  pid_t pid_ = 0;
  std::uint16_t port_ = 0;
  int exit_code_ = -1;
};

}  // namespace edgefleet::server::testing
