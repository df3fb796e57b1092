// The sync codec: round trips of both encodings with and without zstd, the
// seeds' batch shape, the acknowledgement, and every malformed input as a
// table (each must be a one-sentence kInvalidArgument/kResourceExhausted).
#include "common/sync_codec.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace edgefleet::sync_codec {
namespace {

using common::ErrorCode;
using sync::HardSampleRow;
using sync::HealthRow;
using sync::InferenceRow;

std::vector<float> Window(std::uint32_t seed, bool counts) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-2000, 2000);
  std::vector<float> w(sync::kWindowValues);
  for (std::size_t i = 0; i < w.size(); ++i) {
    const int c = d(rng);
    w[i] = counts ? static_cast<float>(c) / 2048.0f : static_cast<float>(c) * 0.00123f;
  }
  return w;
}

SyncMessage Sample(std::size_t n = 20) {
  SyncMessage m;
  m.device_id = "fan-1";
  DeviceState s;
  s.model_version = 3;
  s.buffer_depth = 120;
  s.dropped_inferences = 4;
  s.dropped_hard_samples = 1;
  s.dropped_health = 0;
  s.backoff_failures = 2;
  s.backoff_delay_ms = 120000;
  s.bytes_sent = {{"adaptive", 12345}, {"periodic", 7}};
  m.state = s;
  for (std::size_t i = 0; i < n; ++i) {
    InferenceRow r;
    r.seq = 100 + static_cast<std::int64_t>(i);
    r.ts_ms = 1'700'000'000'000 + static_cast<std::int64_t>(i) * 500;
    r.model_version = 3;
    r.decision = i % 7 == 0 ? "anomaly" : "normal";
    r.confidence = static_cast<double>(0.7f + 0.01f * static_cast<float>(i % 30));
    r.mse = static_cast<double>(0.001f * static_cast<float>(i + 1));
    r.latency_us = 200 + static_cast<std::int64_t>(i % 13);
    r.input_hash = "0123456789abcdef";
    r.input_hash[0] = "0123456789abcdef"[i % 16];
    r.fallback = i % 5 == 0;
    m.batch.inferences.push_back(r);
  }
  for (std::uint32_t i = 0; i < 3; ++i) {
    HardSampleRow h;
    h.seq = 7 + i;
    h.ts_ms = 1'700'000'000'500 + i;
    h.model_version = 3;
    h.window = Window(i, i != 1);
    h.edge_mse = 0.25 + i;
    h.confidence = 0.55;
    h.decision = "escalate";
    h.fallback = i == 2;
    m.batch.hard_samples.push_back(h);
  }
  HealthRow hr;
  hr.seq = 1;
  hr.model_version = 3;
  hr.period_start_ms = 1'700'000'000'000;
  hr.period_end_ms = 1'700'000'060'000;
  hr.stats_json = R"({"inferences":120,"latency_p50_us":210,"nested":{"a":[1,2]}})";
  m.batch.health.push_back(hr);
  return m;
}

SyncMessage RoundTrip(const SyncMessage& m, SyncFormat f, bool zstd,
                      FloatPrecision p = FloatPrecision::kExact) {
  auto body = EncodeSyncMessage(m, f, zstd, EncodeOptions{p, 9});
  EXPECT_TRUE(body.ok()) << body.error().ToString();
  auto back = DecodeSyncMessage(body.value(), ContentType(f), zstd ? "zstd" : "");
  EXPECT_TRUE(back.ok()) << back.error().ToString();
  return back.ok() ? back.value() : SyncMessage{};
}

TEST(SyncCodecTest, RoundTripsEveryFormat) {
  const SyncMessage m = Sample();
  for (const SyncFormat f : {SyncFormat::kJson, SyncFormat::kColumnar}) {
    for (const bool zstd : {false, true}) {
      EXPECT_EQ(RoundTrip(m, f, zstd), m) << static_cast<int>(f) << " zstd " << zstd;
    }
  }
}

TEST(SyncCodecTest, RoundTripsEdgeValuesExactly) {
  SyncMessage m = Sample(3);
  m.state.reset();
  m.batch.inferences[0].confidence = 0.1;  // not a float: the column goes float64
  m.batch.inferences[1].mse = 1e300;
  m.batch.inferences[2].input_hash = "not hex \"quoted\" \\ \x01 é";
  m.batch.inferences[0].seq = std::numeric_limits<std::int64_t>::max();
  m.batch.inferences[1].seq = 0;
  m.batch.hard_samples[0].window[0] = -0.0f;
  m.batch.hard_samples[0].window[1] = std::numeric_limits<float>::denorm_min();
  m.batch.hard_samples[0].window[2] = std::numeric_limits<float>::max();
  m.batch.hard_samples[0].window[3] = 1.0f / 3.0f;
  for (const SyncFormat f : {SyncFormat::kJson, SyncFormat::kColumnar}) {
    const SyncMessage back = RoundTrip(m, f, true);
    EXPECT_EQ(back, m);
    EXPECT_TRUE(std::signbit(back.batch.hard_samples[0].window[0]));
  }
}

TEST(SyncCodecTest, EveryHashColumnFormRoundTrips) {
  SyncMessage m = Sample(30);
  auto size = [&](const SyncMessage& x) {
    return EncodeSyncMessage(x, SyncFormat::kColumnar, false).value().size();
  };
  const std::size_t all_hex = size(m);
  EXPECT_EQ(RoundTrip(m, SyncFormat::kColumnar, false), m);
  for (std::size_t i = 0; i < m.batch.inferences.size(); i += 2) m.batch.inferences[i].input_hash.clear();
  EXPECT_EQ(RoundTrip(m, SyncFormat::kColumnar, false), m);  // sparse: bitmap + raw bytes
  EXPECT_LT(size(m), all_hex);
  for (auto& r : m.batch.inferences) r.input_hash.clear();
  EXPECT_EQ(RoundTrip(m, SyncFormat::kColumnar, false), m);  // all empty
  m.batch.inferences[3].input_hash = "ABC";
  m.batch.inferences[4].input_hash = "abcd";
  EXPECT_EQ(RoundTrip(m, SyncFormat::kColumnar, false), m);  // strings
}

TEST(SyncCodecTest, EmptyBatchRoundTrips) {
  SyncMessage m;
  m.device_id = "d";
  EXPECT_EQ(RoundTrip(m, SyncFormat::kJson, false), m);
  EXPECT_EQ(RoundTrip(m, SyncFormat::kColumnar, true), m);
}

TEST(SyncCodecTest, HalfPrecisionKeepsThreeDigits) {
  const SyncMessage m = Sample();
  const SyncMessage back = RoundTrip(m, SyncFormat::kColumnar, true, FloatPrecision::kHalf);
  ASSERT_EQ(back.batch.inferences.size(), m.batch.inferences.size());
  for (std::size_t i = 0; i < m.batch.inferences.size(); ++i) {
    EXPECT_NEAR(back.batch.inferences[i].confidence, m.batch.inferences[i].confidence, 1e-3);
    EXPECT_NEAR(back.batch.inferences[i].mse, m.batch.inferences[i].mse, m.batch.inferences[i].mse * 1e-3);
    EXPECT_EQ(back.batch.inferences[i].seq, m.batch.inferences[i].seq);
  }
  EXPECT_EQ(back.batch.hard_samples, m.batch.hard_samples);  // windows stay exact
  EXPECT_FALSE(EncodeSyncMessage(m, SyncFormat::kJson, false, {FloatPrecision::kHalf, 3}).ok());
}

TEST(SyncCodecTest, ColumnarIsSmallerThanJson) {
  const SyncMessage m = Sample(2000);
  const auto json = EncodeSyncMessage(m, SyncFormat::kJson, true);
  const auto col = EncodeSyncMessage(m, SyncFormat::kColumnar, true);
  ASSERT_TRUE(json.ok() && col.ok());
  EXPECT_LT(col.value().size(), json.value().size());
}

TEST(SyncCodecTest, ContentTypeParametersAndCaseAreAccepted) {
  const auto body = EncodeSyncMessage(Sample(), SyncFormat::kJson, false);
  ASSERT_TRUE(body.ok());
  EXPECT_TRUE(DecodeSyncMessage(body.value(), "Application/JSON; charset=utf-8", "identity").ok());
}

TEST(SyncCodecTest, SeedsBatchShapeIsMapped) {
  // What the seeds' get_sync_batch builds (input_data base64 of the float32 window).
  std::vector<float> w = Window(9, true);
  std::string raw(w.size() * 4, '\0');
  std::memcpy(raw.data(), w.data(), raw.size());  // little-endian host
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string b64;
  for (std::size_t i = 0; i < raw.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(raw[i])) << 16;
    if (i + 1 < raw.size()) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(raw[i + 1])) << 8;
    if (i + 2 < raw.size()) v |= static_cast<unsigned char>(raw[i + 2]);
    b64 += kB64[(v >> 18) & 63];
    b64 += kB64[(v >> 12) & 63];
    b64 += i + 1 < raw.size() ? kB64[(v >> 6) & 63] : '=';
    b64 += i + 2 < raw.size() ? kB64[v & 63] : '=';
  }
  const std::string body =
      R"({"metadata": [{"id": 5, "timestamp": 1700000000.25, "model_version": "v4",
          "prediction": "normal", "confidence": 0.93, "latency_ms": 1.5},
         {"id": 6, "timestamp": 1700000000.75, "model_version": 4,
          "prediction": "anomaly", "confidence": 0.81, "latency_ms": 2}],
         "hard_samples": [{"id": 2, "timestamp": 1700000000.5, "input_data": ")" +
      b64 + R"(", "prediction": "normal", "confidence": 0.6}]})";
  auto m = DecodeSyncMessage(body, "application/json", "");
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->device_id, "");
  EXPECT_FALSE(m->state.has_value());
  ASSERT_EQ(m->batch.inferences.size(), 2u);
  EXPECT_EQ(m->batch.inferences[0].seq, 5);
  EXPECT_EQ(m->batch.inferences[0].ts_ms, 1'700'000'000'250);
  EXPECT_EQ(m->batch.inferences[0].model_version, 4);
  EXPECT_EQ(m->batch.inferences[0].decision, "normal");
  EXPECT_EQ(m->batch.inferences[0].latency_us, 1500);
  EXPECT_EQ(m->batch.inferences[1].latency_us, 2000);
  ASSERT_EQ(m->batch.hard_samples.size(), 1u);
  EXPECT_EQ(m->batch.hard_samples[0].window, w);
  EXPECT_EQ(m->batch.hard_samples[0].seq, 2);

  // "samples" is accepted for "hard_samples", and a device id may be added.
  const std::string alt = R"({"device_id": "fan-2", "metadata": [], "samples": [{"id": 1,
      "timestamp": 1, "input_data": )" + std::string("[") + [] {
    std::string s;
    for (int i = 0; i < 300; ++i) s += (i ? ",0.5" : "0.5");
    return s;
  }() + R"(], "prediction": "normal", "confidence": 0.5}]})";
  auto m2 = DecodeSyncMessage(alt, "application/json", "");
  ASSERT_TRUE(m2.ok()) << m2.error().ToString();
  EXPECT_EQ(m2->device_id, "fan-2");
  EXPECT_EQ(m2->batch.hard_samples.size(), 1u);
}

TEST(SyncCodecTest, AckRoundTripsAndUsesRanges) {
  sync::IngestResult r;
  r.inferences.stored = {1, 2, 3, 4, 9, 10, 20};
  r.inferences.already_present = {5, 6};
  r.hard_samples.stored = {7};
  r.health.already_present = {std::numeric_limits<std::int64_t>::max() - 1,
                              std::numeric_limits<std::int64_t>::max()};
  const std::string json = EncodeSyncAck(r);
  EXPECT_NE(json.find(R"("stored":[[1,4],[9,10],[20,20]])"), std::string::npos) << json;
  auto back = DecodeSyncAck(json);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(back->inferences, r.inferences);
  EXPECT_EQ(back->hard_samples, r.hard_samples);
  EXPECT_EQ(back->health, r.health);
}

TEST(SyncCodecTest, MalformedAcksAreRefused) {
  for (const char* bad : {"", "[]", "{\"inferences\": 3}", "{\"inferences\": {\"stored\": [1]}}",
                          "{\"inferences\": {\"stored\": [[3, 1]]}}",
                          "{\"inferences\": {\"stored\": [[-1, 1]]}}",
                          "{\"inferences\": {\"stored\": [[0, 9223372036854775807]]}}",
                          "{\"health\": {\"already_present\": [[0, 5000], [6000, 11000]]}}"}) {
    auto r = DecodeSyncAck(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

std::string Zstd(std::string_view raw) {
  std::string out(ZSTD_compressBound(raw.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), 3));
  return out;
}

struct BadBody {
  BadBody(const char* n, std::string b, std::string ct = "application/json", std::string enc = "")
      : name(n), body(std::move(b)), content_type(std::move(ct)), encoding(std::move(enc)) {}
  const char* name;
  std::string body;
  std::string content_type;
  std::string encoding;
};

std::string Json(const SyncMessage& m) { return EncodeSyncMessage(m, SyncFormat::kJson, false).value(); }
std::string Col(const SyncMessage& m) { return EncodeSyncMessage(m, SyncFormat::kColumnar, false).value(); }

std::string Replace(std::string s, std::string_view from, std::string_view to) {
  const auto at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) s.replace(at, from.size(), to);
  return s;
}

TEST(SyncCodecTest, MalformedBodiesAreRefusedWithOneSentence) {
  const SyncMessage m = Sample(4);
  const std::string json = Json(m);
  const std::string col = Col(m);
  const std::string ct = std::string(kColumnarContentType);
  std::string many_rows = R"({"device_id":"a","inferences":[)";
  for (int i = 0; i < 10'001; ++i) many_rows += i ? ",{}" : "{}";
  many_rows += "]}";
  std::vector<BadBody> cases = {
      {"empty body", ""},
      {"not json", "{nope"},
      {"array root", "[]"},
      {"no device id", R"({"inferences":[]})"},
      {"bad device id", Replace(json, "\"fan-1\"", "\"fan 1\"")},
      {"device id not a string", Replace(json, "\"fan-1\"", "7")},
      {"no inferences", R"({"device_id":"a"})"},
      {"inferences not array", R"({"device_id":"a","inferences":{}})"},
      {"row not object", R"({"device_id":"a","inferences":[3]})"},
      {"seq missing", Replace(json, "\"seq\":100,", "")},
      {"seq not integer", Replace(json, "\"seq\":100", "\"seq\":1.5")},
      {"negative seq", Replace(json, "\"seq\":100", "\"seq\":-1")},
      {"duplicate seq", Replace(json, "\"seq\":101", "\"seq\":100")},
      {"confidence above 1", Replace(json, "\"confidence\":0.699999988079071", "\"confidence\":1.5")},
      {"negative mse", Replace(json, "\"mse\":0.0010000000474974513", "\"mse\":-1")},
      {"decision not a-z", Replace(json, "\"anomaly\"", "\"Anomaly\"")},
      {"decision too long", Replace(json, "\"anomaly\"", "\"" + std::string(40, 'a') + "\"")},
      {"empty decision", Replace(json, "\"anomaly\"", "\"\"")},
      {"hash too long", Replace(json, "\"0123456789abcdef\"", "\"" + std::string(300, 'a') + "\"")},
      {"hash with NUL", Replace(json, "\"0123456789abcdef\"", "\"a\\u0000b\"")},
      {"fallback not bool", Replace(json, "\"fallback\":true", "\"fallback\":1")},
      {"window too short", Replace(json, "\"window\":[", "\"window\":[1,")},
      {"window value huge", Replace(json, "\"window\":[", "\"window\":[1e300,")},
      {"window value a string", Replace(json, "\"window\":[", "\"window\":[\"x\",")},
      {"stats not object", Replace(json, "\"stats\":{", "\"stats\":[{") + "]"},
      {"period reversed", Replace(json, "\"period_end_ms\":1700000060000", "\"period_end_ms\":1")},
      {"negative state", Replace(json, "\"buffer_depth\":120", "\"buffer_depth\":-5")},
      {"strategy twice", Replace(json, "\"periodic\":7", "\"adaptive\":7")},
      {"too many rows", many_rows},
      {"bad content type", json, "text/plain"},
      {"bad encoding", json, "application/json", "gzip"},
      {"zstd garbage", "not zstd at all", "application/json", "zstd"},
      {"zstd truncated", Zstd(json).substr(0, 20), "application/json", "zstd"},
      {"zstd bomb", Zstd(std::string(kMaxDecodedBytes + 10, ' ')), "application/json", "zstd"},
      {"columnar empty", "", ct},
      {"columnar bad magic", "EFS2" + col.substr(4), ct},
      {"columnar unknown flag", col.substr(0, 4) + "\x80" + col.substr(5), ct},
      {"columnar truncated", col.substr(0, col.size() / 2), ct},
      {"columnar trailing bytes", col + "x", ct},
      {"columnar json", json, ct},
  };
  // Every prefix of a columnar body is refused (not only the half).
  for (std::size_t cut = 0; cut < col.size(); cut += 7) {
    cases.push_back({"columnar prefix", col.substr(0, cut), ct});
  }
  // A columnar body claiming 10,000 rows in a few bytes.
  {
    SyncMessage e;
    e.device_id = "a";
    std::string c = Col(e);  // magic, flags, id, 0, 0, 0
    c.resize(c.size() - 3);
    c += "\x90\x4e";  // 10000
    cases.push_back({"columnar row count beyond body", c, ct});
    c = c.substr(0, c.size() - 2) + "\x91\x4e";  // 10001
    cases.push_back({"columnar row count beyond limit", c, ct});
  }
  for (const BadBody& c : cases) {
    auto r = DecodeSyncMessage(c.body, c.content_type, c.encoding);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_TRUE(r.error().code() == ErrorCode::kInvalidArgument ||
                r.error().code() == ErrorCode::kResourceExhausted)
        << c.name << ": " << r.error().ToString();
    EXPECT_FALSE(r.error().message().empty()) << c.name;
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << c.name;
  }
}

TEST(SyncCodecTest, EncodeRefusesWhatTheDecoderWouldRefuse) {
  SyncMessage m = Sample(2);
  m.batch.hard_samples[0].window.pop_back();
  EXPECT_EQ(EncodeSyncMessage(m, SyncFormat::kColumnar, true).error().code(), ErrorCode::kInvalidArgument);
  m = Sample(2);
  m.batch.inferences[0].confidence = std::nan("");
  EXPECT_FALSE(EncodeSyncMessage(m, SyncFormat::kJson, false).ok());
  m = Sample(2);
  m.device_id.clear();
  EXPECT_FALSE(EncodeSyncMessage(m, SyncFormat::kJson, false).ok());
}

TEST(SyncCodecTest, RandomBitFlipsNeverCrash) {
  const SyncMessage m = Sample(50);
  std::mt19937 rng(1);
  for (const SyncFormat f : {SyncFormat::kJson, SyncFormat::kColumnar}) {
    for (const bool zstd : {false, true}) {
      const std::string body = EncodeSyncMessage(m, f, zstd).value();
      for (int i = 0; i < 300; ++i) {
        std::string b = body;
        const std::size_t at = rng() % b.size();
        b[at] = static_cast<char>(b[at] ^ (1 << (rng() % 8)));
        auto r = DecodeSyncMessage(b, ContentType(f), zstd ? "zstd" : "");
        if (r.ok()) {
          EXPECT_TRUE(ValidateSyncMessage(r.value()).ok());
        }
      }
    }
  }
}

}  // namespace
}  // namespace edgefleet::sync_codec
