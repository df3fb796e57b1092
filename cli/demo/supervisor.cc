#include "cli/demo/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

namespace edgefleet::cli::demo {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;

extern "C" void OnSignal(int) { g_interrupted = 1; }

int StatusOf(int raw) {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return -1;
}

}  // namespace

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
}

bool Interrupted() { return g_interrupted != 0; }

Supervisor::~Supervisor() { StopAll(); }

ChildInfo* Supervisor::Find(pid_t pid) {
  for (auto& c : children_) {
    if (c.pid == pid) return &c;
  }
  return nullptr;
}

pid_t Supervisor::Start(const std::string& name, const std::vector<std::string>& argv,
                        const std::filesystem::path& log, bool die_with_parent) {
  if (argv.empty()) return -1;
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::setpgid(0, 0);
    if (die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
    }
    // The child must not inherit the demo's handlers' effect: default signals.
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (null_in >= 0) ::dup2(null_in, 0);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also from the parent: no race with an early Stop
  children_.push_back({name, pid, log, std::nullopt});
  return pid;
}

bool Supervisor::Running(pid_t pid) {
  ChildInfo* c = Find(pid);
  if (c == nullptr || c->exit_status) return false;
  int raw = 0;
  const pid_t r = ::waitpid(pid, &raw, WNOHANG);
  if (r == pid) {
    c->exit_status = StatusOf(raw);
    return false;
  }
  if (r < 0) {
    c->exit_status = -1;
    return false;
  }
  return true;
}

std::optional<int> Supervisor::Wait(pid_t pid, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (Running(pid)) {
    if (std::chrono::steady_clock::now() >= end || Interrupted()) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ChildInfo* c = Find(pid);
  return c != nullptr ? c->exit_status : std::nullopt;
}

void Supervisor::Signal(pid_t pid, int sig) {
  if (Running(pid)) ::kill(-pid, sig);
}

int Supervisor::Stop(pid_t pid, std::chrono::milliseconds grace) {
  ChildInfo* c = Find(pid);
  if (c == nullptr) return -1;
  if (Running(pid)) {
    ::kill(-pid, SIGTERM);
    const auto end = std::chrono::steady_clock::now() + grace;
    while (Running(pid) && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (Running(pid)) {
      ::kill(-pid, SIGKILL);
      int raw = 0;
      if (::waitpid(pid, &raw, 0) == pid) c->exit_status = StatusOf(raw);
    }
  }
  // Anything left in its group (it made none, but be sure).
  ::kill(-pid, SIGKILL);
  c = Find(pid);
  return c->exit_status.value_or(-1);
}

void Supervisor::StopAll() {
  // Newest first: agents, then the server, then the broker.
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
    if (Running(it->pid)) {
      ::kill(-it->pid, SIGTERM);
    }
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
    while (Running(it->pid) && std::chrono::steady_clock::now() < end) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Stop(it->pid, std::chrono::milliseconds(0));
  }
}

int Supervisor::Run(const std::string& name, const std::vector<std::string>& argv, const std::filesystem::path& log,
                    std::chrono::milliseconds timeout, std::string* out) {
  // stdout to its own file so it can be returned; stderr to the log.
  const std::filesystem::path out_path = log.string() + ".out";
  std::vector<std::string> wrapped = argv;
  pid_t pid = -1;
  {
    std::vector<char*> args;
    for (const auto& a : wrapped) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid = ::fork();
    if (pid < 0) return -1;
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      ::signal(SIGPIPE, SIG_DFL);
      const int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      const int e = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      const int null_in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (o >= 0) ::dup2(o, 1);
      if (e >= 0) ::dup2(e, 2);
      if (null_in >= 0) ::dup2(null_in, 0);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::setpgid(pid, pid);
    children_.push_back({name, pid, log, std::nullopt});
  }
  const auto status = Wait(pid, timeout);
  if (!status) {
    Stop(pid, std::chrono::seconds(2));
    std::filesystem::remove(out_path);
    return -1;
  }
  if (out != nullptr) {
    std::ifstream in(out_path);
    std::stringstream ss;
    ss << in.rdbuf();
    *out = ss.str();
  }
  std::error_code ec;
  std::filesystem::remove(out_path, ec);
  return *status;
}

void Supervisor::Release(pid_t pid) {
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->pid == pid) {
      children_.erase(it);
      return;
    }
  }
}

std::vector<pid_t> Supervisor::AllPids() const {
  std::vector<pid_t> pids;
  for (const auto& c : children_) pids.push_back(c.pid);
  return pids;
}

}  // namespace edgefleet::cli::demo
