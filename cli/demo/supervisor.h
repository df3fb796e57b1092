// Child processes of `edgefleet demo`: start, watch and always stop them.
//
// What it is for: the demo starts Mosquitto, the server, one-shot CLI steps
// (train, device add, ...) and N agents. Every child is started in its own
// process group (setpgid) with PR_SET_PDEATHSIG = SIGKILL, its stdout and
// stderr appended to a log file, and is recorded by pid here. Stop() sends
// SIGTERM to the child's group, waits up to a bound, then SIGKILL; StopAll()
// (and the destructor) does that for every child still running, newest
// first, so no process the demo started outlives it on any exit path: normal
// end, failure, or SIGINT/SIGTERM (InstallSignalHandlers turns them into
// Interrupted(), which every wait in the demo checks).
//
// Ownership: the Supervisor owns its children. Threads: use from the main
// thread only (the death signal follows the thread that forked).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace edgefleet::cli::demo {

// SIGINT and SIGTERM set a flag instead of killing the demo.
void InstallSignalHandlers();
bool Interrupted();

struct ChildInfo {
  std::string name;
  pid_t pid = -1;
  std::filesystem::path log;
  std::optional<int> exit_status;  // set once reaped: exit code, or 128 + signal
};

class Supervisor {
 public:
  Supervisor() = default;
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  ~Supervisor();

  // Starts argv[0] (a path) with the arguments; -1 if fork or exec failed
  // (exec failure shows as exit status 127).
  // `die_with_parent` false (--keep's server and broker): no death signal.
  pid_t Start(const std::string& name, const std::vector<std::string>& argv, const std::filesystem::path& log,
              bool die_with_parent = true);
  // Stops supervising the child (it is left running; --keep).
  void Release(pid_t pid);
  // Whether the child still runs (reaps it if it ended).
  bool Running(pid_t pid);
  // Waits for the child to end by itself, up to `timeout` (and not past an
  // interrupt); nullopt if it still runs.
  std::optional<int> Wait(pid_t pid, std::chrono::milliseconds timeout);
  // SIGTERM to its group, up to `grace`, then SIGKILL. Returns its status.
  int Stop(pid_t pid, std::chrono::milliseconds grace = std::chrono::seconds(10));
  // Sends `sig` to the child's group (e.g. SIGHUP to reload the broker).
  void Signal(pid_t pid, int sig);
  void StopAll();
  // Runs a command to completion (bounded); its stdout is returned in `out`.
  // Returns its exit status, or -1 on timeout/interrupt (it is then killed).
  int Run(const std::string& name, const std::vector<std::string>& argv, const std::filesystem::path& log,
          std::chrono::milliseconds timeout, std::string* out = nullptr);

  // Every pid this supervisor ever started (for the final check).
  std::vector<pid_t> AllPids() const;

 private:
  ChildInfo* Find(pid_t pid);
  std::vector<ChildInfo> children_;
};

}  // namespace edgefleet::cli::demo
