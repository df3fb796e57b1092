// HttpCloudClient and HttpSyncSink: the real CloudClient and SyncSink, over
// an HttpClient (platform/beast_http_client.h in the binary).
//
// HttpCloudClient POSTs /classify (SPEC section 4) with the device's bearer
// token and the escalation timeout (5 s by default). HttpSyncSink encodes the
// batch with common/sync_codec (columnar, zstd), POSTs /api/sync, and decodes
// the acknowledgement; it passes on only sequence numbers that were in the
// batch, so a confused server cannot make the agent mark rows it never sent.
// Status mapping for both: 2xx answer; 401/403 kUnauthenticated; other 4xx
// kInvalidArgument (with the server's {"error","message"}); 5xx kUnavailable.
//
// Ownership: the caller owns the HttpClient and keeps it alive longer than
// these. Threads: the agent's loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "agent/cloud_client.h"
#include "agent/platform/http_client.h"
#include "common/sync_codec.h"

namespace edgefleet::agent {

class HttpCloudClient final : public CloudClient {
 public:
  HttpCloudClient(HttpClient& http, std::string token, std::chrono::milliseconds timeout);
  void Classify(ClassifyRequest request, ClassifyCallback done) override;

 private:
  HttpClient& http_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

class HttpSyncSink final : public SyncSink {
 public:
  using StateFn = std::function<sync_codec::DeviceState()>;
  HttpSyncSink(HttpClient& http, std::string device_id, std::string token, std::chrono::milliseconds timeout,
               StateFn state = {});
  void Send(const sync::SyncBatch& batch, SyncCallback done) override;
  std::uint64_t last_upload_bytes() const override { return last_upload_bytes_; }

 private:
  HttpClient& http_;
  std::string device_id_;
  std::string token_;
  std::chrono::milliseconds timeout_;
  StateFn state_;
  std::uint64_t last_upload_bytes_ = 0;
};

// The Error for a non-2xx response (the server's message when its body is
// {"error","message"}); exposed for tests.
common::Error HttpStatusError(const HttpResponse& response, const char* what);

// Drops from `ack` every sequence number that is not in `batch`.
sync::IngestResult RestrictAckToBatch(const sync::IngestResult& ack, const sync::SyncBatch& batch);

}  // namespace edgefleet::agent
