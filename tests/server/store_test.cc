// The Store contract, run against each back end with the same bodies.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <thread>

#include "tests/server/store_fixture.h"

namespace edgefleet::store {
namespace {

using common::ErrorCode;

const auto* const kPostgres = testsupport::PostgresEnvironment::Register();

std::vector<float> Window(float seed) {
  std::vector<float> w(kWindowValues);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = seed + 0.001f * static_cast<float>(i);
  return w;
}

Model MakeModel(std::int64_t version) {
  Model m;
  m.version = version;
  m.model_id = "ceiling-fan-ae";
  m.filename = "model_v" + std::to_string(version) + ".efm";
  m.size_bytes = 14'500 + version;
  m.sha256 = common::Sha256Hex("artifact " + std::to_string(version)).value();
  m.signature = common::Base64Encode(std::vector<std::uint8_t>(64, static_cast<std::uint8_t>(version)))
                    .value();
  m.min_device_ram_mb = 64;
  m.min_firmware_version = "1.0.0";
  m.thresholds = {0.015, 0.045, -0.015, 0.015, 2, 4};
  m.created_ms = 1'700'000'000'000 + version;
  return m;
}

Escalation MakeEscalation(const std::string& device, std::int64_t received_ms) {
  Escalation e;
  e.device_id = device;
  e.received_ms = received_ms;
  e.features = Window(static_cast<float>(received_ms % 100));
  e.edge_mse = 0.03;
  e.model_version = 1;
  e.cloud_mse = 0.02;
  e.label = 0;
  e.confidence = 0.9;
  return e;
}

InferenceRow Inference(std::int64_t seq, bool fallback = false) {
  InferenceRow r;
  r.seq = seq;
  r.ts_ms = 1'000 * seq;
  r.model_version = 1;
  r.decision = seq % 5 == 0 ? "anomaly" : "normal";
  r.confidence = 0.9;
  r.mse = 0.01 * static_cast<double>(seq % 7);
  r.latency_us = 250 + seq;
  r.input_hash = "h" + std::to_string(seq);
  r.fallback = fallback;
  return r;
}

HardSampleRow HardSample(std::int64_t seq) {
  HardSampleRow r;
  r.seq = seq;
  r.ts_ms = 1'000 * seq;
  r.model_version = 1;
  r.window = Window(static_cast<float>(seq));
  r.edge_mse = 0.03;
  r.confidence = 0.6;
  r.decision = "normal";
  r.fallback = true;
  return r;
}

HealthRow Health(std::int64_t seq) {
  HealthRow r;
  r.seq = seq;
  r.model_version = 1;
  r.period_start_ms = 60'000 * seq;
  r.period_end_ms = 60'000 * (seq + 1);
  r.stats_json = R"({"p50_latency_us":250,"inferences":)" + std::to_string(seq) + "}";
  return r;
}

// Inference rows [first, first + n), one hard sample and one health row per
// ten inference seqs.
SyncBatch Batch(std::int64_t first, std::int64_t n) {
  SyncBatch b;
  for (std::int64_t s = first; s < first + n; ++s) {
    b.inferences.push_back(Inference(s, s % 4 == 0));
    if (s % 10 == 0) {
      b.hard_samples.push_back(HardSample(s / 10));
      b.health.push_back(Health(s / 10));
    }
  }
  return b;
}

// A report seen at `seen_ms` with the fields `set` fills in.
template <typename F>
DeviceReport Report(std::int64_t seen_ms, F set) {
  DeviceReport r;
  r.seen_ms = seen_ms;
  set(r);
  return r;
}
DeviceReport Report(std::int64_t seen_ms) {
  return Report(seen_ms, [](DeviceReport&) {});
}

EscalationRange Range(std::int64_t after_id,
                      std::int64_t through_id = std::numeric_limits<std::int64_t>::max()) {
  EscalationRange r;
  r.after_id = after_id;
  r.through_id = through_id;
  return r;
}
EscalationRange WithArchived() {
  EscalationRange r;
  r.include_archived = true;
  return r;
}

std::vector<std::int64_t> Seqs(std::int64_t first, std::int64_t last) {
  std::vector<std::int64_t> out;
  for (std::int64_t s = first; s <= last; ++s) out.push_back(s);
  return out;
}

template <typename Db>
class StoreTest : public StoreFixture<Db> {
 protected:
  void SetUp() override {
    StoreFixture<Db>::SetUp();
    if (this->IsSkipped() || this->HasFatalFailure()) return;
    store_ = this->Open();
    ASSERT_NE(store_, nullptr);
  }

  void AddDevice(const std::string& id) {
    ASSERT_TRUE(store_->AddDevice(id, TokenHash("token-" + id), 1000).ok());
  }

  std::unique_ptr<Store> store_;
};

TYPED_TEST_SUITE(StoreTest, Databases, DbNames);

TYPED_TEST(StoreTest, MigratesAnEmptyDatabaseToTheLatestVersion) {
  auto& store = *this->store_;
  EXPECT_EQ(store.SchemaVersion().value(), LatestSchemaVersion());
  EXPECT_EQ(sql::SqliteMigrations().size(), sql::PostgresMigrations().size());
  EXPECT_EQ(store.backend(), std::string(TypeParam::kName) == "Sqlite" ? "sqlite" : "postgresql");
  EXPECT_TRUE(store.ListDevices().value().empty());
  EXPECT_TRUE(store.ListModels().value().empty());
  EXPECT_EQ(store.LatestPublishedModel().error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.CountEscalations({}).value(), 0);
}

TYPED_TEST(StoreTest, ReopenKeepsDataAndDoesNotMigrateAgain) {
  this->AddDevice("dev-1");
  ASSERT_TRUE(this->store_->PublishModel(MakeModel(1)).ok());
  const auto id = this->store_->InsertEscalation(MakeEscalation("dev-1", 5000)).value();
  ASSERT_TRUE(this->store_->IngestBatch("dev-1", Batch(0, 20), 6000).ok());
  const Device before = this->store_->GetDevice("dev-1").value();
  this->store_.reset();

  auto reopened = this->Open();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(reopened->SchemaVersion().value(), LatestSchemaVersion());
  EXPECT_EQ(reopened->GetDevice("dev-1").value(), before);
  EXPECT_EQ(reopened->GetModel(1).value(), MakeModel(1));
  const auto escalations = reopened->ListEscalations({}, 10).value();
  ASSERT_EQ(escalations.size(), 1u);
  EXPECT_EQ(escalations[0].id, id);
  EXPECT_EQ(reopened->ListInferenceRows("dev-1", -1, 100).value().size(), 20u);
}

TYPED_TEST(StoreTest, RefusesADatabaseNewerThanTheCode) {
  this->store_.reset();
  {
    auto raw = this->Raw();
    ASSERT_NE(raw, nullptr);
    ASSERT_TRUE(raw->Begin(sql::TxnKind::kWrite).ok());
    const sql::Value newer[] = {std::int64_t{LatestSchemaVersion() + 1}};
    ASSERT_TRUE(raw->Execute("UPDATE schema_version SET version = $1 WHERE id = 1", newer).ok());
    ASSERT_TRUE(raw->Commit().ok());
  }
  auto store = OpenStore(this->url());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(store.error().message().find("newer"), std::string::npos) << store.error().message();
}

// ---- devices and tokens ------------------------------------------------------------

TYPED_TEST(StoreTest, AddsDevicesAndAuthenticatesThemByTokenHash) {
  auto& store = *this->store_;
  const std::string hash = TokenHash("secret-token");
  ASSERT_TRUE(store.AddDevice("fan-02", hash, 1234).ok());
  ASSERT_TRUE(store.AddDevice("fan-01", TokenHash("other"), 1235).ok());
  EXPECT_TRUE(store.AuthenticateDevice("fan-02", hash).ok());
  EXPECT_EQ(store.AuthenticateDevice("fan-02", TokenHash("wrong")).error().code(),
            ErrorCode::kUnauthenticated);
  EXPECT_EQ(store.AuthenticateDevice("fan-01", hash).error().code(), ErrorCode::kUnauthenticated);
  // Same answer for an unknown device as for a wrong token: no oracle.
  const auto unknown = store.AuthenticateDevice("fan-99", hash);
  EXPECT_EQ(unknown.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(unknown.error().message(), store.AuthenticateDevice("fan-02", TokenHash("x")).error().message());

  const Device d = store.GetDevice("fan-02").value();
  EXPECT_EQ(d.id, "fan-02");
  EXPECT_EQ(d.token_sha256, hash);  // the hash, never the token
  EXPECT_EQ(d.created_ms, 1234);
  EXPECT_FALSE(d.last_seen_ms.has_value());
  EXPECT_FALSE(d.reported_model_version.has_value());
  EXPECT_EQ(d.counters, DeviceCounters{});
  EXPECT_EQ(d.health_json, "{}");

  EXPECT_EQ(store.AddDevice("fan-02", TokenHash("again"), 1).error().code(), ErrorCode::kAlreadyExists);
  EXPECT_TRUE(store.AuthenticateDevice("fan-02", hash).ok());  // unchanged
  const auto all = store.ListDevices().value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "fan-01");
  EXPECT_EQ(all[1].id, "fan-02");
}

TYPED_TEST(StoreTest, UnknownDeviceIsNotFoundEverywhere) {
  auto& store = *this->store_;
  const std::string id = "ghost";
  EXPECT_EQ(store.GetDevice(id).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.RecordDeviceReport(id, Report(5)).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.IngestBatch(id, Batch(0, 3), 5).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.InsertEscalation(MakeEscalation(id, 5)).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.RecordUpdateStatus({id, UpdateStatus::kPending, 1, "", 5}).error().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(store.LatestUpdateStatus(id).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.UpdateHistory(id).error().code(), ErrorCode::kNotFound);
  // Nothing was written on the way.
  EXPECT_EQ(store.CountEscalations({}).value(), 0);
  EXPECT_TRUE(store.ListDevices().value().empty());
}

TYPED_TEST(StoreTest, DeviceReportUpdatesOnlyTheGivenFields) {
  auto& store = *this->store_;
  this->AddDevice("dev-1");
  DeviceReport full;
  full.seen_ms = 10'000;
  full.model_version = 3;
  full.firmware_version = "2.1.0";
  full.ram_mb = 512;
  full.buffer_depth = 42;
  full.backoff = BackoffState{2, 120'000};
  full.dropped_rows = 7;
  full.health_json = R"({"cpu":0.25,"uptime_s":3600})";
  ASSERT_TRUE(store.RecordDeviceReport("dev-1", full).ok());
  Device d = store.GetDevice("dev-1").value();
  EXPECT_EQ(d.last_seen_ms, 10'000);
  EXPECT_EQ(d.reported_model_version, 3);
  EXPECT_EQ(d.firmware_version, "2.1.0");
  EXPECT_EQ(d.ram_mb, 512);
  EXPECT_EQ(d.buffer_depth, 42);
  EXPECT_EQ(d.backoff, (BackoffState{2, 120'000}));
  EXPECT_EQ(d.counters.dropped_rows, 7);
  EXPECT_EQ(d.health_json, *full.health_json);

  // A partial report, older than the last one: only the given field changes,
  // and last_seen never moves back.
  DeviceReport partial;
  partial.seen_ms = 9'000;
  partial.buffer_depth = 0;
  ASSERT_TRUE(store.RecordDeviceReport("dev-1", partial).ok());
  d = store.GetDevice("dev-1").value();
  EXPECT_EQ(d.last_seen_ms, 10'000);
  EXPECT_EQ(d.buffer_depth, 0);
  EXPECT_EQ(d.reported_model_version, 3);
  EXPECT_EQ(d.firmware_version, "2.1.0");
  EXPECT_EQ(d.backoff, (BackoffState{2, 120'000}));
  ASSERT_TRUE(store.RecordDeviceReport("dev-1", Report(11'000, [](auto& r) { r.model_version = 4; })).ok());
  d = store.GetDevice("dev-1").value();
  EXPECT_EQ(d.last_seen_ms, 11'000);
  EXPECT_EQ(d.reported_model_version, 4);
}

TYPED_TEST(StoreTest, AdminTokensAuthenticateByHash) {
  auto& store = *this->store_;
  const std::string hash = TokenHash("admin-secret");
  EXPECT_EQ(store.AuthenticateAdmin(hash).error().code(), ErrorCode::kUnauthenticated);
  ASSERT_TRUE(store.AddAdminToken(hash, "ops laptop", 1).ok());
  EXPECT_TRUE(store.AuthenticateAdmin(hash).ok());
  EXPECT_EQ(store.AuthenticateAdmin(TokenHash("admin-secreT")).error().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(store.AddAdminToken(hash, "again", 2).error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store.AuthenticateAdmin("admin-secret").error().code(), ErrorCode::kInvalidArgument);
}

// ---- models ---------------------------------------------------------------------------

TYPED_TEST(StoreTest, PublishesModelsAndFollowsHaltAndRelease) {
  auto& store = *this->store_;
  ASSERT_TRUE(store.PublishModel(MakeModel(1)).ok());
  EXPECT_EQ(store.LatestPublishedModel().value().version, 1);
  Model v2 = MakeModel(2);
  v2.status = ModelStatus::kHalted;  // ignored: publishing publishes
  ASSERT_TRUE(store.PublishModel(v2).ok());
  const Model latest = store.LatestPublishedModel().value();
  EXPECT_EQ(latest, MakeModel(2));  // every field round-trips
  EXPECT_EQ(latest.status, ModelStatus::kPublished);

  ASSERT_TRUE(store.SetModelStatus(2, ModelStatus::kHalted).ok());
  EXPECT_EQ(store.GetModel(2).value().status, ModelStatus::kHalted);
  EXPECT_EQ(store.LatestPublishedModel().value().version, 1);  // a halted model is not offered
  ASSERT_TRUE(store.SetModelStatus(2, ModelStatus::kHalted).ok());  // idempotent
  EXPECT_EQ(store.SetModelStatus(2, ModelStatus::kPublished).error().code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store.SetModelStatus(1, ModelStatus::kReleased).error().code(),
            ErrorCode::kFailedPrecondition);  // only a halted model can be released
  ASSERT_TRUE(store.SetModelStatus(2, ModelStatus::kReleased).ok());
  EXPECT_EQ(store.LatestPublishedModel().value().version, 2);
  ASSERT_TRUE(store.SetModelStatus(2, ModelStatus::kHalted).ok());
  EXPECT_EQ(store.SetModelStatus(9, ModelStatus::kHalted).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(store.GetModel(9).error().code(), ErrorCode::kNotFound);

  const auto all = store.ListModels().value();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].version, 1);
  EXPECT_EQ(all[1].version, 2);
  EXPECT_EQ(all[1].status, ModelStatus::kHalted);
}

TYPED_TEST(StoreTest, ModelVersionsOnlyGoUp) {
  auto& store = *this->store_;
  ASSERT_TRUE(store.PublishModel(MakeModel(3)).ok());
  EXPECT_EQ(store.PublishModel(MakeModel(3)).error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(store.PublishModel(MakeModel(2)).error().code(), ErrorCode::kConflict);
  ASSERT_TRUE(store.PublishModel(MakeModel(10)).ok());  // gaps are fine
  EXPECT_EQ(store.ListModels().value().size(), 2u);
}

// ---- escalations --------------------------------------------------------------------

TYPED_TEST(StoreTest, InsertsEscalationBatchesWhollyOrNotAtAll) {
  auto& store = *this->store_;
  this->AddDevice("dev-1");
  this->AddDevice("dev-2");
  std::vector<Escalation> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(MakeEscalation(i < 3 ? "dev-1" : "dev-2", 100 + i));
  const auto ids = store.InsertEscalations(batch).value();
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(store.GetDevice("dev-1").value().counters.escalations, 3);
  EXPECT_EQ(store.GetDevice("dev-2").value().counters.escalations, 2);
  EXPECT_EQ(store.GetDevice("dev-2").value().last_seen_ms, 104);
  EXPECT_TRUE(store.InsertEscalations({}).value().empty());

  // An unknown device anywhere in the batch: nothing of the batch is stored.
  batch.push_back(MakeEscalation("ghost", 200));
  EXPECT_EQ(store.InsertEscalations(batch).error().code(), ErrorCode::kNotFound);
  // An invalid row: refused before anything is written.
  batch.back() = MakeEscalation("dev-1", 200);
  batch.back().confidence = 2;
  EXPECT_EQ(store.InsertEscalations(batch).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(store.CountEscalations({}).value(), 5);
  EXPECT_EQ(store.GetDevice("dev-1").value().counters.escalations, 3);
}

TYPED_TEST(StoreTest, StoresEscalationsCountsRangesAndArchives) {
  auto& store = *this->store_;
  this->AddDevice("dev-1");
  this->AddDevice("dev-2");
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 6; ++i) {
    Escalation e = MakeEscalation(i % 2 == 0 ? "dev-1" : "dev-2", 10'000 + i);
    e.label = i % 2;
    e.cloud_mse = 0.001 * i;
    ids.push_back(store.InsertEscalation(e).value());
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::int64_t>(ids.begin(), ids.end()).size(), 6u);
  EXPECT_EQ(store.GetDevice("dev-1").value().counters.escalations, 3);
  EXPECT_EQ(store.GetDevice("dev-1").value().last_seen_ms, 10'004);

  EXPECT_EQ(store.CountEscalations({}).value(), 6);
  EXPECT_EQ(store.CountEscalations(Range(ids[1])).value(), 4);  // the retraining trigger
  EXPECT_EQ(store.CountEscalations(Range(ids[1], ids[3])).value(), 2);

  const auto range = store.ListEscalations(Range(ids[0], ids[4]), 100).value();
  ASSERT_EQ(range.size(), 4u);
  EXPECT_EQ(range[0].id, ids[1]);
  EXPECT_EQ(range[3].id, ids[4]);
  Escalation expected = MakeEscalation("dev-2", 10'001);
  expected.id = ids[1];
  expected.label = 1;
  expected.cloud_mse = 0.001;
  EXPECT_EQ(range[0], expected);  // features and every field round-trip exactly
  EXPECT_EQ(store.ListEscalations({}, 2).value().size(), 2u);  // the limit

  const std::int64_t archive[] = {ids[0], ids[1], ids[2], 999'999};
  EXPECT_EQ(store.ArchiveEscalations(archive).value(), 3);
  EXPECT_EQ(store.ArchiveEscalations(archive).value(), 0);  // already archived
  EXPECT_EQ(store.CountEscalations({}).value(), 3);
  EXPECT_EQ(store.CountEscalations(WithArchived()).value(), 6);
  const auto left = store.ListEscalations({}, 100).value();
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[0].id, ids[3]);
  const auto all = store.ListEscalations(WithArchived(), 100).value();
  ASSERT_EQ(all.size(), 6u);
  EXPECT_TRUE(all[0].archived);
  EXPECT_FALSE(all[5].archived);
}

// ---- update status --------------------------------------------------------------------

TYPED_TEST(StoreTest, UpdateStatusIgnoresARepeatOfTheLatestEntry) {
  auto& store = *this->store_;
  this->AddDevice("dev-1");
  EXPECT_EQ(store.LatestUpdateStatus("dev-1").error().code(), ErrorCode::kNotFound);
  const UpdateStatusReport a{"dev-1", UpdateStatus::kDownloading, 2, "", 100};
  const UpdateStatusReport b{"dev-1", UpdateStatus::kFailed, 2, "sha256 mismatch", 200};
  EXPECT_TRUE(store.RecordUpdateStatus(a).value());
  EXPECT_FALSE(store.RecordUpdateStatus(a).value());  // the same report again
  UpdateStatusReport a_later = a;
  a_later.reported_ms = 150;  // a retry carries a new time: still the same report
  EXPECT_FALSE(store.RecordUpdateStatus(a_later).value());
  EXPECT_TRUE(store.RecordUpdateStatus(b).value());
  EXPECT_FALSE(store.RecordUpdateStatus(b).value());
  UpdateStatusReport b_other_error = b;
  b_other_error.error = "signature mismatch";  // a different error is a new entry
  EXPECT_TRUE(store.RecordUpdateStatus(b_other_error).value());
  EXPECT_TRUE(store.RecordUpdateStatus(a).value());  // A after B is a new transition

  const auto history = store.UpdateHistory("dev-1").value();
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[0].status, UpdateStatus::kDownloading);
  EXPECT_EQ(history[0].reported_ms, 100);  // the first report's time is kept
  EXPECT_EQ(history[1].error, "sha256 mismatch");
  EXPECT_EQ(history[2].error, "signature mismatch");
  EXPECT_EQ(history[3].status, UpdateStatus::kDownloading);
  EXPECT_LT(history[0].id, history[3].id);
  EXPECT_EQ(store.LatestUpdateStatus("dev-1").value(), history[3]);
  EXPECT_EQ(store.GetDevice("dev-1").value().last_seen_ms, 200);
  // A status report says nothing about the version the device runs.
  EXPECT_FALSE(store.GetDevice("dev-1").value().reported_model_version.has_value());
}

TYPED_TEST(StoreTest, UpdateStatusNamesParseAndPrint) {
  for (const char* name : {"pending", "downloading", "validating", "applying", "active", "rolled_back",
                           "failed"}) {
    EXPECT_STREQ(ToString(ParseUpdateStatus(name).value()), name);
  }
  EXPECT_EQ(ParseUpdateStatus("done").error().code(), ErrorCode::kInvalidArgument);
  for (const char* name : {"published", "halted", "released"}) {
    EXPECT_STREQ(ToString(ParseModelStatus(name).value()), name);
  }
  EXPECT_FALSE(ParseModelStatus("").ok());
}

// ---- sync ingestion ---------------------------------------------------------------------

TYPED_TEST(StoreTest, IngestingTheSameBatchTwiceStoresNothingTwice) {
  auto& store = *this->store_;
  this->AddDevice("dev-1");
  const SyncBatch batch = Batch(0, 25);  // seqs 0..24; hard samples and health 0, 1, 2
  const IngestResult first = store.IngestBatch("dev-1", batch, 5'000).value();
  EXPECT_EQ(first.inferences.stored, Seqs(0, 24));
  EXPECT_TRUE(first.inferences.already_present.empty());
  EXPECT_EQ(first.hard_samples.stored, Seqs(0, 2));
  EXPECT_EQ(first.health.stored, Seqs(0, 2));
  const Device after_first = store.GetDevice("dev-1").value();
  EXPECT_EQ(after_first.counters.rows_synced, 31);
  EXPECT_EQ(after_first.counters.fallbacks, 7);  // seqs 0, 4, ..., 24
  EXPECT_EQ(after_first.last_seen_ms, 5'000);

  const IngestResult second = store.IngestBatch("dev-1", batch, 6'000).value();
  EXPECT_TRUE(second.inferences.stored.empty());
  EXPECT_EQ(second.inferences.already_present, Seqs(0, 24));
  EXPECT_EQ(second.hard_samples.already_present, Seqs(0, 2));
  EXPECT_EQ(second.health.already_present, Seqs(0, 2));
  const Device after_second = store.GetDevice("dev-1").value();
  EXPECT_EQ(after_second.counters, after_first.counters);
  EXPECT_EQ(after_second.last_seen_ms, 6'000);

  const auto rows = store.ListInferenceRows("dev-1", -1, 1000).value();
  ASSERT_EQ(rows.size(), 25u);
  for (std::size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i], batch.inferences[i]);
  const auto samples = store.ListHardSamples("dev-1", -1, 1000).value();
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[2], batch.hard_samples[2]);
  const auto health = store.ListHealthRows("dev-1", -1, 1000).value();
  ASSERT_EQ(health.size(), 3u);
  EXPECT_EQ(health[1], batch.health[1]);
  // Paging by seq.
  EXPECT_EQ(store.ListInferenceRows("dev-1", 19, 3).value().front().seq, 20);
  EXPECT_EQ(store.ListInferenceRows("dev-1", 19, 3).value().size(), 3u);
}

TYPED_TEST(StoreTest, OverlappingBatchStoresOnlyTheNewRows) {
  auto& store = *this->store_;
  this->AddDevice("dev-1");
  this->AddDevice("dev-2");
  ASSERT_TRUE(store.IngestBatch("dev-1", Batch(0, 20), 1).ok());
  const IngestResult r = store.IngestBatch("dev-1", Batch(15, 15), 2).value();  // 15..29
  EXPECT_EQ(r.inferences.stored, Seqs(20, 29));
  EXPECT_EQ(r.inferences.already_present, Seqs(15, 19));
  EXPECT_EQ(r.hard_samples.stored, Seqs(2, 2));
  EXPECT_TRUE(r.hard_samples.already_present.empty());  // 15..29 carries only hard sample 2
  EXPECT_EQ(store.ListInferenceRows("dev-1", -1, 1000).value().size(), 30u);
  // Sequence numbers are per device: the same seqs from another device are new.
  const IngestResult other = store.IngestBatch("dev-2", Batch(0, 20), 3).value();
  EXPECT_EQ(other.inferences.stored, Seqs(0, 19));
  EXPECT_EQ(store.GetDevice("dev-1").value().counters.rows_synced, 30 + 3 + 3);
  EXPECT_EQ(store.GetDevice("dev-2").value().counters.rows_synced, 20 + 2 + 2);
}

TYPED_TEST(StoreTest, RejectsABadBatchAndStoresNothingFromIt) {
  auto& store = *this->store_;
  this->AddDevice("dev-1");
  std::vector<SyncBatch> bad(7, Batch(100, 10));
  bad[0].inferences.push_back(Inference(105));                                    // seq twice
  bad[1].inferences.back().mse = std::numeric_limits<double>::quiet_NaN();
  bad[2].hard_samples.back().window.pop_back();                                   // 299 values
  bad[3].hard_samples.back().window[7] = std::numeric_limits<float>::infinity();
  bad[4].health.back().stats_json = "[1,2]";                                      // not an object
  bad[5].inferences.front().seq = -1;
  bad[6].inferences.back().confidence = 1.5;
  for (std::size_t i = 0; i < bad.size(); ++i) {
    const auto r = store.IngestBatch("dev-1", bad[i], 1);
    ASSERT_FALSE(r.ok()) << i;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << i << ": " << r.error().message();
  }
  SyncBatch huge;
  for (std::int64_t s = 0; s <= static_cast<std::int64_t>(kMaxBatchRows); ++s) {
    huge.inferences.push_back(Inference(s));
  }
  EXPECT_EQ(store.IngestBatch("dev-1", huge, 1).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(store.ListInferenceRows("dev-1", -1, 100).value().empty());
  EXPECT_TRUE(store.ListHardSamples("dev-1", -1, 100).value().empty());
  EXPECT_EQ(store.GetDevice("dev-1").value().counters.rows_synced, 0);
  EXPECT_FALSE(store.GetDevice("dev-1").value().last_seen_ms.has_value());
}

// ---- values and bad input ---------------------------------------------------------------

TYPED_TEST(StoreTest, ValuesRoundTripExactly) {
  auto& store = *this->store_;
  // Quotes and SQL in a value are data, never SQL.
  const std::string tricky = "it's \"quoted\"; DROP TABLE devices; -- \xc3\xa9\xe9\xa2\xa8";
  this->AddDevice("dev-1");
  DeviceReport report;
  report.seen_ms = std::numeric_limits<std::int64_t>::max();
  report.firmware_version = tricky;
  report.health_json = R"({"note":"it's; DROP TABLE x","n":[1,2,{"deep":null}]})";
  ASSERT_TRUE(store.RecordDeviceReport("dev-1", report).ok());
  const Device d = store.GetDevice("dev-1").value();
  EXPECT_EQ(d.firmware_version, tricky);
  EXPECT_EQ(d.health_json, *report.health_json);
  EXPECT_EQ(d.last_seen_ms, std::numeric_limits<std::int64_t>::max());

  Model m = MakeModel(1);
  m.min_firmware_version = tricky;
  m.thresholds = {1e-300, 0.1, -0.1, 5e-324, 1.0 / 3.0, std::numeric_limits<double>::max()};
  ASSERT_TRUE(store.PublishModel(m).ok());
  EXPECT_EQ(store.GetModel(1).value(), m);  // doubles bit-exact

  Escalation e = MakeEscalation("dev-1", 1);
  e.features[0] = std::numeric_limits<float>::denorm_min();
  e.features[1] = -0.0f;
  e.features[2] = std::numeric_limits<float>::max();
  e.features[3] = 0.1f;
  e.confidence = 0.7 - 1e-16;
  const auto id = store.InsertEscalation(e).value();
  const auto back = store.ListEscalations({}, 1).value().at(0);
  e.id = id;
  EXPECT_EQ(back, e);
  EXPECT_TRUE(std::signbit(back.features[1]));

  UpdateStatusReport s{"dev-1", UpdateStatus::kFailed, 1, tricky + "\n\ttrace", 1};
  ASSERT_TRUE(store.RecordUpdateStatus(s).value());
  EXPECT_EQ(store.LatestUpdateStatus("dev-1").value().error, s.error);
  EXPECT_EQ(store.ListDevices().value().size(), 1u);  // the table is still there
}

TYPED_TEST(StoreTest, RejectsBadInputWithAnError) {
  auto& store = *this->store_;
  auto invalid = [](const auto& result) {
    return !result.ok() && result.error().code() == ErrorCode::kInvalidArgument;
  };
  const std::string hash = TokenHash("t");
  EXPECT_TRUE(invalid(store.AddDevice("", hash, 0)));
  EXPECT_TRUE(invalid(store.AddDevice(std::string(kMaxIdBytes + 1, 'a'), hash, 0)));
  EXPECT_TRUE(invalid(store.AddDevice("dev/1", hash, 0)));  // not in an MQTT topic
  EXPECT_TRUE(invalid(store.AddDevice("dev+1", hash, 0)));
  EXPECT_TRUE(invalid(store.AddDevice(std::string("dev\0x", 5), hash, 0)));
  EXPECT_TRUE(invalid(store.AddDevice("dev-1", "plaintext-token", 0)));
  EXPECT_TRUE(invalid(store.AddDevice("dev-1", std::string(64, 'A'), 0)));  // uppercase hex
  EXPECT_TRUE(invalid(store.GetDevice("")));
  this->AddDevice("dev-1");

  EXPECT_TRUE(invalid(store.RecordDeviceReport("dev-1", Report(1, [](auto& r) { r.ram_mb = -1; }))));
  EXPECT_TRUE(invalid(store.RecordDeviceReport("dev-1", Report(1, [](auto& r) { r.health_json = "{bad"; }))));
  EXPECT_TRUE(invalid(store.RecordDeviceReport("dev-1", Report(1, [](auto& r) { r.health_json = "12"; }))));
  EXPECT_TRUE(invalid(
      store.RecordDeviceReport("dev-1", Report(1, [](auto& r) { r.health_json = std::string(kMaxJsonBytes, ' '); }))));
  EXPECT_TRUE(invalid(store.RecordDeviceReport("dev-1", Report(1, [](auto& r) { r.firmware_version = "\xff\xfe"; }))));
  EXPECT_TRUE(invalid(store.AddAdminToken("nope", "x", 0)));

  std::vector<Model> models(9, MakeModel(1));
  models[0].version = 0;
  models[1].model_id.clear();
  models[2].filename = "../../etc/passwd";
  models[3].sha256 = "abc";
  models[4].signature = "not base64";
  models[5].size_bytes = 0;
  models[6].thresholds.low = std::numeric_limits<double>::quiet_NaN();
  models[7].thresholds = {0.5, 0.1, 0, 1, 2, 4};  // low above high
  models[8].signature = common::Base64Encode(std::vector<std::uint8_t>(63)).value();
  for (std::size_t i = 0; i < models.size(); ++i) EXPECT_TRUE(invalid(store.PublishModel(models[i]))) << i;
  EXPECT_TRUE(store.ListModels().value().empty());

  std::vector<Escalation> escalations(6, MakeEscalation("dev-1", 1));
  escalations[0].features.resize(299);
  escalations[1].features[0] = std::numeric_limits<float>::quiet_NaN();
  escalations[2].edge_mse = std::numeric_limits<double>::infinity();
  escalations[3].label = 2;
  escalations[4].confidence = -0.1;
  escalations[5].device_id = "";
  for (std::size_t i = 0; i < escalations.size(); ++i) {
    EXPECT_TRUE(invalid(store.InsertEscalation(escalations[i]))) << i;
  }
  EXPECT_EQ(store.CountEscalations({}).value(), 0);
  EXPECT_EQ(store.GetDevice("dev-1").value().counters.escalations, 0);

  EXPECT_TRUE(invalid(store.RecordUpdateStatus({"dev-1", UpdateStatus::kFailed, -1, "", 1})));
  EXPECT_TRUE(invalid(
      store.RecordUpdateStatus({"dev-1", UpdateStatus::kFailed, 1, std::string(kMaxErrorTextBytes + 1, 'e'), 1})));
  EXPECT_TRUE(store.UpdateHistory("dev-1").value().empty());
}

// ---- concurrency ------------------------------------------------------------------------

TYPED_TEST(StoreTest, ConcurrentWritersLoseNothing) {
  auto& store = *this->store_;
  constexpr int kThreads = 4;
  constexpr int kBatches = 12;
  constexpr int kRowsPerBatch = 10;
  for (int t = 0; t < kThreads; ++t) this->AddDevice("dev-" + std::to_string(t));
  this->AddDevice("shared");
  std::atomic<int> failures{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string id = "dev-" + std::to_string(t);
      auto fail = [&](const common::Error& e) {
        ++failures;
        errors[static_cast<std::size_t>(t)] = e.ToString();
      };
      for (int b = 0; b < kBatches; ++b) {
        // Own rows, plus rows of one shared device that every thread sends
        // (overlapping batches from several connections at once).
        if (auto r = store.IngestBatch(id, Batch(b * kRowsPerBatch, kRowsPerBatch), b); !r.ok()) fail(r.error());
        if (auto r = store.IngestBatch("shared", Batch((b + t) * 5, 10), b); !r.ok()) fail(r.error());
        if (auto r = store.InsertEscalation(MakeEscalation(id, b)); !r.ok()) fail(r.error());
        const UpdateStatusReport s{id, b % 2 == 0 ? UpdateStatus::kDownloading : UpdateStatus::kValidating,
                                   1, "", b};
        if (auto r = store.RecordUpdateStatus(s); !r.ok()) fail(r.error());
        if (auto r = store.RecordUpdateStatus({"shared", UpdateStatus::kActive, 1, "", b}); !r.ok()) {
          fail(r.error());
        }
        if (auto r = store.GetDevice(id); !r.ok()) fail(r.error());
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& e : errors) EXPECT_EQ(e, "");
  ASSERT_EQ(failures.load(), 0);

  for (int t = 0; t < kThreads; ++t) {
    const std::string id = "dev-" + std::to_string(t);
    EXPECT_EQ(store.ListInferenceRows(id, -1, 10'000).value().size(),
              static_cast<std::size_t>(kBatches * kRowsPerBatch));
    const Device d = store.GetDevice(id).value();
    EXPECT_EQ(d.counters.escalations, kBatches);
    EXPECT_EQ(d.counters.rows_synced, kBatches * kRowsPerBatch + 2 * kBatches);
    EXPECT_EQ(store.UpdateHistory(id).value().size(), static_cast<std::size_t>(kBatches));
  }
  // The shared device: seqs 0 .. (kBatches - 1 + kThreads - 1) * 5 + 9, each once.
  const auto shared = store.ListInferenceRows("shared", -1, 10'000).value();
  const std::size_t expected_shared = static_cast<std::size_t>((kBatches - 1 + kThreads - 1) * 5 + 10);
  ASSERT_EQ(shared.size(), expected_shared);
  for (std::size_t i = 0; i < shared.size(); ++i) EXPECT_EQ(shared[i].seq, static_cast<std::int64_t>(i));
  const std::size_t shared_hard = store.ListHardSamples("shared", -1, 10'000).value().size();
  const std::size_t shared_health = store.ListHealthRows("shared", -1, 10'000).value().size();
  EXPECT_EQ(store.GetDevice("shared").value().counters.rows_synced,
            static_cast<std::int64_t>(expected_shared + shared_hard + shared_health));
  // Identical concurrent status reports of the shared device: recorded once.
  EXPECT_EQ(store.UpdateHistory("shared").value().size(), 1u);
  EXPECT_EQ(store.CountEscalations({}).value(), kThreads * kBatches);
}

}  // namespace
}  // namespace edgefleet::store
