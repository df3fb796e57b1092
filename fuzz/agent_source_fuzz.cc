// Fuzzes the agent's sensor input parsers: CSV lines (a replay file or
// stdin, snapped to the sensor grid) and IIO scan element types. Neither may
// crash, hang or read out of bounds whatever the bytes are; every window a
// CSV yields holds finite values on the grid.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "agent/sensor_source.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)edgefleet::agent::ParseIioType(text.substr(0, 64));
  std::istringstream in(text);
  edgefleet::agent::CsvSource source(in, "fuzz");
  std::vector<float> window(300);
  for (int i = 0; i < 64; ++i) {
    auto read = source.Read(window);
    if (!read.ok() || !read.value()) break;
    for (float v : window) {
      const double count = static_cast<double>(v) * 2048.0;
      if (!std::isfinite(v) || count != std::round(count)) std::abort();
    }
  }
  return 0;
}
