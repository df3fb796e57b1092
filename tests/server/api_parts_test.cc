// The API's parts on their own: Range decisions, entity tags, version
// comparison, the config file, the /classify parser, the background writer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sqlite3.h>
#include <thread>

#include "common/crypto.h"
#include "server/api/auth.h"
#include "server/api/background_writer.h"
#include "server/api/classify.h"
#include "server/api/config.h"
#include "server/api/model_json.h"
#include "server/api/range.h"
#include "server/clock.h"
#include "server/store/store.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::server::api {
namespace {

using Kind = RangeDecision::Kind;

TEST(Range, DecidesEachFormAsDocumented) {
  struct Case {
    std::optional<std::string_view> header;
    Kind kind;
    std::uint64_t first, length;
  };
  const Case cases[] = {
      {std::nullopt, Kind::kWhole, 0, 0},
      {"bytes=0-99", Kind::kPartial, 0, 100},
      {"bytes=100-", Kind::kPartial, 100, 900},
      {"bytes=-100", Kind::kPartial, 900, 100},
      {"bytes=-5000", Kind::kPartial, 0, 1000},
      {"bytes=990-5000", Kind::kPartial, 990, 10},
      {"bytes=999-999", Kind::kPartial, 999, 1},
      {"Bytes = 10-19 ", Kind::kPartial, 10, 10},
      {"items=0-5", Kind::kWhole, 0, 0},
      {"bytes=1000-", Kind::kUnsatisfiable, 0, 0},
      {"bytes=-0", Kind::kUnsatisfiable, 0, 0},
      {"bytes=5-2", Kind::kUnsatisfiable, 0, 0},
      {"bytes=0-1,1-2", Kind::kUnsatisfiable, 0, 0},
      {"bytes=0-10,20-30", Kind::kUnsatisfiable, 0, 0},
      {"bytes=", Kind::kUnsatisfiable, 0, 0},
      {"bytes=abc", Kind::kUnsatisfiable, 0, 0},
      {"bytes=x-", Kind::kUnsatisfiable, 0, 0},
      {"bytes=--5", Kind::kUnsatisfiable, 0, 0},
      {"bytes=+5-", Kind::kUnsatisfiable, 0, 0},
      {"bytes=99999999999999999999-", Kind::kUnsatisfiable, 0, 0},
      {"garbage", Kind::kUnsatisfiable, 0, 0},
  };
  for (const Case& c : cases) {
    const RangeDecision d = DecideRange(c.header, 1000);
    EXPECT_EQ(d.kind, c.kind) << c.header.value_or("(none)");
    if (c.kind == Kind::kPartial) {
      EXPECT_EQ(d.first, c.first) << *c.header;
      EXPECT_EQ(d.length, c.length) << *c.header;
    }
    if (c.kind == Kind::kUnsatisfiable) {
      EXPECT_FALSE(d.reason.empty());
    }
  }
}

TEST(Range, IfNoneMatchComparesWeakly) {
  EXPECT_TRUE(IfNoneMatchMatches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(IfNoneMatchMatches("W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(IfNoneMatchMatches("\"x\", \"abc\"", "\"abc\""));
  EXPECT_TRUE(IfNoneMatchMatches("*", "\"abc\""));
  EXPECT_FALSE(IfNoneMatchMatches("\"abd\"", "\"abc\""));
  EXPECT_FALSE(IfNoneMatchMatches("abc", "\"abc\""));
  EXPECT_FALSE(IfNoneMatchMatches("", "\"abc\""));
}

TEST(Versions, CompareNumericallyPartByPart) {
  EXPECT_LT(CompareVersions("1.2.0", "1.10.0"), 0);
  EXPECT_EQ(CompareVersions("1.2", "1.2.0"), 0);
  EXPECT_GT(CompareVersions("2.0", "1.99.99"), 0);
  EXPECT_LT(CompareVersions("1.0.0-rc1", "1.0.0-rc2"), 0);
  EXPECT_EQ(CompareVersions("", ""), 0);
  EXPECT_TRUE(IsFirmwareVersion("1.2.3+build_7"));
  EXPECT_FALSE(IsFirmwareVersion("1.2 3"));
  EXPECT_FALSE(IsFirmwareVersion(""));
}

// ---- config --------------------------------------------------------------------------

TEST(Config, DefaultsDeriveFromTheDataDir) {
  ServerConfig c;
  EXPECT_FALSE(c.Resolve().ok());  // no data dir
  c.data_dir = "/srv/ef";
  ASSERT_TRUE(c.Resolve().ok());
  EXPECT_EQ(c.port, 8000);
  EXPECT_EQ(c.db, "sqlite:/srv/ef/edgefleet.db");
  EXPECT_EQ(c.cloud_model, "/srv/ef/cloud.efcm");
  EXPECT_EQ(c.log_path, "/srv/ef/escalations/escalations.jsonl");
}

TEST(Config, TheFileOverridesAndTyposAreErrors) {
  ServerConfig c;
  ASSERT_TRUE(LoadConfigText(R"(
[server]
data_dir = "/var/lib/edgefleet"
port = 9000
public_url = "https://fleet.example.com/"
[escalations]
batch_max = 50
log_fsync = false
writer_nice = 0
[log]
format = "json"
)",
                             "t.toml", c)
                  .ok());
  ASSERT_TRUE(c.Resolve().ok());
  EXPECT_EQ(c.port, 9000);
  EXPECT_EQ(c.batch_max, 50u);
  EXPECT_FALSE(c.log_fsync);
  EXPECT_EQ(c.writer_nice, 0);
  EXPECT_EQ(ServerConfig{}.writer_nice, -5);
  EXPECT_EQ(c.public_url, "https://fleet.example.com");
  EXPECT_EQ(c.log_format, "json");

  const char* bad[] = {
      "[server]\nprot = 1\n",            // unknown key
      "[srever]\nport = 1\n",            // unknown section
      "[server]\nport = \"80\"\n",       // wrong type
      "[server]\nport = 70000\n",        // out of range
      "[escalations]\nwriter_nice = -21\n",  // out of range
      "port = 1\n",                      // not in a section
      "[server\nport = 1\n",             // not TOML
      "[escalations]\nbatch_max = 0\n",  // out of range
  };
  for (const char* text : bad) {
    ServerConfig x;
    auto r = LoadConfigText(text, "bad.toml", x);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code(), common::ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find("bad.toml"), std::string::npos) << r.error().message();
  }
  ServerConfig x;
  x.data_dir = "/d";
  x.log_level = "loud";
  EXPECT_FALSE(x.Resolve().ok());
}

// ---- the /classify parser --------------------------------------------------------------

std::string Features(std::size_t n, const std::string& value = "0.5") {
  std::string out = "[";
  for (std::size_t i = 0; i < n; ++i) out += (i ? "," : "") + value;
  return out + "]";
}

std::string Body(const std::string& features, const std::string& extra = "") {
  return R"({"device_id":"fan-1","features":)" + features + R"(,"edge_mse":0.02)" + extra + "}";
}

TEST(ClassifyParser, AcceptsTheSeedsBodyAndIgnoresUnknownKeys) {
  http::Response bad;
  auto r = ParseClassifyRequest(Body(Features(300, "1"), R"(,"model_version":3,"extra":{"a":[1,2]})"), &bad);
  ASSERT_TRUE(r.has_value()) << bad.body;
  EXPECT_EQ(r->device_id, "fan-1");
  EXPECT_EQ(r->model_version, 3);
  EXPECT_DOUBLE_EQ(r->edge_mse, 0.02);
  EXPECT_EQ(r->features[299], 1.0f);
  r = ParseClassifyRequest(Body(Features(300), R"(,"model_version":"7")"), &bad);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->model_version, 7);
}

TEST(ClassifyParser, FindsTheFeaturesArrayTextForTheLog) {
  std::string numbers;
  for (int i = 0; i < 300; ++i) numbers += (i ? ",\r\n  " : "") + std::to_string(i) + (i % 7 == 0 ? "e-3" : ".5");
  // A decoy: "features" as a value, as a nested key and inside another string.
  const std::string body = "{\"note\": \"features\", \"x\": {\"features\": [1]}, \"s\": \"\\\"features\\\": [2]\",\n"
                           " \"device_id\": \"fan-0001\", \"features\" :\t[ " + numbers + " ], \"edge_mse\": 0.5}";
  http::Response bad;
  const auto parsed = ParseClassifyRequest(body, &bad);
  ASSERT_TRUE(parsed.has_value()) << bad.body;
  EXPECT_EQ(parsed->features_text, "[ " + numbers + " ]");  // as sent; the log removes the line breaks
  EXPECT_EQ(parsed->features[1], 1.5f);
  EXPECT_TRUE(nlohmann::json::accept(parsed->features_text));
  // The key spelt with an escape is the same key to JSON; the log then formats the floats.
  std::string escaped = body;
  escaped.replace(escaped.find("\"features\" :"), 10, "\"feat\\u0075res\"");
  const auto parsed2 = ParseClassifyRequest(escaped, &bad);
  ASSERT_TRUE(parsed2.has_value()) << bad.body;
  EXPECT_EQ(parsed2->features_text, "");
  EXPECT_EQ(parsed2->features, parsed->features);
}

TEST(ClassifyParser, RefusesEachMalformedBody) {
  const std::pair<std::string, std::string> cases[] = {
      {Body(Features(299)), "not 299"},
      {Body(Features(301)), "not 301"},
      {Body(Features(0)), "not 0"},
      {Body(Features(300, "NaN")), "not valid JSON"},
      {Body(Features(300, "Infinity")), "not valid JSON"},
      {Body(Features(300, "1e999")), "number"},
      {Body(Features(300, "1e7")), "features[0]"},
      {Body(Features(300, "\"1\"")), "features[0]"},
      {Body(Features(300, "null")), "features[0]"},
      {Body("\"abc\""), "array"},
      {R"({"device_id":"fan-1","edge_mse":0.1})", "features is missing"},
      {R"({"features":)" + Features(300) + R"(,"edge_mse":1})", "device_id is missing"},
      {Body(Features(300), R"(,"device_id":"x")"), "twice"},
      {R"({"device_id":"../etc","features":[],"edge_mse":1})", "device_id"},
      {R"({"device_id":7,"features":[],"edge_mse":1})", "device_id"},
      {R"({"device_id":"fan-1","features":)" + Features(300) + R"(,"edge_mse":-1})", "edge_mse"},
      {R"({"device_id":"fan-1","features":)" + Features(300) + R"(,"edge_mse":"0.1"})", "edge_mse"},
      {R"({"device_id":"fan-1","features":)" + Features(300) + "}", "edge_mse is missing"},
      {Body(Features(300), R"(,"model_version":1.5)"), "model_version"},
      {Body(Features(300), R"(,"model_version":-2)"), "model_version"},
      {Body(Features(300)) + "x", "not valid JSON"},
      {"", "not valid JSON"},
      {"[1,2]", "object"},
  };
  for (const auto& [body, expected] : cases) {
    http::Response bad;
    EXPECT_FALSE(ParseClassifyRequest(body, &bad).has_value()) << body.substr(0, 80);
    EXPECT_EQ(bad.status, 400u) << body.substr(0, 80);
    EXPECT_NE(bad.body.find(expected), std::string::npos) << bad.body;
  }
  http::Response bad;
  EXPECT_FALSE(ParseClassifyRequest(std::string(kMaxClassifyBodyBytes + 1, ' '), &bad).has_value());
  EXPECT_EQ(bad.status, 413u);
}

// The On-Demand fast path decides only bodies the DOM parser accepts, and
// reads them the same; everything else it leaves to the DOM parser.
bool SameRequest(const ClassifyRequest& a, const ClassifyRequest& b) {
  return a.device_id == b.device_id && a.features == b.features && a.edge_mse == b.edge_mse &&
         a.model_version == b.model_version && a.features_text == b.features_text;
}

// The fast path's answer for `body` agrees with the DOM parser's; returns
// whether the fast path decided it.
bool FastPathAgrees(const std::string& body) {
  const auto fast = ParseClassifyRequestOnDemand(body);
  http::Response bad;
  const auto dom = ParseClassifyRequestDom(body, &bad);
  if (!fast) return false;
  EXPECT_TRUE(dom.has_value()) << "the fast path accepted what the DOM parser refuses: " << body.substr(0, 120)
                               << " / " << bad.body;
  if (dom) {
    EXPECT_TRUE(SameRequest(*fast, *dom)) << body.substr(0, 120);
  }
  return true;
}

TEST(ClassifyParser, TheFastPathDecidesOnlyWhatTheDomParserAccepts) {
  std::string numbers;
  for (int i = 0; i < 300; ++i) numbers += (i ? ", " : "") + std::to_string(i - 150) + (i % 3 ? ".25" : "e-2");
  const std::string plain = R"({"device_id":"fan-1","features":[)" + numbers + R"(],"edge_mse":0.02,"model_version":4})";
  // Decided by the fast path: the seeds' shapes (keys spelt with escapes too).
  for (const std::string& body :
       {plain, Body(Features(300)), Body(Features(300, "-7"), R"(,"model_version":"12")"),
        " \n{ \"edge_mse\" : 1e-3 ,\r\n\"features\":\t" + Features(300, "1E2") + R"(, "device_id": "a:b.c_d-e" } )" "\n",
        Body(Features(300, "-0"), R"(,"model_version":0)"), Body(Features(300, "1000000")),
        R"({"device_\u0069d":"fan-1","feat\u0075res":)" + Features(300) + R"(,"edge_mse":0.02})"}) {
    EXPECT_TRUE(FastPathAgrees(body)) << "not decided by the fast path: " << body.substr(0, 120);
  }
  // Left to the DOM parser: every malformed body, unknown or repeated keys,
  // numbers the DOM parser may read differently.
  const std::string left[] = {
      Body(Features(300), R"(,"extra":1)"),
      Body(Features(300), R"(,"device_id":"x")"),
      Body(Features(300), R"(,"edge_mse":0.5)"),
      R"({"device_id":"fan-1","features":)" + Features(300) + R"(,"edge_mse":100000000000000000000})",
      R"({"device_id":"fan-1","features":)" + Features(300) + R"(,"edge_mse":1e30})",
      Body(Features(300, "10000000")),
      Body(Features(300, "1e999")),
      Body(Features(300, "0.0155555555555555555555555555555555555555555")),
      R"({"device_id":"fan-1","features":)" + Features(300) + R"(,"edge_mse":0.0155555555555555555555555})",
      Body(Features(299)),
      Body(Features(301)),
      Body(Features(300)) + "x",
      Body(Features(300)) + "{}",
      Body("[" + std::string(Features(300)).substr(1, Features(300).size() - 2) + ",]"),
      R"({"device_id":"fan-1" "features":)" + Features(300) + R"(,"edge_mse":0.02})",
      R"({"device_id":"fan-1","features":)" + Features(300) + R"(,"edge_mse":0.02)",
      R"({"device_id":"fan-)" "\x01" R"(","features":)" + Features(300) + R"(,"edge_mse":0.02})",
      R"({"device_id":"f)" "\xc3\x28" R"(","features":)" + Features(300) + R"(,"edge_mse":0.02})",
      Body(Features(300), R"(,"model_version":9223372036854775808)"),
      Body(Features(300), R"(,"model_version":1.0)"),
      Body(Features(300, "01")),
      Body(Features(300, "1.")),
      Body(Features(300, "tru")),
      "",
      "[]",
  };
  for (const std::string& body : left) {
    EXPECT_FALSE(ParseClassifyRequestOnDemand(body).has_value()) << body.substr(0, 120);
  }
  // Bodies a byte or three away from valid ones: whatever the fast path
  // accepts, the DOM parser accepts the same.
  std::mt19937 rng(20261207);
  const std::string alphabet = "{}[],:\" \\0123456789.-+eE_aflnrstu\x01\xff";
  int decided = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string body = i % 2 ? plain : Body(Features(300, "0.125"), R"(,"model_version":"3")");
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % body.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0: body[at] = c; break;
        case 1: body.insert(body.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        default: body.erase(at, 1); break;
      }
    }
    decided += FastPathAgrees(body) ? 1 : 0;
  }
  EXPECT_GT(decided, 1000) << "the mutations never left a body the fast path decides";
}

// ---- the authenticator ------------------------------------------------------------------

// The per-thread cache answers only for the Authenticator that filled it: a
// token one server accepted is still unknown to another in the same thread,
// and each keeps a device's token to its device.
bool Refused(const common::Expected<Principal>& p) {
  return !p.ok() && p.error().code() == common::ErrorCode::kUnauthenticated;
}

TEST(Authenticator, ThePerThreadCacheBelongsToOneAuthenticator) {
  TempDir dir;
  ManualClock clock{1'700'000'000'000};
  ApiMetrics metrics;
  auto a_store = store::OpenStore("sqlite:" + (dir.path() / "a.db").string()).value();
  auto b_store = store::OpenStore("sqlite:" + (dir.path() / "b.db").string()).value();
  ASSERT_TRUE(a_store->AddDevice("dev-a", common::Sha256Hex("token-a").value(), 1).ok());
  ASSERT_TRUE(b_store->AddDevice("dev-b", common::Sha256Hex("token-b").value(), 1).ok());
  Authenticator a(*a_store, clock, 60'000, metrics);
  Authenticator b(*b_store, clock, 60'000, metrics);
  for (int round = 0; round < 3; ++round) {  // the later rounds answer from the caches
    auto pa = a.Authenticate("token-a", "dev-a");
    ASSERT_TRUE(pa.ok());
    EXPECT_EQ(pa.value().device_id, "dev-a");
    EXPECT_TRUE(Refused(b.Authenticate("token-a", "dev-a")));
    EXPECT_TRUE(Refused(b.Authenticate("token-a", "")));
    auto pb = b.Authenticate("token-b", "");
    ASSERT_TRUE(pb.ok());
    EXPECT_EQ(pb.value().device_id, "dev-b");
    EXPECT_TRUE(Refused(a.Authenticate("token-b", "dev-b")));
    EXPECT_TRUE(Refused(a.Authenticate("token-a2", "dev-a")));
    EXPECT_TRUE(Refused(a.Authenticate("token-", "dev-a")));
    clock.Advance(120'000);  // lets the next miss reload the device list
  }
  // Another thread has its own cache and gets the same answers.
  std::thread other([&] {
    auto p = a.Authenticate("token-a", "");
    EXPECT_TRUE(p.ok() && p.value().device_id == "dev-a");
    EXPECT_FALSE(b.Authenticate("token-a", "").ok());
  });
  other.join();
}

// ---- the background writer --------------------------------------------------------------

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = store::OpenStore("sqlite:" + (dir_.path() / "db").string()).value();
    ASSERT_TRUE(store_->AddDevice("dev-1", std::string(64, 'a'), 1).ok());
    options_.log_path = (dir_.path() / "esc" / "escalations.jsonl").string();
    options_.batch_interval_ms = 1;
  }

  store::Escalation Row(const std::string& device = "dev-1") {
    store::Escalation e;
    e.device_id = device;
    e.received_ms = clock_.NowMs();
    e.features.assign(300, 0.25f);
    e.edge_mse = 0.1;
    e.cloud_mse = 0.2;
    e.label = 1;
    e.confidence = 0.9;
    return e;
  }

  std::vector<std::string> LogFiles() {
    std::vector<std::string> out;
    for (const auto& f : std::filesystem::directory_iterator(dir_.path() / "esc")) {
      out.push_back(f.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_;
  ManualClock clock_{1'700'000'000'000};
  ApiMetrics metrics_;
  WriterOptions options_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(WriterTest, StopDrainsEverythingQueued) {
  options_.batch_interval_ms = 60'000;  // only Stop writes
  auto writer = BackgroundWriter::Start(*store_, clock_, options_, metrics_).value();
  for (int i = 0; i < 250; ++i) ASSERT_TRUE(writer->Enqueue(Row()));
  writer->Stop();
  EXPECT_FALSE(writer->Enqueue(Row()));
  EXPECT_EQ(store_->CountEscalations({}).value(), 250);
  EXPECT_EQ(metrics_.escalations_stored.load(), 250u);
  std::ifstream log(options_.log_path);
  std::size_t lines = 0;
  for (std::string line; std::getline(log, line);) {
    ASSERT_TRUE(nlohmann::json::accept(line)) << line;
    ++lines;
  }
  EXPECT_EQ(lines, 250u);
}

TEST_F(WriterTest, TheLogLineCarriesTheStoresIdAndEveryFieldExactly) {
  // Lines are formatted by Enqueue's caller and prefixed with the id by the
  // writer: each must still be one whole JSON object naming its own row.
  options_.batch_max = 7;
  auto writer = BackgroundWriter::Start(*store_, clock_, options_, metrics_).value();
  std::vector<store::Escalation> sent;
  for (int i = 0; i < 20; ++i) {
    store::Escalation e = Row(i == 5 ? "ghost" : "dev-1");
    for (std::size_t k = 0; k < e.features.size(); ++k) {
      e.features[k] = static_cast<float>(i) * 0.1f - static_cast<float>(k) / 7.0f + 1e-7f;
    }
    e.label = i % 2;
    e.edge_mse = 0.5 + i;
    clock_.Advance(3);
    e.received_ms = clock_.NowMs();
    sent.push_back(e);
    ASSERT_TRUE(writer->Enqueue(std::move(e)));
  }
  writer->Stop();
  const auto stored = store_->ListEscalations({}, 100).value();
  ASSERT_EQ(stored.size(), 19u);
  std::ifstream log(options_.log_path);
  std::size_t n = 0;
  for (std::string line; std::getline(log, line); ++n) {
    ASSERT_LT(n, stored.size());
    const auto j = nlohmann::json::parse(line);
    const store::Escalation& row = stored[n];
    const store::Escalation& in = sent[n < 5 ? n : n + 1];  // "ghost" was refused
    EXPECT_EQ(j.at("id").get<std::int64_t>(), row.id);
    EXPECT_EQ(j.at("received_ms").get<std::int64_t>(), in.received_ms);
    EXPECT_EQ(j.at("device_id").get<std::string>(), "dev-1");
    EXPECT_EQ(j.at("label").get<int>(), in.label);
    EXPECT_EQ(j.at("classification").get<std::string>(), in.label ? "anomaly" : "normal");
    EXPECT_EQ(j.at("edge_mse").get<double>(), in.edge_mse);
    const auto features = j.at("features").get<std::vector<float>>();
    EXPECT_EQ(features, in.features);
    EXPECT_EQ(row.features, in.features);
  }
  EXPECT_EQ(n, 19u);
}

TEST_F(WriterTest, TheLogCopiesTheRequestsFeaturesText) {
  auto writer = BackgroundWriter::Start(*store_, clock_, options_, metrics_).value();
  std::string text = "[1e-3";
  for (int i = 1; i < 300; ++i) text += ",0.25";
  text += "]";
  ASSERT_TRUE(writer->Enqueue(Row(), text));
  // Text with line breaks (whitespace to JSON): the log line stays one line.
  std::string spread = text;
  for (std::size_t at = spread.find(','); at != std::string::npos; at = spread.find(',', at + 4)) {
    spread.insert(at + 1, "\r\n ");
  }
  ASSERT_TRUE(writer->Enqueue(Row(), spread));
  writer->Stop();
  std::ifstream log(options_.log_path);
  std::string line;
  ASSERT_TRUE(std::getline(log, line));
  EXPECT_NE(line.find("\"features\":" + text + "}"), std::string::npos) << line;
  EXPECT_EQ(nlohmann::json::parse(line).at("features").size(), 300u);
  std::string one_line = spread;
  std::erase_if(one_line, [](char c) { return c == '\r' || c == '\n'; });
  ASSERT_TRUE(std::getline(log, line));
  EXPECT_NE(line.find("\"features\":" + one_line + "}"), std::string::npos) << line.substr(0, 200);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_EQ(nlohmann::json::parse(line).at("features").size(), 300u);
  EXPECT_FALSE(std::getline(log, line)) << "a third line: " << line.substr(0, 200);
}

TEST_F(WriterTest, BatchesRowsAndDropsOnlyTheRowsTheStoreRefuses) {
  options_.batch_max = 10;
  options_.batch_interval_ms = 60'000;
  auto writer = BackgroundWriter::Start(*store_, clock_, options_, metrics_).value();
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(writer->Enqueue(Row(i == 3 ? "ghost" : "dev-1")));
  writer->Flush();
  EXPECT_EQ(store_->CountEscalations({}).value(), 24);
  EXPECT_EQ(metrics_.escalations_dropped.load(), 1u);
  EXPECT_GE(metrics_.escalation_batches.load(), 3u);
  EXPECT_EQ(writer->depth(), 0u);
}

TEST_F(WriterTest, UnderABacklogBatchesGrowToFourTimesBatchMax) {
  // Another process holds the database's write lock: the writer's first
  // batch waits in the busy handler while 100 more rows queue up. Once the
  // lock is gone the backlog drains in batches of up to 4 x 10 rows.
  options_.batch_max = 10;
  options_.batch_interval_ms = 60'000;  // batches start full (or on Flush)
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open((dir_.path() / "db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto writer = BackgroundWriter::Start(*store_, clock_, options_, metrics_).value();
  for (int i = 0; i < 110; ++i) ASSERT_TRUE(writer->Enqueue(Row()));
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  writer->Flush();
  EXPECT_EQ(store_->CountEscalations({}).value(), 110);
  // 10 (stuck), then 40, 40 and two of 10 once the queue is short again:
  // 5; one row a batch at batch_max would be 11.
  EXPECT_LE(metrics_.escalation_batches.load(), 6u);
  EXPECT_GE(metrics_.escalation_batches.load(), 3u);
}

TEST_F(WriterTest, AFullQueueRefusesRows) {
  options_.queue_capacity = 5;
  options_.batch_interval_ms = 60'000;
  options_.batch_max = 100;
  auto writer = BackgroundWriter::Start(*store_, clock_, options_, metrics_).value();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(writer->Enqueue(Row()));
  EXPECT_FALSE(writer->Enqueue(Row()));
  writer->Flush();
  EXPECT_TRUE(writer->Enqueue(Row()));
}

TEST_F(WriterTest, RotatesTheLogBeforeItGrowsPastTheLimit) {
  options_.log_rotate_bytes = 3 * 1024;  // one line a file (a line is about 1.8 KB)
  auto writer = BackgroundWriter::Start(*store_, clock_, options_, metrics_).value();
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(writer->Enqueue(Row()));
    writer->Flush();
    clock_.Advance(1);
  }
  writer->Stop();
  const auto files = LogFiles();
  ASSERT_GE(files.size(), 3u);
  EXPECT_EQ(files.back(), "escalations.jsonl");
  EXPECT_EQ(files.front().rfind("escalations-2023", 0), 0u) << files.front();
  std::size_t lines = 0;
  for (const std::string& f : files) {
    EXPECT_LE(std::filesystem::file_size(dir_.path() / "esc" / f), options_.log_rotate_bytes);
    std::ifstream in(dir_.path() / "esc" / f);
    for (std::string line; std::getline(in, line);) ++lines;
  }
  EXPECT_EQ(lines, 6u);
  EXPECT_EQ(metrics_.escalation_log_rotations.load(), files.size() - 1);
}

TEST_F(WriterTest, EveryLineIsWholeWhileTheLogRotatesUnderConcurrentEnqueues) {
  // Handlers format lines while the writer rotates (its file descriptor is
  // closed for a moment): no line may lose its fields.
  options_.log_rotate_bytes = 8 * 1024;
  options_.batch_max = 3;
  auto writer = BackgroundWriter::Start(*store_, clock_, options_, metrics_).value();
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t) {
    producers.emplace_back([&] {
      for (int i = 0; i < 150; ++i) ASSERT_TRUE(writer->Enqueue(Row()));
    });
  }
  for (auto& p : producers) p.join();
  writer->Stop();
  std::size_t lines = 0;
  for (const std::string& f : LogFiles()) {
    std::ifstream in(dir_.path() / "esc" / f);
    for (std::string line; std::getline(in, line); ++lines) {
      ASSERT_TRUE(nlohmann::json::accept(line)) << f << ": " << line.substr(0, 120);
      EXPECT_EQ(nlohmann::json::parse(line).at("features").size(), 300u);
    }
  }
  EXPECT_EQ(lines, 300u);
  EXPECT_GT(metrics_.escalation_log_rotations.load(), 10u);
}

TEST_F(WriterTest, MergesDeviceReportsPerDevice) {
  auto writer = BackgroundWriter::Start(*store_, clock_, options_, metrics_).value();
  store::DeviceReport a;
  a.seen_ms = 50;
  a.ram_mb = 256;
  store::DeviceReport b;
  b.seen_ms = 40;
  b.firmware_version = "1.2.0";
  writer->NoteReport("dev-1", a);
  writer->NoteReport("dev-1", b);
  writer->Flush();
  const store::Device d = store_->GetDevice("dev-1").value();
  EXPECT_EQ(d.last_seen_ms, 50);
  EXPECT_EQ(d.ram_mb, 256);
  EXPECT_EQ(d.firmware_version, "1.2.0");
}

}  // namespace
}  // namespace edgefleet::server::api
