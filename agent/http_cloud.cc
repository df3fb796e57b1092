#include "agent/http_cloud.h"

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

namespace edgefleet::agent {
namespace {

using common::Error;
using common::ErrorCode;
using common::Expected;
using nlohmann::json;

Expected<ClassifyAnswer> ParseAnswer(const std::string& body) {
  try {
    const json j = json::parse(body);
    ClassifyAnswer a;
    a.classification = j.at("classification").get<std::string>();
    a.label = j.value("label", a.classification == "anomaly" ? 1 : 0);
    a.confidence = j.at("confidence").get<double>();
    a.mse = j.value("mse", 0.0);
    if (j.contains("model_version")) {
      const auto& v = j.at("model_version");
      a.model_version = v.is_string() ? v.get<std::string>() : v.dump();
    }
    if ((a.classification != "normal" && a.classification != "anomaly") || !std::isfinite(a.confidence)) {
      return Error(ErrorCode::kCorrupt, "the cloud's answer has no valid classification");
    }
    return a;
  } catch (const json::exception& e) {
    return Error(ErrorCode::kCorrupt, std::string("the cloud's answer is not the /classify JSON: ") + e.what());
  }
}

}  // namespace

Error HttpStatusError(const HttpResponse& response, const char* what) {
  std::string message = std::string(what) + ": HTTP " + std::to_string(response.status);
  try {
    const json j = json::parse(response.body);
    if (j.is_object() && j.contains("message") && j.at("message").is_string()) {
      message += ": " + j.at("message").get<std::string>();
    }
  } catch (const json::exception&) {
  }
  if (response.status == 401 || response.status == 403) return Error(ErrorCode::kUnauthenticated, message);
  if (response.status >= 400 && response.status < 500) return Error(ErrorCode::kInvalidArgument, message);
  return Error(ErrorCode::kUnavailable, message);
}

HttpCloudClient::HttpCloudClient(HttpClient& http, std::string token, std::chrono::milliseconds timeout)
    : http_(http), token_(std::move(token)), timeout_(timeout) {}

void HttpCloudClient::Classify(ClassifyRequest request, ClassifyCallback done) {
  json body = {{"device_id", request.device_id},
               {"features", request.features},
               {"edge_mse", request.edge_mse},
               {"model_version", request.model_version}};
  HttpRequest http_request;
  http_request.target = "/classify";
  http_request.body = body.dump();
  http_request.timeout = timeout_;
  if (!token_.empty()) http_request.headers.emplace_back("Authorization", "Bearer " + token_);
  http_.Send(std::move(http_request), [done = std::move(done)](Expected<HttpResponse> response) {
    if (!response.ok()) return done(Error(response.error()).WithContext("POST /classify"));
    if (response.value().status / 100 != 2) return done(HttpStatusError(response.value(), "POST /classify"));
    done(ParseAnswer(response.value().body));
  });
}

HttpSyncSink::HttpSyncSink(HttpClient& http, std::string device_id, std::string token,
                           std::chrono::milliseconds timeout, StateFn state)
    : http_(http), device_id_(std::move(device_id)), token_(std::move(token)), timeout_(timeout),
      state_(std::move(state)) {}

void HttpSyncSink::Send(const sync::SyncBatch& batch, SyncCallback done) {
  sync_codec::SyncMessage message;
  message.device_id = device_id_;
  if (state_) message.state = state_();
  message.batch = batch;
  auto body = sync_codec::EncodeSyncMessage(message, sync_codec::SyncFormat::kColumnar, true);
  last_upload_bytes_ = 0;
  if (!body.ok()) return done(Error(body.error()).WithContext("encoding the sync batch"));
  last_upload_bytes_ = body.value().size();
  HttpRequest request;
  request.target = "/api/sync";
  request.content_type = std::string(sync_codec::ContentType(sync_codec::SyncFormat::kColumnar));
  request.headers.emplace_back("Content-Encoding", std::string(sync_codec::kZstdEncoding));
  if (!token_.empty()) request.headers.emplace_back("Authorization", "Bearer " + token_);
  request.body = std::move(body).value();
  request.timeout = timeout_;
  http_.Send(std::move(request), [done = std::move(done), batch](Expected<HttpResponse> response) {
    if (!response.ok()) return done(Error(response.error()).WithContext("POST /api/sync"));
    if (response.value().status / 100 != 2) return done(HttpStatusError(response.value(), "POST /api/sync"));
    auto ack = sync_codec::DecodeSyncAck(response.value().body);
    if (!ack.ok()) return done(Error(ack.error()).WithContext("the sync acknowledgement"));
    done(RestrictAckToBatch(ack.value(), batch));
  });
}

sync::IngestResult RestrictAckToBatch(const sync::IngestResult& ack, const sync::SyncBatch& batch) {
  auto restrict = [](const sync::SeqAck& in, const std::set<std::int64_t>& sent) {
    sync::SeqAck out;
    for (auto s : in.stored) {
      if (sent.count(s) != 0) out.stored.push_back(s);
    }
    for (auto s : in.already_present) {
      if (sent.count(s) != 0) out.already_present.push_back(s);
    }
    return out;
  };
  std::set<std::int64_t> inferences, hard, health;
  for (const auto& r : batch.inferences) inferences.insert(r.seq);
  for (const auto& r : batch.hard_samples) hard.insert(r.seq);
  for (const auto& r : batch.health) health.insert(r.seq);
  sync::IngestResult out;
  out.inferences = restrict(ack.inferences, inferences);
  out.hard_samples = restrict(ack.hard_samples, hard);
  out.health = restrict(ack.health, health);
  return out;
}

}  // namespace edgefleet::agent
