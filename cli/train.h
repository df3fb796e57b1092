// `edgefleet train` and `edgefleet eval` (SPEC section 10). Each returns the
// process exit status: 0 success, 1 failure with one sentence on stderr.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace edgefleet::cli {

struct TrainArgs {
  std::string data;  // CSV folder or packed file; empty: the shipped recordings
  std::string out;
  std::uint64_t seed = 1;
  std::uint32_t modes = 4;
  std::uint32_t model_version = 1;  // written into the artifact and the cloud model
  std::vector<double> zone;         // empty, or {k_low, k_high}: fixed thresholds mu + k * sigma
  bool quiet = false;
};
int Train(const TrainArgs& args);

struct EvalArgs {
  std::string data;
  std::string models;
  std::uint64_t seed = 1;
  bool json = false;
  std::string scores;     // CSV, one row per evaluated window
  std::string sweep_csv;  // the zone sweep on the test windows
  std::string sweep_svg;
};
int Eval(const EvalArgs& args);

}  // namespace edgefleet::cli
