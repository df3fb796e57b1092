// The columnar encoding of a sync message (docs/api/sync.md, "Columnar"):
// rows of a kind are stored column by column so that zstd sees long runs of
// similar bytes: sequence numbers and times as zigzag varint deltas, decisions
// as a dictionary, floats as byte planes, windows as per-axis deltas of the
// sensor's integer counts when they are exact multiples of its step.
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/sync_codec_internal.h"

namespace edgefleet::sync_codec::internal {
namespace {

constexpr std::string_view kMagic = "EFS1";
constexpr std::uint8_t kFlagState = 1;
constexpr std::uint8_t kFlagModelVersion = 2;

constexpr std::uint8_t kFloat32 = 1;
constexpr std::uint8_t kFloat64 = 2;
constexpr std::uint8_t kFloat16 = 3;

constexpr std::uint8_t kHashStrings = 0;
constexpr std::uint8_t kHashEmpty = 1;
constexpr std::uint8_t kHashHex = 2;
constexpr std::uint8_t kHashSparseHex = 3;
constexpr std::size_t kMaxHexHashBytes = kMaxTextBytes / 2;

constexpr std::uint8_t kWindowFloat32 = 0;
constexpr std::uint8_t kWindowCounts = 1;
constexpr float kCountsPerG = 2048.0f;  // the sensor's step is 1/2048 g (data/README.md)
constexpr std::size_t kMaxDecisions = 64;
constexpr std::size_t kAxes = 3;

// ---- writing ----------------------------------------------------------------------------

template <typename RowT, typename GetT>
void DeltaColumn(ByteWriter& w, const std::vector<RowT>& rows, GetT get) {
  std::uint64_t prev = 0;
  for (const RowT& r : rows) {
    const auto v = static_cast<std::uint64_t>(get(r));
    w.Signed(static_cast<std::int64_t>(v - prev));
    prev = v;
  }
}

template <typename RowT, typename GetT>
void DecisionColumn(ByteWriter& w, const std::vector<RowT>& rows, GetT get) {
  std::vector<std::string_view> dict;
  std::vector<std::uint8_t> index;
  index.reserve(rows.size());
  for (const RowT& r : rows) {
    const std::string_view d = get(r);
    std::size_t i = 0;
    while (i < dict.size() && dict[i] != d) ++i;
    if (i == dict.size()) dict.push_back(d);
    index.push_back(static_cast<std::uint8_t>(i));
  }
  // More than kMaxDecisions distinct decisions cannot pass validation (a-z
  // names of at most 32 bytes could, in theory): they go out as a second
  // dictionary-free form, a dictionary per row.
  if (dict.size() > kMaxDecisions) {
    w.Varint(0);
    for (const RowT& r : rows) w.String(get(r));
    return;
  }
  w.Varint(dict.size());
  for (const std::string_view d : dict) w.String(d);
  if (dict.size() > 1) {
    for (const std::uint8_t i : index) w.Byte(i);
  }
}

template <typename RowT, typename GetT>
void BoolColumn(ByteWriter& w, const std::vector<RowT>& rows, GetT get) {
  std::uint8_t byte = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (get(rows[i])) byte = static_cast<std::uint8_t>(byte | (1u << (i % 8)));
    if (i % 8 == 7 || i + 1 == rows.size()) {
      w.Byte(byte);
      byte = 0;
    }
  }
}

template <typename RowT, typename GetT>
void FloatColumn(ByteWriter& w, const std::vector<RowT>& rows, GetT get, bool half) {
  bool f32 = true;
  bool f16 = half;
  for (const RowT& r : rows) {
    const double v = get(r);
    if (std::fabs(v) > static_cast<double>(std::numeric_limits<float>::max()) ||
        static_cast<double>(static_cast<float>(v)) != v) {
      f32 = false;
    }
    if (std::fabs(v) > 65504.0) f16 = false;  // beyond half precision: keep more
  }
  std::vector<std::uint64_t> bits;
  bits.reserve(rows.size());
  std::size_t width = 8;
  if (f16) {
    w.Byte(kFloat16);
    width = 2;
    for (const RowT& r : rows) bits.push_back(FloatToHalf(static_cast<float>(get(r))));
  } else if (f32) {
    w.Byte(kFloat32);
    width = 4;
    for (const RowT& r : rows) bits.push_back(std::bit_cast<std::uint32_t>(static_cast<float>(get(r))));
  } else {
    w.Byte(kFloat64);
    for (const RowT& r : rows) bits.push_back(std::bit_cast<std::uint64_t>(static_cast<double>(get(r))));
  }
  for (std::size_t plane = 0; plane < width; ++plane) {
    for (const std::uint64_t b : bits) w.Byte(static_cast<std::uint8_t>(b >> (8 * plane)));
  }
}

bool IsLowerHex(std::string_view s) {
  if (s.empty() || s.size() % 2 != 0) return false;
  for (const char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

int HexValue(char c) { return c <= '9' ? c - '0' : c - 'a' + 10; }

void HexBytes(ByteWriter& w, std::string_view hex) {
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    w.Byte(static_cast<std::uint8_t>(HexValue(hex[i]) * 16 + HexValue(hex[i + 1])));
  }
}

// Hashes: all empty; all lowercase hex of one length (raw bytes); some empty
// and the others lowercase hex of one length (a presence bitmap, then raw
// bytes: the buffer sends hashes only for uncertain rows); else strings.
void HashColumn(ByteWriter& w, const std::vector<sync::InferenceRow>& rows) {
  std::size_t length = 0;  // of the non-empty hashes, if they all agree
  bool any_empty = false;
  bool hex = true;
  for (const auto& r : rows) {
    if (r.input_hash.empty()) {
      any_empty = true;
      continue;
    }
    if (length == 0) length = r.input_hash.size();
    if (r.input_hash.size() != length || length > 2 * kMaxHexHashBytes || !IsLowerHex(r.input_hash)) hex = false;
  }
  if (length == 0) {
    w.Byte(kHashEmpty);
  } else if (hex && !any_empty) {
    w.Byte(kHashHex);
    w.Varint(length / 2);
    for (const auto& r : rows) HexBytes(w, r.input_hash);
  } else if (hex) {
    w.Byte(kHashSparseHex);
    w.Varint(length / 2);
    BoolColumn(w, rows, [](const auto& r) { return !r.input_hash.empty(); });
    for (const auto& r : rows) HexBytes(w, r.input_hash);
  } else {
    w.Byte(kHashStrings);
    for (const auto& r : rows) w.String(r.input_hash);
  }
}

// A window whose every value is count / 2048 for an integer count in int16
// range (and not -0.0) is sent as per-axis deltas of its counts.
bool WindowCounts(const std::vector<float>& window, std::vector<std::int32_t>& counts) {
  counts.clear();
  for (const float v : window) {
    const float c = v * kCountsPerG;
    if (!(std::fabs(c) <= 32767.0f) || std::nearbyint(c) != c) return false;
    const auto count = static_cast<std::int32_t>(c);
    if (std::bit_cast<std::uint32_t>(static_cast<float>(count) / kCountsPerG) !=
        std::bit_cast<std::uint32_t>(v)) {
      return false;  // -0.0, or a value the division does not give back exactly
    }
    counts.push_back(count);
  }
  return true;
}

void WindowColumn(ByteWriter& w, const std::vector<sync::HardSampleRow>& rows) {
  std::vector<std::int32_t> counts;
  for (const auto& r : rows) {
    if (WindowCounts(r.window, counts)) {
      w.Byte(kWindowCounts);
      std::int32_t prev[kAxes] = {0, 0, 0};
      for (std::size_t i = 0; i < counts.size(); ++i) {
        w.Signed(counts[i] - prev[i % kAxes]);
        prev[i % kAxes] = counts[i];
      }
    } else {
      w.Byte(kWindowFloat32);
      for (const float v : r.window) {
        const auto b = std::bit_cast<std::uint32_t>(v);
        for (int k = 0; k < 4; ++k) w.Byte(static_cast<std::uint8_t>(b >> (8 * k)));
      }
    }
  }
}

// ---- reading ----------------------------------------------------------------------------

Error Truncated(std::string_view what) {
  return Invalid("the columnar body's " + std::string(what) + " is truncated or over a limit");
}

template <typename RowT, typename SetT>
bool ReadDeltaColumn(ByteReader& r, std::vector<RowT>& rows, SetT set) {
  std::uint64_t prev = 0;
  for (RowT& row : rows) {
    prev += static_cast<std::uint64_t>(r.Signed());
    set(row, static_cast<std::int64_t>(prev));
  }
  return r.ok();
}

template <typename RowT, typename SetT>
bool ReadDecisionColumn(ByteReader& r, std::vector<RowT>& rows, SetT set) {
  const std::size_t k = r.Count(kMaxDecisions);
  if (!r.ok()) return false;
  if (k == 0) {  // one string per row
    for (RowT& row : rows) set(row, r.String(kMaxDecisionBytes));
    return r.ok();
  }
  std::vector<std::string_view> dict;
  for (std::size_t i = 0; i < k; ++i) dict.push_back(r.String(kMaxDecisionBytes));
  for (RowT& row : rows) {
    const std::size_t i = k > 1 ? r.Byte() : 0;
    if (!r.ok() || i >= k) return false;
    set(row, dict[i]);
  }
  return r.ok();
}

template <typename RowT, typename SetT>
bool ReadBoolColumn(ByteReader& r, std::vector<RowT>& rows, SetT set) {
  const std::string_view bytes = r.Bytes((rows.size() + 7) / 8);
  if (!r.ok()) return false;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    set(rows[i], (static_cast<unsigned char>(bytes[i / 8]) >> (i % 8)) & 1u);
  }
  // Bits past the last row must be zero: one message, one encoding.
  return rows.empty() || (static_cast<unsigned char>(bytes.back()) >> (rows.size() % 8 == 0 ? 8 : rows.size() % 8)) == 0;
}

template <typename RowT, typename SetT>
bool ReadFloatColumn(ByteReader& r, std::vector<RowT>& rows, SetT set) {
  const std::uint8_t tag = r.Byte();
  std::size_t width = 0;
  if (tag == kFloat16) width = 2;
  if (tag == kFloat32) width = 4;
  if (tag == kFloat64) width = 8;
  if (!r.ok() || width == 0) return false;
  const std::string_view planes = r.Bytes(rows.size() * width);
  if (!r.ok()) return false;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::uint64_t b = 0;
    for (std::size_t p = 0; p < width; ++p) {
      b |= static_cast<std::uint64_t>(static_cast<unsigned char>(planes[p * rows.size() + i])) << (8 * p);
    }
    double v = 0;
    if (width == 2) v = static_cast<double>(HalfToFloat(static_cast<std::uint16_t>(b)));
    if (width == 4) v = static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(b)));
    if (width == 8) v = std::bit_cast<double>(b);
    set(rows[i], v);
  }
  return true;
}

bool ReadHashColumn(ByteReader& r, std::vector<sync::InferenceRow>& rows) {
  const std::uint8_t mode = r.Byte();
  if (!r.ok()) return false;
  if (mode == kHashEmpty) return true;
  if (mode == kHashStrings) {
    for (auto& row : rows) row.input_hash = std::string(r.String(kMaxTextBytes));
    return r.ok();
  }
  if (mode != kHashHex && mode != kHashSparseHex) return false;
  const std::size_t len = r.Count(kMaxHexHashBytes);
  if (!r.ok() || len == 0) return false;
  std::vector<bool> present(rows.size(), true);
  if (mode == kHashSparseHex) {
    std::size_t i = 0;
    if (!ReadBoolColumn(r, rows, [&](auto&, bool b) { present[i++] = b; })) return false;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (!present[k]) continue;
    const std::string_view bytes = r.Bytes(len);
    if (!r.ok()) return false;
    std::string& out = rows[k].input_hash;
    out.resize(2 * len);
    for (std::size_t i = 0; i < len; ++i) {
      const auto b = static_cast<unsigned char>(bytes[i]);
      out[2 * i] = kHex[b >> 4];
      out[2 * i + 1] = kHex[b & 15];
    }
  }
  return true;
}

bool ReadWindows(ByteReader& r, std::vector<sync::HardSampleRow>& rows) {
  for (auto& row : rows) {
    const std::uint8_t tag = r.Byte();
    if (!r.ok()) return false;
    row.window.resize(sync::kWindowValues);
    if (tag == kWindowCounts) {
      std::int64_t prev[kAxes] = {0, 0, 0};
      for (std::size_t i = 0; i < sync::kWindowValues; ++i) {
        const std::int64_t delta = r.Signed();
        if (!r.ok() || delta < -65535 || delta > 65535) return false;
        const std::int64_t count = prev[i % kAxes] + delta;
        if (count < -32767 || count > 32767) return false;
        prev[i % kAxes] = count;
        row.window[i] = static_cast<float>(count) / kCountsPerG;
      }
    } else if (tag == kWindowFloat32) {
      const std::string_view bytes = r.Bytes(sync::kWindowValues * 4);
      if (!r.ok()) return false;
      for (std::size_t i = 0; i < sync::kWindowValues; ++i) {
        std::uint32_t b = 0;
        for (std::size_t k = 0; k < 4; ++k) {
          b |= static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[4 * i + k])) << (8 * k);
        }
        row.window[i] = std::bit_cast<float>(b);
      }
    } else {
      return false;
    }
  }
  return true;
}

// A row count, checked against the limit and against the bytes left (every
// row takes at least one byte), before any row is allocated.
std::size_t RowCount(ByteReader& r) {
  const std::size_t n = r.Count(kMaxRowsPerKind);
  if (n > r.remaining()) r.Invalidate();
  return r.ok() ? n : 0;
}

}  // namespace

std::string EncodeColumnar(const SyncMessage& m, FloatPrecision precision) {
  const bool half = precision == FloatPrecision::kHalf;
  ByteWriter w;
  w.Bytes(kMagic);
  std::uint8_t flags = 0;
  if (m.state) flags |= kFlagState;
  if (m.state && m.state->model_version) flags |= kFlagModelVersion;
  w.Byte(flags);
  w.String(m.device_id);
  if (m.state) {
    const DeviceState& s = *m.state;
    if (s.model_version) w.Varint(static_cast<std::uint64_t>(*s.model_version));
    for (const std::int64_t v : {s.buffer_depth, s.dropped_inferences, s.dropped_hard_samples,
                                 s.dropped_health, s.backoff_failures, s.backoff_delay_ms}) {
      w.Varint(static_cast<std::uint64_t>(v));
    }
    w.Varint(s.bytes_sent.size());
    for (const StrategyBytes& b : s.bytes_sent) {
      w.String(b.strategy);
      w.Varint(static_cast<std::uint64_t>(b.bytes));
    }
  }
  const auto& inf = m.batch.inferences;
  w.Varint(inf.size());
  if (!inf.empty()) {
    DeltaColumn(w, inf, [](const auto& r) { return r.seq; });
    DeltaColumn(w, inf, [](const auto& r) { return r.ts_ms; });
    DeltaColumn(w, inf, [](const auto& r) { return r.model_version; });
    DecisionColumn(w, inf, [](const auto& r) -> std::string_view { return r.decision; });
    BoolColumn(w, inf, [](const auto& r) { return r.fallback; });
    FloatColumn(w, inf, [](const auto& r) { return r.confidence; }, half);
    FloatColumn(w, inf, [](const auto& r) { return r.mse; }, half);
    for (const auto& r : inf) w.Varint(static_cast<std::uint64_t>(r.latency_us));
    HashColumn(w, inf);
  }
  const auto& hs = m.batch.hard_samples;
  w.Varint(hs.size());
  if (!hs.empty()) {
    DeltaColumn(w, hs, [](const auto& r) { return r.seq; });
    DeltaColumn(w, hs, [](const auto& r) { return r.ts_ms; });
    DeltaColumn(w, hs, [](const auto& r) { return r.model_version; });
    DecisionColumn(w, hs, [](const auto& r) -> std::string_view { return r.decision; });
    BoolColumn(w, hs, [](const auto& r) { return r.fallback; });
    FloatColumn(w, hs, [](const auto& r) { return r.confidence; }, false);
    FloatColumn(w, hs, [](const auto& r) { return r.edge_mse; }, false);
    WindowColumn(w, hs);
  }
  w.Varint(m.batch.health.size());
  for (const auto& r : m.batch.health) {
    w.Signed(r.seq);
    w.Signed(r.model_version);
    w.Signed(r.period_start_ms);
    w.Varint(static_cast<std::uint64_t>(r.period_end_ms) - static_cast<std::uint64_t>(r.period_start_ms));
    w.String(r.stats_json);
  }
  return w.Take();
}

Expected<SyncMessage> DecodeColumnar(std::string_view body) {
  ByteReader r(body);
  if (r.Bytes(kMagic.size()) != kMagic) return Invalid("the columnar body does not start with EFS1");
  const std::uint8_t flags = r.Byte();
  if (!r.ok() || (flags & ~(kFlagState | kFlagModelVersion)) != 0 ||
      ((flags & kFlagModelVersion) && !(flags & kFlagState))) {
    return Invalid("the columnar body has unknown flags");
  }
  SyncMessage m;
  m.device_id = std::string(r.String(kMaxDeviceIdBytes));
  if (!r.ok()) return Truncated("device id");
  auto as_int = [](std::uint64_t v) {
    return v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::int64_t{-1}  // refused by validation as negative
               : static_cast<std::int64_t>(v);
  };
  if (flags & kFlagState) {
    DeviceState s;
    if (flags & kFlagModelVersion) s.model_version = as_int(r.Varint());
    for (std::int64_t* v : {&s.buffer_depth, &s.dropped_inferences, &s.dropped_hard_samples,
                            &s.dropped_health, &s.backoff_failures, &s.backoff_delay_ms}) {
      *v = as_int(r.Varint());
    }
    const std::size_t n = r.Count(kMaxStrategies);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
      StrategyBytes b;
      b.strategy = std::string(r.String(kMaxDecisionBytes));
      b.bytes = as_int(r.Varint());
      s.bytes_sent.push_back(std::move(b));
    }
    if (!r.ok()) return Truncated("device state");
    m.state = std::move(s);
  }

  auto& inf = m.batch.inferences;
  const std::size_t n_inf = RowCount(r);
  if (!r.ok()) return Truncated("inference count");
  if (n_inf > 0) {
    inf.resize(n_inf);
    const bool ok =
        ReadDeltaColumn(r, inf, [](auto& x, std::int64_t v) { x.seq = v; }) &&
        ReadDeltaColumn(r, inf, [](auto& x, std::int64_t v) { x.ts_ms = v; }) &&
        ReadDeltaColumn(r, inf, [](auto& x, std::int64_t v) { x.model_version = v; }) &&
        ReadDecisionColumn(r, inf, [](auto& x, std::string_view d) { x.decision = std::string(d); }) &&
        ReadBoolColumn(r, inf, [](auto& x, bool b) { x.fallback = b; }) &&
        ReadFloatColumn(r, inf, [](auto& x, double v) { x.confidence = v; }) &&
        ReadFloatColumn(r, inf, [](auto& x, double v) { x.mse = v; });
    if (!ok) return Truncated("inference columns");
    for (auto& x : inf) x.latency_us = as_int(r.Varint());
    if (!r.ok() || !ReadHashColumn(r, inf)) return Truncated("inference columns");
  }

  auto& hs = m.batch.hard_samples;
  const std::size_t n_hs = RowCount(r);
  if (!r.ok()) return Truncated("hard sample count");
  if (n_hs > 0) {
    hs.resize(n_hs);
    const bool ok =
        ReadDeltaColumn(r, hs, [](auto& x, std::int64_t v) { x.seq = v; }) &&
        ReadDeltaColumn(r, hs, [](auto& x, std::int64_t v) { x.ts_ms = v; }) &&
        ReadDeltaColumn(r, hs, [](auto& x, std::int64_t v) { x.model_version = v; }) &&
        ReadDecisionColumn(r, hs, [](auto& x, std::string_view d) { x.decision = std::string(d); }) &&
        ReadBoolColumn(r, hs, [](auto& x, bool b) { x.fallback = b; }) &&
        ReadFloatColumn(r, hs, [](auto& x, double v) { x.confidence = v; }) &&
        ReadFloatColumn(r, hs, [](auto& x, double v) { x.edge_mse = v; }) && ReadWindows(r, hs);
    if (!ok) return Truncated("hard sample columns");
  }

  const std::size_t n_health = RowCount(r);
  if (!r.ok()) return Truncated("health count");
  m.batch.health.resize(n_health);
  for (auto& x : m.batch.health) {
    x.seq = r.Signed();
    x.model_version = r.Signed();
    x.period_start_ms = r.Signed();
    const std::uint64_t length = r.Varint();
    if (x.period_start_ms < 0 ||
        length > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max() - x.period_start_ms)) {
      return Invalid("a health row's period is out of range");
    }
    x.period_end_ms = x.period_start_ms + static_cast<std::int64_t>(length);
    x.stats_json = std::string(r.String(kMaxStatsJsonBytes));
    if (!r.ok()) return Truncated("health rows");
  }
  if (!r.at_end()) return Invalid("the columnar body has bytes after its last section");
  EDGEFLEET_RETURN_IF_ERROR(Validate(m, false));
  return m;
}

}  // namespace edgefleet::sync_codec::internal
