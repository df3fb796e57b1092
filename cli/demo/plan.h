// The timings of one `edgefleet demo` run: the full demo and --quick.
//
// Pure data. The full demo keeps the agents at 5x real pace (1000 Hz replay,
// 10 windows a second each) and gives every phase time to be seen; --quick
// (for `make test`) shortens every phase and runs the replay faster.
#pragma once

#include <chrono>
#include <cstddef>

namespace edgefleet::cli::demo {

struct Plan {
  int rate_hz = 1000;            // replay rate of each agent's CSV
  std::chrono::seconds online{30};   // first phase: cloud up
  std::chrono::seconds outage{25};   // server stopped
  std::chrono::seconds drain_limit{60};  // bound for every buffered row to arrive
  std::chrono::seconds ota_limit{90};    // bound for every agent to run the new model
  std::chrono::seconds after_ota{8};     // the new model at work before the stop
  std::chrono::seconds table_every{10};  // live table period
  std::size_t windows = 2400;  // windows per device CSV (longer than the longest run)
  int train_epochs_hint = 0;     // unused: training uses the pipeline's defaults
};

inline Plan FullPlan() { return Plan{}; }

inline Plan QuickPlan() {
  Plan p;
  p.rate_hz = 2000;
  p.online = std::chrono::seconds(5);
  p.outage = std::chrono::seconds(6);
  p.drain_limit = std::chrono::seconds(30);
  p.ota_limit = std::chrono::seconds(40);
  p.after_ota = std::chrono::seconds(2);
  p.table_every = std::chrono::seconds(4);
  p.windows = 2400;
  return p;
}

}  // namespace edgefleet::cli::demo
