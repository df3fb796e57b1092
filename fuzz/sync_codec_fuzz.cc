// libFuzzer target for the sync codec (common/sync_codec.h): the body of
// POST /api/sync in both encodings, compressed or not, and the
// acknowledgement. The first byte picks the case. Whatever decodes must
// validate, and must encode and decode again to the same message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/sync_codec.h"

using namespace edgefleet::sync_codec;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0] % 5;
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode == 4) {
    auto ack = DecodeSyncAck(body);
    if (ack.ok()) {
      auto again = DecodeSyncAck(EncodeSyncAck(ack.value()));
      if (!again.ok() || !(again->inferences == ack->inferences) ||
          !(again->hard_samples == ack->hard_samples) || !(again->health == ack->health)) {
        std::abort();
      }
    }
    return 0;
  }
  const SyncFormat format = (mode & 1) ? SyncFormat::kColumnar : SyncFormat::kJson;
  const bool zstd = (mode & 2) != 0;
  auto m = DecodeSyncMessage(body, ContentType(format), zstd ? "zstd" : "");
  if (!m.ok()) return 0;
  if (m->device_id.empty()) return 0;  // the seeds' shape: nothing to re-encode
  if (!ValidateSyncMessage(m.value()).ok()) std::abort();
  auto encoded = EncodeSyncMessage(m.value(), format, false);
  if (!encoded.ok()) std::abort();
  auto again = DecodeSyncMessage(encoded.value(), ContentType(format), "");
  if (!again.ok() || !(again.value() == m.value())) std::abort();
  return 0;
}
