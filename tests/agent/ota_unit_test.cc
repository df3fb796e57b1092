// The OTA engine's parts on their own: the state table, the persisted
// record, the built-in model and artifact edits, validation on the golden
// windows, the health judgement, the report queue, the downloader's checks
// of server answers, and the POSIX filesystem.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "agent/ota/downloader.h"
#include "agent/ota/health.h"
#include "agent/ota/platform/posix_filesystem.h"
#include "agent/ota/validation.h"
#include "ota_harness.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::ota::testing {
namespace {

constexpr State kAllStates[] = {State::kIdle,       State::kChecking,    State::kDownloading, State::kVerifying,
                                State::kValidating, State::kApplying,    State::kActivating,  State::kHealthCheck,
                                State::kCommitted,  State::kRollingBack, State::kRolledBack,  State::kFailed};

TEST(OtaState, NamesAreUniqueAndRoundTrip) {
  std::set<std::string> names;
  for (const State s : kAllStates) {
    EXPECT_TRUE(names.insert(ToString(s)).second);
    EXPECT_EQ(StateFromString(ToString(s)), s);
  }
  std::set<std::string> events;
  for (int e = 0; e < kEventCount; ++e) EXPECT_TRUE(events.insert(ToString(static_cast<Event>(e))).second);
  EXPECT_FALSE(StateFromString("bogus").has_value());
}

TEST(OtaState, EveryStateCanEndAndEveryEndIsReported) {
  for (const State s : kAllStates) {
    // From every state some path of events reaches a terminal state.
    std::set<State> seen{s};
    std::vector<State> frontier{s};
    bool reaches_terminal = IsTerminal(s);
    while (!frontier.empty() && !reaches_terminal) {
      const State at = frontier.back();
      frontier.pop_back();
      for (int e = 0; e < kEventCount; ++e) {
        const auto to = Next(at, static_cast<Event>(e));
        if (to && seen.insert(*to).second) {
          reaches_terminal = reaches_terminal || IsTerminal(*to);
          frontier.push_back(*to);
        }
      }
    }
    EXPECT_TRUE(reaches_terminal || s == State::kIdle || s == State::kChecking) << ToString(s);
    // The loop limit ends every attempt in progress.
    if (!IsTerminal(s) && s != State::kIdle) {
      EXPECT_EQ(Next(s, Event::kLoopLimit), State::kFailed) << ToString(s);
    }
  }
  EXPECT_STREQ(ServerStatus(State::kCommitted), "active");
  EXPECT_STREQ(ServerStatus(State::kRolledBack), "rolled_back");
  EXPECT_STREQ(ServerStatus(State::kFailed), "failed");
  EXPECT_EQ(ServerStatus(State::kChecking), nullptr);
}

TEST(OtaState, AfterTheSwapFailuresRollBackBeforeItTheyFail) {
  for (const State s : {State::kApplying, State::kActivating, State::kHealthCheck}) {
    EXPECT_EQ(Next(s, Event::kFail), State::kRollingBack) << ToString(s);
    EXPECT_TRUE(IsAfterSwap(s));
  }
  for (const State s : {State::kDownloading, State::kVerifying, State::kValidating}) {
    EXPECT_EQ(Next(s, Event::kFail), State::kFailed) << ToString(s);
    EXPECT_EQ(Next(s, Event::kCrashed), s) << ToString(s);  // resumes
    EXPECT_FALSE(IsAfterSwap(s));
  }
  EXPECT_EQ(Next(State::kHealthCheck, Event::kCrashed), State::kRollingBack);
  EXPECT_EQ(Next(State::kActivating, Event::kCrashed), State::kRollingBack);
  EXPECT_FALSE(Next(State::kIdle, Event::kHealthy).has_value());
  EXPECT_FALSE(Next(State::kCommitted, Event::kFail).has_value());
}

TEST(OtaRecord, RoundTripsAndRefusesWhatItCannotRead) {
  Record r;
  r.state = State::kHealthCheck;
  r.attempt = 4;
  r.kind = UpdateKind::kThresholds;
  r.target_version = 9;
  r.target_sha256 = std::string(64, 'a');
  r.downloaded = 12345;
  r.previous = {ModelSource::kBackup, 8, std::string(64, 'b')};
  r.baseline_latency_ms = 1.5;
  r.refused = {"x", "thr:y"};
  r.reports.Push({0, "applying", "health_check", 8, 9, "", 77});
  const auto parsed = ParseRecord(SerializeRecord(r));
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(SerializeRecord(parsed.value()), SerializeRecord(r));
  EXPECT_EQ(parsed.value().reports.pending().size(), 1u);
  EXPECT_EQ(parsed.value().reports.pending().front().seq, 1u);
  EXPECT_EQ(ParseRecord("{").error().code(), common::ErrorCode::kCorrupt);
  EXPECT_EQ(ParseRecord("[]").error().code(), common::ErrorCode::kCorrupt);
  auto newer = nlohmann::json::parse(SerializeRecord(r));
  newer["schema"] = kRecordSchema + 1;
  EXPECT_EQ(ParseRecord(newer.dump()).error().code(), common::ErrorCode::kCorrupt);
  newer["schema"] = kRecordSchema;
  newer["state"] = "dancing";
  EXPECT_EQ(ParseRecord(newer.dump()).error().code(), common::ErrorCode::kCorrupt);
  // Numbers that do not fit their field are refused, not cast (a float read
  // as an integer is undefined behaviour; ota_state_fuzz found 6.7e19).
  auto odd = nlohmann::json::parse(SerializeRecord(r));
  odd["attempt"] = 6.66667e19;
  EXPECT_EQ(ParseRecord(odd.dump()).error().code(), common::ErrorCode::kCorrupt);
  odd["attempt"] = 2.5;
  EXPECT_EQ(ParseRecord(odd.dump()).error().code(), common::ErrorCode::kCorrupt);
  odd["attempt"] = 2;
  odd["retries"] = 1ll << 40;  // beyond its 32 bits
  EXPECT_EQ(ParseRecord(odd.dump()).error().code(), common::ErrorCode::kCorrupt);
  odd["retries"] = 0;
  EXPECT_TRUE(ParseRecord(odd.dump()).ok());
}

TEST(OtaModel, BuiltinModelIsTheShippedArtifactAndValid) {
  auto builtin = BuiltinModel();
  ASSERT_TRUE(builtin.ok()) << builtin.error().ToString();
  std::ifstream f(std::string(EDGEFLEET_SOURCE_DIR) + "/tests/data/golden/edge-seed1.efm", std::ios::binary);
  const std::string shipped((std::istreambuf_iterator<char>(f)), {});
  EXPECT_EQ(BuiltinModelBytes(), shipped);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(builtin.value()->bytes()) % 8, 0u);
  EXPECT_EQ(builtin.value()->source(), ModelSource::kBuiltin);
}

TEST(OtaModel, EditsKeepTheArtifactValidAndRefuseNonsense) {
  const auto v7 = WithVersion(BuiltinModelBytes(), 7);
  ASSERT_TRUE(v7.ok());
  EXPECT_EQ(Model::Load(v7.value(), ModelSource::kDisk).value()->version(), 7);
  core::Thresholds t = BuiltinModel().value()->view().thresholds;
  t.low *= 1.5f;
  t.high *= 1.5f;
  const auto edited = WithThresholds(BuiltinModelBytes(), t);
  ASSERT_TRUE(edited.ok());
  EXPECT_FLOAT_EQ(Model::Load(edited.value(), ModelSource::kDisk).value()->view().thresholds.high, t.high);
  t.low = t.high + 1;
  EXPECT_EQ(WithThresholds(BuiltinModelBytes(), t).error().code(), common::ErrorCode::kInvalidArgument);
  EXPECT_FALSE(Model::Load(std::string(BuiltinModelBytes()) + "x", ModelSource::kDisk).ok());  // trailing bytes
  EXPECT_FALSE(Model::Load(BuiltinModelBytes().substr(0, 100), ModelSource::kDisk).ok());
}

TEST(OtaValidation, GoldenWindowsAreRealAndTheShippedModelPassesWithMargin) {
  const auto& windows = BuiltinGoldenWindows();
  ASSERT_EQ(windows.size(), 35u);
  int normal = 0;
  for (const auto& w : windows) {
    ASSERT_EQ(w.values.size(), 300u);
    normal += w.label == core::Label::kNormal;
  }
  EXPECT_EQ(normal, 20);
  const auto report = Validate(*BuiltinModel().value(), windows, {});
  ASSERT_TRUE(report.ok()) << report.error().ToString();
  EXPECT_EQ(report.value().normal_flagged, 0u);
  EXPECT_EQ(report.value().anomaly_missed, 0u);
}

TEST(OtaValidation, ToleratesMovedThresholdsButNotABrokenModel) {
  // A retrained model's thresholds move; +-20% on both must still pass.
  for (const float factor : {0.8f, 1.25f}) {
    core::Thresholds t = BuiltinModel().value()->view().thresholds;
    t.low *= factor;
    t.high *= factor;
    const auto model = Model::Load(WithThresholds(BuiltinModelBytes(), t).value(), ModelSource::kDisk).value();
    EXPECT_TRUE(Validate(*model, BuiltinGoldenWindows(), {}).ok()) << factor;
  }
  core::Thresholds swapped = BuiltinModel().value()->view().thresholds;
  swapped.low = swapped.high = 1000.0f;  // calls everything normal: misses every imbalance
  const auto blind = Model::Load(WithThresholds(BuiltinModelBytes(), swapped).value(), ModelSource::kDisk).value();
  const auto report = Validate(*blind, BuiltinGoldenWindows(), {});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.error().message().find("anomalous golden windows decided normal"), std::string::npos);
}

TEST(OtaValidation, MalformedGoldenFilesAreRefused) {
  EXPECT_FALSE(ParseGoldenWindows("").ok());
  EXPECT_FALSE(ParseGoldenWindows("a,1,0,normal,1,2,3\n").ok());
  std::string line = "a,1,0,weird";
  for (int i = 0; i < 300; ++i) line += ",1";
  EXPECT_FALSE(ParseGoldenWindows(line).ok());
}

TEST(OtaHealth, JudgesEachCriterion) {
  HealthCriteria c;
  c.period_ms = 1000;
  c.grace_ms = 1000;
  HealthStats good{100, 0, 10, 100.0};
  EXPECT_EQ(Judge(good, 1.0, 0.1, 500, c).verdict, Verdict::kPending);
  EXPECT_EQ(Judge(good, 1.0, 0.1, 1000, c).verdict, Verdict::kHealthy);
  EXPECT_EQ(Judge(good, 0.8, 0.1, 1000, c).verdict, Verdict::kUnhealthy);   // 1.0 > 1.2 x 0.8
  EXPECT_EQ(Judge(good, 0.85, 0.1, 1000, c).verdict, Verdict::kHealthy);   // 1.0 <= 1.02
  EXPECT_EQ(Judge(good, 0.0, 0.0, 1000, c).verdict, Verdict::kHealthy);    // no baseline: latency not judged
  HealthStats errors{100, 6, 0, 94.0};
  EXPECT_EQ(Judge(errors, 1.0, 0.0, 10, c).verdict, Verdict::kUnhealthy);   // early
  HealthStats escalating{100, 0, 60, 100.0};
  EXPECT_EQ(Judge(escalating, 1.0, 0.1, 1000, c).verdict, Verdict::kUnhealthy);
  EXPECT_EQ(Judge(escalating, 1.0, 0.4, 1000, c).verdict, Verdict::kHealthy);  // 0.6 <= 2 x 0.4
  HealthStats few{3, 0, 0, 3.0};
  EXPECT_EQ(Judge(few, 1.0, 0.0, 1500, c).verdict, Verdict::kPending);      // waits for observations
  EXPECT_EQ(Judge(few, 1.0, 0.0, 2000, c).verdict, Verdict::kHealthy);      // until the grace ends
}

TEST(OtaReportQueue, KeepsOrderPerSinkAndRoundTrips) {
  ReportQueue q;
  for (int i = 0; i < 3; ++i) q.Push({0, "applying", "applying", 1, 2, "", i});
  std::vector<std::uint64_t> http_seen;
  int calls = 0;
  // The HTTP sink refuses the second report: the third must wait behind it.
  q.Deliver([&](const Report& r) { return ++calls != 2 && (http_seen.push_back(r.seq), true); }, nullptr);
  EXPECT_EQ(http_seen, (std::vector<std::uint64_t>{1}));
  ReportQueue copy;
  ASSERT_TRUE(copy.Parse(q.Serialize()).ok());
  EXPECT_EQ(copy.pending().size(), 2u);
  copy.Deliver([&](const Report& r) { return http_seen.push_back(r.seq), true; }, nullptr);
  EXPECT_EQ(http_seen, (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_TRUE(copy.pending().empty());
  copy.Push({});
  EXPECT_EQ(copy.pending().back().seq, 4u);  // sequence numbers survive
  for (std::size_t i = 0; i < kMaxQueuedReports + 5; ++i) copy.Push({});
  EXPECT_EQ(copy.pending().size(), kMaxQueuedReports);
  EXPECT_EQ(copy.dropped(), 6u);
}

class ScriptedHttp final : public HttpClient {
 public:
  Expected<HttpResponse> Send(const HttpRequest&) override { return response; }
  HttpResponse response;
};

TEST(OtaDownloader, RefusesAnswersThatContradictTheRequest) {
  FaultFilesystem fs;
  ScriptedHttp http;
  ChunkRequest req;
  req.url = "http://127.0.0.1/x";
  req.size = 100;
  req.offset = 0;
  req.chunk_bytes = 10;
  const auto code = [&] { return DownloadChunk(fs, http, "/d/p", req).error().code(); };
  http.response = {206, {{"Content-Range", "bytes 0-9/99"}}, std::string(10, 'x')};
  EXPECT_EQ(code(), common::ErrorCode::kCorrupt);  // another size than the manifest's
  http.response = {206, {{"Content-Range", "bytes 5-14/100"}}, std::string(10, 'x')};
  EXPECT_EQ(code(), common::ErrorCode::kCorrupt);  // not the range asked for
  http.response = {206, {{"Content-Range", "bytes 0-9/100"}}, std::string(9, 'x')};
  EXPECT_EQ(code(), common::ErrorCode::kCorrupt);  // body shorter than its range
  http.response = {206, {}, std::string(10, 'x')};
  EXPECT_EQ(code(), common::ErrorCode::kCorrupt);
  http.response = {200, {}, std::string(50, 'x')};
  EXPECT_EQ(code(), common::ErrorCode::kCorrupt);  // whole body of the wrong size
  http.response = {503, {}, ""};
  EXPECT_EQ(code(), common::ErrorCode::kUnavailable);
  http.response = {404, {}, ""};
  EXPECT_EQ(code(), common::ErrorCode::kNotFound);
  http.response = {206, {{"content-range", "bytes 0-9/100"}, {"x-edgefleet-signature", "c2ln"}}, std::string(10, 'y')};
  const auto ok = DownloadChunk(fs, http, "/d/p", req);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok.value().downloaded, 10u);
  EXPECT_EQ(ok.value().signature, "c2ln");
  EXPECT_EQ(fs.ReadFile("/d/p", 1000).value(), std::string(10, 'y'));
}

TEST(OtaPosixFilesystem, WritesResumesAndReplacesFiles) {
  TempDir dir;
  PosixFilesystem fs;
  const auto part = dir.path() / "download.part";
  ASSERT_TRUE(fs.WriteAt(part, 0, "hello", true).ok());
  ASSERT_TRUE(fs.WriteAt(part, 5, " world", true).ok());
  ASSERT_TRUE(fs.WriteAt(part, 5, " there", true).ok());  // cut back to 5, then written
  EXPECT_EQ(fs.ReadFile(part, 100).value(), "hello there");
  EXPECT_EQ(fs.FileSize(part).value(), 11u);
  ASSERT_TRUE(fs.WriteFileAtomically(dir.path() / "current.efm", "model").ok());
  EXPECT_EQ(fs.ReadFile(dir.path() / "current.efm", 100).value(), "model");
  ASSERT_TRUE(fs.Remove(part).ok());
  ASSERT_TRUE(fs.Remove(part).ok());  // gone already: fine
  EXPECT_EQ(fs.FileSize(part).error().code(), common::ErrorCode::kNotFound);
  ASSERT_TRUE(fs.SyncDir(dir.path()).ok());
  EXPECT_GT(fs.FreeBytes(dir.path()).value(), 0u);
}

}  // namespace
}  // namespace edgefleet::ota::testing
