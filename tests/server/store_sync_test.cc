// The store's sync ingestion, value round trips, bad input and concurrent
// writers, on SQLite and PostgreSQL (the rows and fixture: store_test_rows.h).
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

template <typename Db>
class StoreSyncTest : public StoreTest<Db> {};

TYPED_TEST_SUITE(StoreSyncTest, Databases, DbNames);

// ---- sync ingestion ---------------------------------------------------------------------

TYPED_TEST(StoreSyncTest, IngestingTheSameBatchTwiceStoresNothingTwice) {
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

TYPED_TEST(StoreSyncTest, OverlappingBatchStoresOnlyTheNewRows) {
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

// Batches larger than one INSERT statement (rows go 32, 16, ... 1 to a
// statement): each row is still reported stored or already present exactly.
TYPED_TEST(StoreSyncTest, LargeOverlappingBatchesAreSplitExactly) {
  auto& store = *this->store_;
  this->AddDevice("dev-1");
  ASSERT_TRUE(store.IngestBatch("dev-1", Batch(0, 50), 1).ok());
  const IngestResult r = store.IngestBatch("dev-1", Batch(30, 77), 2).value();  // 30..106
  EXPECT_EQ(r.inferences.stored, Seqs(50, 106));
  EXPECT_EQ(r.inferences.already_present, Seqs(30, 49));
  EXPECT_EQ(r.hard_samples.stored, Seqs(5, 10));
  EXPECT_EQ(r.hard_samples.already_present, Seqs(3, 4));
  EXPECT_EQ(r.health.stored, Seqs(5, 10));
  EXPECT_EQ(r.health.already_present, Seqs(3, 4));
  EXPECT_EQ(store.ListInferenceRows("dev-1", -1, 1000).value().size(), 107u);
  const auto counters = store.GetDevice("dev-1").value().counters;
  EXPECT_EQ(counters.rows_synced, 107 + 11 + 11);
  EXPECT_EQ(counters.fallbacks, 13 + 14);  // seqs divisible by 4: 0..48, then the new 52..104
}

TYPED_TEST(StoreSyncTest, RejectsABadBatchAndStoresNothingFromIt) {
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

TYPED_TEST(StoreSyncTest, ValuesRoundTripExactly) {
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

TYPED_TEST(StoreSyncTest, RejectsBadInputWithAnError) {
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

TYPED_TEST(StoreSyncTest, ConcurrentWritersLoseNothing) {
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
