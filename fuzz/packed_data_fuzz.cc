// libFuzzer target for the packed recordings format (ml/dataset.h,
// DecodePacked): a zstd frame of untrusted bytes, sizes bounded before any
// allocation, never a crash.
#include <cstddef>
#include <cstdint>
#include <span>

#include "ml/dataset.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto decoded = edgefleet::ml::DecodePacked(std::span<const std::uint8_t>(data, size));
  if (decoded.ok()) (void)edgefleet::ml::Windows(decoded.value);
  return 0;
}
