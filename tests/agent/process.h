// Child processes for the agent's end-to-end tests: run a binary with
// arguments (stderr to a file, stdin a pipe if asked; or stdout appended to
// a file), wait with a bound, capture a command's output, read a log.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/mosquitto_broker.h"

namespace edgefleet::agent::testing {

inline std::string Capture(const std::string& command) {
  std::string out;
  std::FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

inline std::string ReadText(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The last non-empty line of a file ("" if none).
inline std::string LastLine(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

struct Child {
  pid_t pid = -1;
  int stdin_fd = -1;
};

// Starts the binary with `args`; stderr to `log`; stdin a pipe when asked.
inline Child Spawn(const char* binary, const std::vector<std::string>& args, const std::filesystem::path& log,
                   bool pipe_stdin) {
  int fds[2] = {-1, -1};
  if (pipe_stdin && ::pipe(fds) != 0) return {};
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (pipe_stdin) {
      ::dup2(fds[0], 0);
      ::close(fds[0]);
      ::close(fds[1]);
    }
    const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 2);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(binary, argv.data());
    ::_exit(127);
  }
  Child child;
  child.pid = pid;
  if (pipe_stdin) {
    ::close(fds[0]);
    child.stdin_fd = fds[1];
  }
  return child;
}

// Starts args[0] with args (argv[0] included); its stdout appended to `out`,
// stderr the test's. The pid, or -1.
inline pid_t SpawnWithStdoutTo(const std::vector<std::string>& args, const std::filesystem::path& out) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// The exit status, or -1 if it had to be killed after `timeout`.
inline int Wait(pid_t pid, std::chrono::seconds timeout) {
  int status = 0;
  const bool exited = testsupport::WaitUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; },
                                             std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace edgefleet::agent::testing
