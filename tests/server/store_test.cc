// The Store contract, run against each back end with the same bodies.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <thread>

#include "tests/server/store_test_rows.h"

namespace edgefleet::store {
namespace {

using common::ErrorCode;
using namespace edgefleet::store::storetest;  // NOLINT: the shared rows and fixture

const auto* const kPostgres = testsupport::PostgresEnvironment::Register();

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

// A batch larger than one INSERT statement takes (77 = 64 + 8 + 4 + 1 rows
// here): each id is its own row's, in batch order.
TYPED_TEST(StoreTest, LargeEscalationBatchesGetTheirRowsIdsInOrder) {
  auto& store = *this->store_;
  this->AddDevice("dev-1");
  this->AddDevice("dev-2");
  const std::int64_t before = store.InsertEscalation(MakeEscalation("dev-1", 1)).value();
  std::vector<Escalation> batch;
  for (int i = 0; i < 77; ++i) {
    batch.push_back(MakeEscalation(i % 3 == 0 ? "dev-2" : "dev-1", 1000 + i));
    batch.back().label = i % 2;
  }
  const auto ids = store.InsertEscalations(batch).value();
  ASSERT_EQ(ids.size(), batch.size());
  EXPECT_GT(ids.front(), before);
  EXPECT_TRUE(std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) == ids.end())
      << "ids not strictly increasing";
  const auto stored = store.ListEscalations({.after_id = before}, 1000).value();
  ASSERT_EQ(stored.size(), batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(stored[i].id, ids[i]);
    EXPECT_EQ(stored[i].received_ms, batch[i].received_ms) << "row " << i;
    EXPECT_EQ(stored[i].device_id, batch[i].device_id) << "row " << i;
    EXPECT_EQ(stored[i].label, batch[i].label) << "row " << i;
    EXPECT_EQ(stored[i].features, batch[i].features) << "row " << i;
  }
  EXPECT_EQ(store.GetDevice("dev-2").value().counters.escalations, 26);
  EXPECT_EQ(store.GetDevice("dev-1").value().counters.escalations, 52);
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

}  // namespace
}  // namespace edgefleet::store
