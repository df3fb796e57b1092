// libFuzzer target for what the API parses from the network and the disk:
// the /classify body (server/api/classify.h; its On-Demand fast path checked
// against the DOM parser), Range and If-None-Match headers
// (server/api/range.h), the Authorization header (server/api/auth.h), version
// comparison, and the server's TOML config. The first byte picks the parser.
#include <simdjson.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/api/auth.h"
#include "server/api/classify.h"
#include "server/api/config.h"
#include "server/api/model_json.h"
#include "server/api/number_array.h"
#include "server/api/range.h"

namespace {

// ParseNumberArray (the /classify features' fast path) may read only what the
// DOM parser reads as an array of as many numbers, with the same values
// (as floats; "-0" aside, which the DOM parser reads as the integer 0).
void NumberArrayAgreesWithDom(std::string_view text) {
  std::size_t count = 1;
  for (const char c : text) count += c == ',' ? 1 : 0;
  if (count > 4096) return;
  std::string padded(text);
  padded.append(simdjson::SIMDJSON_PADDING, '7');  // digits: reading past the end must not matter
  std::vector<float> fast(count);
  if (!edgefleet::server::api::ParseNumberArray(std::string_view(padded.data(), text.size()), fast, 1e6)) return;
  simdjson::dom::parser parser;
  simdjson::dom::array array;
  if (parser.parse(padded.data(), text.size(), false).get_array().get(array) || array.size() != count) {
    __builtin_trap();
  }
  std::size_t i = 0;
  for (const simdjson::dom::element v : array) {
    double d = 0;
    if (v.get_double().get(d) || static_cast<float>(d) != fast[i++]) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > (1u << 17)) return 0;
  namespace api = edgefleet::server::api;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 6) {
    case 0: {
      // The On-Demand fast path may decide only what the DOM parser accepts,
      // with the same result.
      edgefleet::server::http::Response bad;
      (void)api::ParseClassifyRequest(text, &bad);
      const auto fast = api::ParseClassifyRequestOnDemand(text);
      if (fast) {
        const auto dom = api::ParseClassifyRequestDom(text, &bad);
        if (!dom || dom->device_id != fast->device_id || dom->features != fast->features ||
            dom->edge_mse != fast->edge_mse || dom->model_version != fast->model_version ||
            dom->features_text != fast->features_text) {
          __builtin_trap();
        }
      }
      NumberArrayAgreesWithDom(text);
      break;
    }
    case 1: {
      const auto d = api::DecideRange(text, 11816);
      if (d.kind == api::RangeDecision::Kind::kPartial && (d.length == 0 || d.first + d.length > 11816)) __builtin_trap();
      break;
    }
    case 2:
      (void)api::IfNoneMatchMatches(text, "\"50adb85b9a221005bd39af4332d6c940d5bee8a9dabe6d10c0f6876ec556e1f0\"");
      break;
    case 3: {
      edgefleet::server::http::Request r;
      r.headers.push_back({"Authorization", text});
      (void)api::ExtractToken(r);
      break;
    }
    case 4: {
      const std::size_t half = text.size() / 2;
      (void)api::CompareVersions(text.substr(0, half), text.substr(half));
      break;
    }
    case 5: {
      api::ServerConfig c;
      (void)api::LoadConfigText(text, "fuzz.toml", c);
      break;
    }
  }
  return 0;
}
