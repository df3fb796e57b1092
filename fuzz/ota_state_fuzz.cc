// Fuzzes what the OTA client reads from its own disk and from the network
// before trusting it: the persisted record (ota-state.json, with its report
// queue) and the golden windows format. A record that parses must
// serialize and parse again to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "agent/ota/record.h"
#include "agent/ota/validation.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto record = edgefleet::ota::ParseRecord(text);
  if (record.ok()) {
    const std::string once = edgefleet::ota::SerializeRecord(record.value());
    const auto again = edgefleet::ota::ParseRecord(once);
    if (!again.ok() || edgefleet::ota::SerializeRecord(again.value()) != once) std::abort();
  }
  (void)edgefleet::ota::ParseGoldenWindows(text);
  return 0;
}
