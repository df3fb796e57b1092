// Rows and the typed fixture shared by the store's test files
// (store_test.cc, store_sync_test.cc): every case runs on SQLite and on
// PostgreSQL (store_fixture.h).
#pragma once

#include <gtest/gtest.h>

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "tests/server/store_fixture.h"

namespace edgefleet::store::storetest {

inline std::vector<float> Window(float seed) {
  std::vector<float> w(kWindowValues);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = seed + 0.001f * static_cast<float>(i);
  return w;
}

inline Model MakeModel(std::int64_t version) {
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

inline Escalation MakeEscalation(const std::string& device, std::int64_t received_ms) {
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

inline InferenceRow Inference(std::int64_t seq, bool fallback = false) {
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

inline HardSampleRow HardSample(std::int64_t seq) {
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

inline HealthRow Health(std::int64_t seq) {
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
inline SyncBatch Batch(std::int64_t first, std::int64_t n) {
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
inline DeviceReport Report(std::int64_t seen_ms, F set) {
  DeviceReport r;
  r.seen_ms = seen_ms;
  set(r);
  return r;
}
inline DeviceReport Report(std::int64_t seen_ms) {
  return Report(seen_ms, [](DeviceReport&) {});
}

inline EscalationRange Range(std::int64_t after_id,
                      std::int64_t through_id = std::numeric_limits<std::int64_t>::max()) {
  EscalationRange r;
  r.after_id = after_id;
  r.through_id = through_id;
  return r;
}
inline EscalationRange WithArchived() {
  EscalationRange r;
  r.include_archived = true;
  return r;
}

inline std::vector<std::int64_t> Seqs(std::int64_t first, std::int64_t last) {
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

}  // namespace edgefleet::store::storetest
