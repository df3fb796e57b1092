// libFuzzer target for the cloud model file (ml/cloud_model.h): DecodeCloudModel
// and, when a model decodes, one Score on a fixed window. Inputs whose first
// byte is odd get the payload CRC and size recomputed, so the fuzzer reaches
// the field validation behind the checksum.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/crc32.h"
#include "ml/cloud_model.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > (1u << 20)) return 0;
  std::vector<std::uint8_t> bytes(data + 1, data + size);
  if ((data[0] & 1u) != 0 && bytes.size() >= 16) {
    const auto payload = static_cast<std::uint32_t>(bytes.size() - 16);
    const std::uint32_t crc = edgefleet::core::Crc32(bytes.data() + 16, payload);
    std::memcpy(bytes.data() + 8, &payload, 4);
    std::memcpy(bytes.data() + 12, &crc, 4);
  }
  auto model = edgefleet::ml::DecodeCloudModel(bytes);
  if (!model.ok()) return 0;
  const edgefleet::ml::CloudModel& m = model.value;
  if (m.window_len * m.axes > 1024) return 0;
  edgefleet::ml::SpectralFeatures features(m.window_len, m.axes);
  std::vector<float> window(m.window_len * m.axes);
  for (std::size_t i = 0; i < window.size(); ++i) window[i] = static_cast<float>(i % 7) * 0.01f;
  (void)edgefleet::ml::Score(m, features, window);
  return 0;
}
