// Writes seed artifacts (time-domain, spectral, with a mode selector) into a
// folder so the artifact fuzzer starts from valid inputs. The first byte of a
// fuzz input is a control byte (bit 0: recompute the CRC), hence the prefix.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "tests/core/fixtures.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_artifacts DIR\n");
    return 2;
  }
  using edgefleet::testing::FanWindow;
  std::vector<std::vector<float>> windows;
  for (int i = 0; i < 32; ++i) windows.push_back(FanWindow(20.0f, 0.1f, static_cast<std::uint64_t>(i)));
  const std::vector<std::pair<std::string, std::vector<std::uint8_t>>> seeds = {
      {"time", edgefleet::testing::BuildTimeModel(windows, {300, 16, 8, 16, 300}, 1).bytes},
      {"time-small", edgefleet::testing::BuildTimeModel(windows, {300, 4, 300}, 2).bytes},
      {"spectral", edgefleet::testing::BuildSpectralModel(windows, {20.0f}, 3).bytes},
      {"modes", edgefleet::testing::BuildSpectralModel(windows, {10.0f, 20.0f, 40.0f}, 4).bytes},
  };
  for (const auto& [name, bytes] : seeds) {
    std::ofstream out(std::string(argv[1]) + "/" + name, std::ios::binary);
    const char control = 0;
    out.write(&control, 1);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    if (!out) return 1;
  }
  return 0;
}
