// libFuzzer target for the model artifact parser and everything a parsed
// artifact reaches: ParseArtifact, Detector::Create and one Run.
//
// Half of the inputs get their CRC recomputed before parsing, so the fuzzer
// explores the validation behind the integrity check instead of stopping at
// kBadCrc. Any out-of-bounds read, overflow or UB is a crash under ASan+UBSan.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/artifact.h"
#include "core/crc32.h"
#include "core/detector.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace edgefleet::core;
  if (size == 0 || size > kMaxArtifactSize) return 0;
  // Copy into an aligned buffer: artifacts are 4-byte aligned by contract.
  std::vector<std::uint32_t> storage(size / 4 + 1);
  auto* bytes = reinterpret_cast<std::uint8_t*>(storage.data());
  std::memcpy(bytes, data + 1, size - 1);
  const std::size_t n = size - 1;
  if ((data[0] & 1u) != 0 && n >= kHeaderSize + 4) {
    std::uint32_t total = 0;
    std::memcpy(&total, bytes + 8, 4);
    if (total >= kHeaderSize + 4 && total <= n) {
      const std::uint32_t crc = Crc32(bytes, total - 4);
      std::memcpy(bytes + total - 4, &crc, 4);
    }
  }
  auto parsed = ParseArtifact(bytes, n);
  if (!parsed.ok()) return 0;

  const std::size_t need = RequiredArenaBytes(parsed.value);
  if (need > (1u << 22)) return 0;
  std::vector<std::uint64_t> arena(need / 8 + 1);
  auto detector = Detector::Create(parsed.value, arena.data(), arena.size() * 8);
  if (!detector.ok()) return 0;
  std::vector<float> window(parsed.value.window_values());
  for (std::size_t i = 0; i < window.size(); ++i) {
    window[i] = static_cast<float>(static_cast<int>(i % 17) - 8) * 0.01f;
  }
  (void)detector.value.Run(window.data(), window.size());
  return 0;
}
