// `edgefleet demo --quick` as `make test` runs it: the whole hybrid loop with
// 2 real agents, a real Mosquitto and the real server over loopback. Checks
// the exit status, the summary's equalities (rows synced equal rows
// produced, every agent on model v2), and that no process the demo started
// is left afterwards, also when it is interrupted with SIGINT midway.
// The demo trains its two models in DIR/models as on a fresh clone.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const fs::path kBinary = fs::path(EDGEFLEET_BINARY_DIR) / "bin" / "edgefleet";

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts `edgefleet args...` with stdout and stderr to `out`.
pid_t Spawn(const std::vector<std::string>& args, const fs::path& out) {
  std::vector<std::string> argv{kBinary.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::FILE* f = std::freopen(out.c_str(), "w", stdout);
    if (f == nullptr) ::_exit(127);
    ::dup2(::fileno(stdout), 2);
    std::vector<char*> a;
    for (auto& s : argv) a.push_back(s.data());
    a.push_back(nullptr);
    ::execv(a[0], a.data());
    ::_exit(127);
  }
  return pid;
}

// Exit status, or -1 after `limit` (the child is then killed).
int WaitFor(pid_t pid, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  int raw = 0;
  while (Clock::now() < end) {
    const pid_t r = ::waitpid(pid, &raw, WNOHANG);
    if (r == pid) return WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &raw, 0);
  return -1;
}

// Every "started NAME (pid N" the demo printed.
std::vector<pid_t> StartedPids(const std::string& out) {
  std::vector<pid_t> pids;
  const std::regex re(R"(started \S+ \(pid (\d+))");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), re); it != std::sregex_iterator(); ++it) {
    pids.push_back(static_cast<pid_t>(std::stol((*it)[1].str())));
  }
  return pids;
}

// Running (not gone, not a zombie waiting for init).
bool Alive(pid_t pid) {
  const std::string stat = ReadText("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return false;
  const auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

void ExpectAllGone(const std::vector<pid_t>& pids, const std::string& out) {
  // Give init a moment to reap what the demo's exit orphaned (it orphans nothing).
  const auto end = Clock::now() + std::chrono::seconds(5);
  for (pid_t pid : pids) {
    while (Alive(pid) && Clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_FALSE(Alive(pid)) << "pid " << pid << " is still running\n" << out;
  }
}

class DemoCli : public ::testing::Test {
 protected:
  // The demo trains both models itself (a few seconds each).
  fs::path DemoDir() { return tmp_.path() / "demo"; }
  edgefleet::TempDir tmp_;
};

TEST_F(DemoCli, QuickDemoPassesAndLeavesNoProcess) {
  const fs::path dir = DemoDir();
  const fs::path out_file = tmp_.path() / "out.txt";
  const pid_t pid = Spawn({"demo", "--devices", "2", "--quick", "--port", "0", "--dir", dir.string()}, out_file);
  const int status = WaitFor(pid, std::chrono::seconds(240));
  const std::string out = ReadText(out_file);
  EXPECT_EQ(status, 0) << out;
  EXPECT_NE(out.find("== summary"), std::string::npos) << out;
  EXPECT_NE(out.find("(equal, each exactly once)"), std::string::npos) << out;
  EXPECT_NE(out.find("OTA:                 every device on model v2"), std::string::npos) << out;
  EXPECT_NE(out.find("demo: every step passed"), std::string::npos) << out;
  // The summary's own numbers: synced == produced.
  const std::regex re(R"(rows synced \((\d+)\) equal rows produced \((\d+)\))");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, re)) << out;
  EXPECT_EQ(m[1].str(), m[2].str());
  EXPECT_GT(std::stol(m[2].str()), 0);
  const auto pids = StartedPids(out);
  EXPECT_GE(pids.size(), 5u) << out;  // broker, server twice, 2 agents (and the CLI steps)
  ExpectAllGone(pids, out);
}

TEST_F(DemoCli, SigintMidwayStopsEverything) {
  const fs::path dir = DemoDir();
  const fs::path out_file = tmp_.path() / "out.txt";
  const pid_t pid = Spawn({"demo", "--devices", "2", "--quick", "--port", "0", "--dir", dir.string()}, out_file);
  // Interrupt once the agents run (the fleet phase has begun).
  const auto end = Clock::now() + std::chrono::seconds(120);
  while (ReadText(out_file).find("== 5.") == std::string::npos && Clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_NE(ReadText(out_file).find("== 5."), std::string::npos) << ReadText(out_file);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  ::kill(pid, SIGINT);
  const int status = WaitFor(pid, std::chrono::seconds(60));
  const std::string out = ReadText(out_file);
  EXPECT_EQ(status, 130) << out;
  EXPECT_NE(out.find("demo: interrupted"), std::string::npos) << out;
  const auto pids = StartedPids(out);
  EXPECT_GE(pids.size(), 4u) << out;  // broker, server, 2 agents
  ExpectAllGone(pids, out);
}

}  // namespace
