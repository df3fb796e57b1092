// Settings of the calling thread: its name, and its scheduler time slice.
//
// Names (Linux: /proc/PID/task/TID/comm, what top -H, perf and gdb show) let
// an operator tell the HTTP workers, the escalation writer and the MQTT loop
// apart, and bench/classify_cpu.sh report CPU per kind of thread. Names
// longer than 15 bytes are cut (the kernel's limit); failure is ignored.
//
// The slice (Linux 6.12 and later, EEVDF): a thread that runs in short bursts
// and asks for a short slice gets an earlier deadline when it wakes, so it
// preempts longer-running threads sooner; its share of the CPU (its nice
// value) is unchanged. The HTTP workers use it (docs/DECISIONS.md). Older
// kernels accept the call and ignore the value.
//
// Threads: each function acts on the calling thread only.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace edgefleet::common {

inline void NameThisThread(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

// Asks for a time slice of `slice` (the kernel clamps it to 0.1 - 100 ms)
// under the normal policy, with the thread's current nice value. Returns 0 or
// the errno of sched_setattr(2).
inline int SetThisThreadSlice(std::chrono::microseconds slice) {
  struct {  // struct sched_attr (linux/sched/types.h), which glibc does not export
    std::uint32_t size;
    std::uint32_t sched_policy;
    std::uint64_t sched_flags;
    std::int32_t sched_nice;
    std::uint32_t sched_priority;
    std::uint64_t sched_runtime;
    std::uint64_t sched_deadline;
    std::uint64_t sched_period;
  } attr{};
  attr.size = sizeof attr;
  attr.sched_policy = SCHED_OTHER;
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  if (errno != 0) return errno;
  attr.sched_nice = nice;
  attr.sched_runtime = static_cast<std::uint64_t>(slice.count()) * 1000;
  return ::syscall(SYS_sched_setattr, 0, &attr, 0) == 0 ? 0 : errno;
}

}  // namespace edgefleet::common
