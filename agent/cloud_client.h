// CloudClient and SyncSink: the agent's two conversations with the cloud,
// as narrow interfaces (SPEC sections 3, 4 and 7).
//
// What they are for: Agent escalates ambiguous windows through
// CloudClient::Classify (POST /classify) and uploads buffer batches through
// SyncSink::Send (POST /api/sync). Both return at once; the callback runs
// later on the agent's event loop, exactly once. HttpCloudClient and
// HttpSyncSink (http_cloud.h) are the real implementations over HttpClient;
// tests pass fakes that answer when the test says so.
//
// Ownership: the caller owns the implementations and keeps them alive longer
// than the agent. Threads: the agent's loop thread only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/sync_batch.h"

namespace edgefleet::agent {

// POST /classify request (SPEC section 4).
struct ClassifyRequest {
  std::string device_id;
  std::vector<float> features;  // the raw window, 300 values
  double edge_mse = 0;
  std::int64_t model_version = 0;
};

// POST /classify answer.
struct ClassifyAnswer {
  std::string classification;  // "normal" or "anomaly"
  int label = 0;               // 0 normal, 1 anomaly
  double confidence = 0;
  double mse = 0;
  std::string model_version;   // the cloud model's version, as the server names it
};

using ClassifyCallback = std::function<void(common::Expected<ClassifyAnswer>)>;

class CloudClient {
 public:
  virtual ~CloudClient() = default;
  // Must call `done` exactly once: with the answer, or with an Error
  // (kDeadlineExceeded after the timeout, kUnavailable, a rejected request).
  virtual void Classify(ClassifyRequest request, ClassifyCallback done) = 0;
};

using SyncCallback = std::function<void(common::Expected<sync::IngestResult>)>;

class SyncSink {
 public:
  virtual ~SyncSink() = default;
  // Uploads `batch`; `done` gets the server's acknowledgement (what it stored
  // now or had already), or an Error, in which case nothing may be marked.
  virtual void Send(const sync::SyncBatch& batch, SyncCallback done) = 0;
  // Bytes of the last upload as sent (compressed), for bandwidth accounting.
  virtual std::uint64_t last_upload_bytes() const { return 0; }
};

}  // namespace edgefleet::agent
