// Names the calling thread (Linux: /proc/PID/task/TID/comm, what top -H,
// perf and gdb show), so an operator can tell the HTTP workers, the
// escalation writer and the MQTT loop apart, and bench/classify_cpu.sh can
// report CPU per kind of thread.
//
// Threads: names only the calling thread. Names longer than 15 bytes are cut
// (the kernel's limit); failure is ignored (a name is a convenience).
#pragma once

#include <pthread.h>

#include <string>
#include <string_view>

namespace edgefleet::common {

inline void NameThisThread(std::string_view name) {
  const std::string cut(name.substr(0, 15));
  pthread_setname_np(pthread_self(), cut.c_str());
}

}  // namespace edgefleet::common
