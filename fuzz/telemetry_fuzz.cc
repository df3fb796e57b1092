// libFuzzer target for the MQTT telemetry parsers (common/telemetry.h), the
// bridge's untrusted input: the first byte picks the parser (topic,
// inference, escalation, status, ota), the rest is the input. A payload that
// parses must survive ToJson -> Parse unchanged (except status health,
// which is normalised once).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/telemetry.h"

namespace t = edgefleet::telemetry;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 2 * t::kMaxPayloadBytes) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 5) {
    case 0: {
      auto topic = t::ParseTopic(input);
      if (topic.ok() && t::Topic(topic->device_id, topic->channel) != input) std::abort();
      break;
    }
    case 1: {
      auto r = t::ParseInference(input);
      if (!r.ok()) break;
      auto again = t::ParseInference(t::ToJson(*r));
      if (!again.ok()) std::abort();
      if (std::holds_alternative<t::InferenceMessage>(*r) &&
          !(std::get<t::InferenceMessage>(*again) == std::get<t::InferenceMessage>(*r))) {
        std::abort();
      }
      break;
    }
    case 2: {
      auto r = t::ParseEscalation(input);
      if (r.ok() && !(t::ParseEscalation(t::ToJson(*r)).value() == *r)) std::abort();
      break;
    }
    case 3: {
      auto r = t::ParseStatus(input);
      if (r.ok() && !(t::ParseStatus(t::ToJson(*r)).value() == *r)) std::abort();
      break;
    }
    case 4: {
      auto r = t::ParseOta(input);
      if (r.ok() && !(t::ParseOta(t::ToJson(*r)).value() == *r)) std::abort();
      break;
    }
  }
  return 0;
}
