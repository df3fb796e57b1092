// The sync codec's entry points: content negotiation, zstd with a size cap,
// validation, and the acknowledgement. The encodings themselves are in
// sync_codec_json.cc and sync_codec_columnar.cc; layouts in docs/api/sync.md.
#include "common/sync_codec.h"

#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include <simdjson.h>

#include "common/sync_codec_internal.h"
#include "common/text.h"

namespace edgefleet::sync_codec {
namespace internal {
namespace {

using common::Ok;

Expected<void> CheckDeviceId(std::string_view id) {
  if (!common::IsDeviceIdText(id)) {
    return Invalid("device_id must be 1 to " + std::to_string(kMaxDeviceIdBytes) +
                   " bytes of letters, digits and - _ . :");
  }
  return Ok();
}

Expected<void> CheckDecision(std::string_view decision) {
  if (decision.empty() || decision.size() > kMaxDecisionBytes) {
    return Invalid("decision must be 1 to " + std::to_string(kMaxDecisionBytes) + " bytes");
  }
  for (const char c : decision) {
    if (!((c >= 'a' && c <= 'z') || c == '_')) return Invalid("decision may hold only a-z and _");
  }
  return Ok();
}

Expected<void> CheckAtLeastZero(std::string_view field, std::int64_t value) {
  if (value < 0) return Invalid(std::string(field) + " is negative");
  return Ok();
}

constexpr double kMaxDouble = std::numeric_limits<double>::max();

template <typename RowT>
Expected<void> CheckSeqs(std::string_view kind, const std::vector<RowT>& rows) {
  if (rows.size() > kMaxRowsPerKind) {
    return Error(ErrorCode::kResourceExhausted,
                 std::string(kind) + ": more than " + std::to_string(kMaxRowsPerKind) + " rows");
  }
  return sync::CheckUniqueSeqs(kind, rows);
}

Expected<void> CheckInference(const sync::InferenceRow& r) {
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("ts_ms", r.ts_ms));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("model_version", r.model_version));
  EDGEFLEET_RETURN_IF_ERROR(CheckDecision(r.decision));
  EDGEFLEET_RETURN_IF_ERROR(common::CheckFinite("confidence", r.confidence, 0, 1));
  EDGEFLEET_RETURN_IF_ERROR(common::CheckFinite("mse", r.mse, 0, kMaxDouble));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("latency_us", r.latency_us));
  return common::CheckText("input_hash", r.input_hash, kMaxTextBytes, true);
}

Expected<void> CheckHardSample(const sync::HardSampleRow& r) {
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("ts_ms", r.ts_ms));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("model_version", r.model_version));
  if (r.window.size() != sync::kWindowValues) {
    return Invalid("window holds " + std::to_string(r.window.size()) + " values, not " +
                   std::to_string(sync::kWindowValues));
  }
  for (std::size_t i = 0; i < r.window.size(); ++i) {
    if (!std::isfinite(r.window[i])) return Invalid("window[" + std::to_string(i) + "] is not finite");
  }
  EDGEFLEET_RETURN_IF_ERROR(common::CheckFinite("edge_mse", r.edge_mse, 0, kMaxDouble));
  EDGEFLEET_RETURN_IF_ERROR(common::CheckFinite("confidence", r.confidence, 0, 1));
  return CheckDecision(r.decision);
}

Expected<void> CheckHealth(const sync::HealthRow& r) {
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("model_version", r.model_version));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("period_start_ms", r.period_start_ms));
  if (r.period_end_ms < r.period_start_ms) return Invalid("period ends before it starts");
  return CheckStatsJson(r.stats_json);
}

template <typename RowT, typename CheckT>
Expected<void> CheckRows(std::string_view kind, const std::vector<RowT>& rows, CheckT check) {
  EDGEFLEET_RETURN_IF_ERROR(CheckSeqs(kind, rows));
  for (const RowT& r : rows) {
    auto ok = check(r);
    if (!ok.ok()) {
      return std::move(ok).error().WithContext(std::string(kind) + " seq " + std::to_string(r.seq));
    }
  }
  return Ok();
}

Expected<void> CheckState(const DeviceState& s) {
  if (s.model_version) EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("state model_version", *s.model_version));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("buffer_depth", s.buffer_depth));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("dropped inferences", s.dropped_inferences));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("dropped hard_samples", s.dropped_hard_samples));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("dropped health", s.dropped_health));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("backoff failures", s.backoff_failures));
  EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("backoff delay_ms", s.backoff_delay_ms));
  // The dropped total must not overflow where the server adds the kinds up.
  constexpr std::int64_t kThird = std::numeric_limits<std::int64_t>::max() / 3;
  if (s.dropped_inferences > kThird || s.dropped_hard_samples > kThird || s.dropped_health > kThird) {
    return Invalid("a dropped-row count is out of range");
  }
  if (s.bytes_sent.size() > kMaxStrategies) {
    return Invalid("bytes_sent names more than " + std::to_string(kMaxStrategies) + " strategies");
  }
  for (std::size_t i = 0; i < s.bytes_sent.size(); ++i) {
    const StrategyBytes& b = s.bytes_sent[i];
    if (b.strategy.empty() || b.strategy.size() > kMaxDecisionBytes) {
      return Invalid("a strategy name must be 1 to " + std::to_string(kMaxDecisionBytes) + " bytes");
    }
    for (const char c : b.strategy) {
      if (!((c >= 'a' && c <= 'z') || c == '_')) return Invalid("a strategy name may hold only a-z and _");
    }
    EDGEFLEET_RETURN_IF_ERROR(CheckAtLeastZero("bytes_sent", b.bytes));
    for (std::size_t j = 0; j < i; ++j) {
      if (s.bytes_sent[j].strategy == b.strategy) {
        return Invalid("strategy '" + b.strategy + "' appears twice in bytes_sent");
      }
    }
  }
  return Ok();
}

}  // namespace

Expected<void> CheckStatsJson(std::string_view json) {
  EDGEFLEET_RETURN_IF_ERROR(common::CheckText("stats", json, kMaxStatsJsonBytes, false));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS ||
      doc.type() != simdjson::dom::element_type::OBJECT) {
    return Invalid("stats is not a JSON object");
  }
  return Ok();
}

Expected<void> Validate(const SyncMessage& m, bool allow_empty_id) {
  if (!(allow_empty_id && m.device_id.empty())) EDGEFLEET_RETURN_IF_ERROR(CheckDeviceId(m.device_id));
  if (m.state) EDGEFLEET_RETURN_IF_ERROR(CheckState(*m.state));
  EDGEFLEET_RETURN_IF_ERROR(CheckRows("inferences", m.batch.inferences, CheckInference));
  EDGEFLEET_RETURN_IF_ERROR(CheckRows("hard_samples", m.batch.hard_samples, CheckHardSample));
  return CheckRows("health", m.batch.health, CheckHealth);
}

std::uint16_t FloatToHalf(float value) {
  const std::uint32_t f = std::bit_cast<std::uint32_t>(value);
  const std::uint32_t sign = (f >> 16) & 0x8000u;
  const std::uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u) {  // Inf or NaN
    return static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  }
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // overflows to Inf
  if (abs < 0x38800000u) {  // a half subnormal or zero
    const float magnitude = std::bit_cast<float>(abs);
    // Scaled so that one half-subnormal step is 1; nearbyint rounds to even.
    const auto steps = static_cast<std::uint32_t>(std::nearbyint(magnitude * 16777216.0f));
    return static_cast<std::uint16_t>(sign | steps);
  }
  // Normal: rebias the exponent and round the mantissa to 10 bits, to even.
  std::uint32_t h = ((abs - 0x38000000u) >> 13);
  const std::uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

float HalfToFloat(std::uint16_t half) {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exp = (half >> 10) & 0x1fu;
  const std::uint32_t mant = half & 0x3ffu;
  if (exp == 0) {
    const float magnitude = static_cast<float>(mant) / 16777216.0f;
    return sign ? -magnitude : magnitude;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112u) << 23) | (mant << 13));
}

}  // namespace internal

namespace {

using internal::Invalid;

// The media type without parameters, lowercased.
std::string MediaType(std::string_view content_type) {
  const auto semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  std::string out(t);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Expected<std::string> Decompress(std::string_view body) {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  if (ctx == nullptr) return common::Error(common::ErrorCode::kInternal, "zstd: out of memory");
  // A frame may claim any size; the window limit refuses frames that would
  // need a large history buffer before anything is allocated for them.
  ZSTD_DCtx_setParameter(ctx, ZSTD_d_windowLogMax, 24);
  std::string out;
  ZSTD_inBuffer in{body.data(), body.size(), 0};
  char chunk[64 * 1024];
  std::size_t last = 1;
  while (true) {
    ZSTD_outBuffer o{chunk, sizeof(chunk), 0};
    last = ZSTD_decompressStream(ctx, &o, &in);
    if (ZSTD_isError(last)) {
      ZSTD_freeDCtx(ctx);
      return Invalid(std::string("the zstd body is corrupt (") + ZSTD_getErrorName(last) + ")");
    }
    if (out.size() + o.pos > kMaxDecodedBytes) {
      ZSTD_freeDCtx(ctx);
      return common::Error(common::ErrorCode::kResourceExhausted,
                           "the zstd body decompresses to more than " +
                               std::to_string(kMaxDecodedBytes) + " bytes");
    }
    out.append(chunk, o.pos);
    if (last == 0 && in.pos == in.size) break;  // every frame complete, input consumed
    if (o.pos == 0 && in.pos == in.size) break;  // no progress possible: truncated
  }
  ZSTD_freeDCtx(ctx);
  if (last != 0) return Invalid("the zstd body is truncated");
  return out;
}

}  // namespace

std::string_view ContentType(SyncFormat format) {
  return format == SyncFormat::kJson ? kJsonContentType : kColumnarContentType;
}

Expected<void> ValidateSyncMessage(const SyncMessage& message) {
  return internal::Validate(message, false);
}

Expected<SyncMessage> DecodeSyncMessage(std::string_view body, std::string_view content_type,
                                        std::string_view content_encoding) {
  const std::string media = MediaType(content_type);
  const bool json = media == kJsonContentType;
  if (!json && media != kColumnarContentType) {
    return Invalid("Content-Type must be application/json or application/x-edgefleet-sync");
  }
  const std::string encoding = MediaType(content_encoding);
  std::string inflated;
  if (encoding == kZstdEncoding) {
    EDGEFLEET_ASSIGN_OR_RETURN(inflated, Decompress(body));
    body = inflated;
  } else if (!encoding.empty() && encoding != "identity") {
    return Invalid("Content-Encoding must be zstd or none");
  }
  if (body.size() > kMaxDecodedBytes) {
    return common::Error(common::ErrorCode::kResourceExhausted,
                         "the body is larger than " + std::to_string(kMaxDecodedBytes) + " bytes");
  }
  return json ? internal::DecodeJson(body) : internal::DecodeColumnar(body);
}

Expected<std::string> EncodeSyncMessage(const SyncMessage& message, SyncFormat format, bool zstd,
                                        const EncodeOptions& options) {
  EDGEFLEET_RETURN_IF_ERROR(internal::Validate(message, false));
  if (format == SyncFormat::kJson && options.precision != FloatPrecision::kExact) {
    return Invalid("half precision exists only in the columnar format");
  }
  std::string raw = format == SyncFormat::kJson ? internal::EncodeJson(message)
                                                : internal::EncodeColumnar(message, options.precision);
  if (raw.size() > kMaxDecodedBytes) {
    return common::Error(common::ErrorCode::kResourceExhausted,
                         "the message is larger than " + std::to_string(kMaxDecodedBytes) + " bytes");
  }
  if (!zstd) return raw;
  const int level = std::clamp(options.zstd_level, 1, 19);
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  // The content size goes into the frame header, so the receiver can see it.
  const std::size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), level);
  if (ZSTD_isError(n)) {
    return common::Error(common::ErrorCode::kInternal,
                         std::string("zstd: ") + ZSTD_getErrorName(n));
  }
  out.resize(n);
  return out;
}

// ---- acknowledgement ------------------------------------------------------------------

namespace {

void AppendRanges(std::string& out, const std::vector<std::int64_t>& seqs) {
  out += '[';
  std::size_t i = 0;
  bool first = true;
  while (i < seqs.size()) {
    std::size_t j = i;
    while (j + 1 < seqs.size() && seqs[j] != std::numeric_limits<std::int64_t>::max() &&
           seqs[j + 1] == seqs[j] + 1) {
      ++j;
    }
    if (!first) out += ',';
    first = false;
    out += '[' + std::to_string(seqs[i]) + ',' + std::to_string(seqs[j]) + ']';
    i = j + 1;
  }
  out += ']';
}

void AppendAck(std::string& out, std::string_view name, const sync::SeqAck& ack) {
  out += '"';
  out += name;
  out += "\":{\"stored\":";
  AppendRanges(out, ack.stored);
  out += ",\"already_present\":";
  AppendRanges(out, ack.already_present);
  out += '}';
}

Expected<std::vector<std::int64_t>> ReadRanges(simdjson::dom::element e, std::string_view where) {
  simdjson::dom::array ranges;
  if (e.get_array().get(ranges) != simdjson::SUCCESS) return Invalid(std::string(where) + " is not an array");
  std::vector<std::int64_t> out;
  for (simdjson::dom::element r : ranges) {
    simdjson::dom::array pair;
    std::int64_t lo = 0;
    std::int64_t hi = 0;
    if (r.get_array().get(pair) != simdjson::SUCCESS || pair.size() != 2 ||
        pair.at(0).get_int64().get(lo) != simdjson::SUCCESS ||
        pair.at(1).get_int64().get(hi) != simdjson::SUCCESS || lo < 0 || hi < lo) {
      return Invalid(std::string(where) + " holds an entry that is not a range [first, last] of seqs");
    }
    // Checked before expanding: a range may not name more rows than a batch holds.
    if (static_cast<std::uint64_t>(hi - lo) >= kMaxRowsPerKind - out.size()) {
      return Invalid(std::string(where) + " names more than " + std::to_string(kMaxRowsPerKind) + " rows");
    }
    for (std::int64_t s = lo;; ++s) {
      out.push_back(s);
      if (s == hi) break;
    }
  }
  return out;
}

}  // namespace

std::string EncodeSyncAck(const sync::IngestResult& result) {
  std::string out = "{";
  AppendAck(out, "inferences", result.inferences);
  out += ',';
  AppendAck(out, "hard_samples", result.hard_samples);
  out += ',';
  AppendAck(out, "health", result.health);
  out += '}';
  return out;
}

Expected<sync::IngestResult> DecodeSyncAck(std::string_view body) {
  if (body.size() > kMaxDecodedBytes) return Invalid("the acknowledgement is too large");
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::object root;
  if (parser.parse(body.data(), body.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(root) != simdjson::SUCCESS) {
    return Invalid("the acknowledgement is not a JSON object");
  }
  sync::IngestResult result;
  struct Kind {
    const char* name;
    sync::SeqAck* ack;
  };
  for (const Kind& kind : {Kind{"inferences", &result.inferences}, Kind{"hard_samples", &result.hard_samples},
                           Kind{"health", &result.health}}) {
    simdjson::dom::element k;
    if (root[kind.name].get(k) != simdjson::SUCCESS) continue;  // absent: nothing acknowledged
    simdjson::dom::object o;
    if (k.get_object().get(o) != simdjson::SUCCESS) {
      return Invalid(std::string("acknowledgement field ") + kind.name + " is not an object");
    }
    simdjson::dom::element list;
    if (o["stored"].get(list) == simdjson::SUCCESS) {
      EDGEFLEET_ASSIGN_OR_RETURN(kind.ack->stored, ReadRanges(list, std::string(kind.name) + ".stored"));
    }
    if (o["already_present"].get(list) == simdjson::SUCCESS) {
      EDGEFLEET_ASSIGN_OR_RETURN(kind.ack->already_present,
                                 ReadRanges(list, std::string(kind.name) + ".already_present"));
    }
  }
  return result;
}

}  // namespace edgefleet::sync_codec
