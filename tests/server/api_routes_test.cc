// The API's routes called with hand-built Requests on a real ServerContext
// (SQLite in a temporary data dir, real trained models, a real signing key).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/manifest.h"
#include "common/sync_codec.h"
#include "tests/server/api_fixture.h"

namespace edgefleet::server::api::testing {
namespace {

using nlohmann::json;

json Body(const http::Response& r) { return json::parse(r.body, nullptr, false); }

void ExpectError(const http::Response& r, unsigned status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  const json body = Body(r);
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(body.value("error", ""), code) << r.body;
  EXPECT_FALSE(body.value("message", "").empty());
}

// ---- /classify ---------------------------------------------------------------------

TEST_F(ApiTest, ClassifyAnswersTheSpecFieldsAndStoresTheEscalation) {
  PublishV1();
  const http::Response r = Post("/classify", ClassifyBody(), device_token_);
  ASSERT_EQ(r.status, 200u) << r.body;
  const json body = Body(r);
  for (const char* key : {"classification", "label", "confidence", "mse", "model_version"}) {
    EXPECT_TRUE(body.contains(key)) << key;
  }
  EXPECT_TRUE(body["classification"] == "normal" || body["classification"] == "anomaly");
  EXPECT_EQ(body["label"], body["classification"] == "anomaly" ? 1 : 0);
  EXPECT_GE(body["confidence"].get<double>(), 0.5);
  EXPECT_LE(body["confidence"].get<double>(), 1.0);
  EXPECT_GE(body["mse"].get<double>(), 0.0);
  EXPECT_EQ(body["model_version"], 1);

  ctx_->writer->Flush();
  const auto stored = ctx_->store->ListEscalations({}, 10).value();
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].device_id, "fan-0001");
  EXPECT_EQ(stored[0].received_ms, kStartMs);
  EXPECT_DOUBLE_EQ(stored[0].edge_mse, 0.021);
  EXPECT_EQ(stored[0].model_version, 1);
  EXPECT_EQ(stored[0].label, body["label"].get<int>());
  EXPECT_FLOAT_EQ(static_cast<float>(stored[0].cloud_mse), body["mse"].get<float>());
  EXPECT_EQ(ctx_->store->GetDevice("fan-0001").value().counters.escalations, 1);

  // The same escalation, one JSON line, in the log for retraining.
  std::ifstream log(config_.log_path);
  std::string line;
  ASSERT_TRUE(std::getline(log, line));
  const json logged = json::parse(line);
  EXPECT_EQ(logged["id"], stored[0].id);
  EXPECT_EQ(logged["device_id"], "fan-0001");
  EXPECT_EQ(logged["classification"], body["classification"]);
  ASSERT_EQ(logged["features"].size(), 300u);
  EXPECT_FLOAT_EQ(logged["features"][7].get<float>(), stored[0].features[7]);
  EXPECT_FALSE(std::getline(log, line));
}

TEST_F(ApiTest, ClassifyRefusesBadInputWithJsonErrors) {
  ExpectError(Post("/classify", ClassifyBody(), ""), 401, "unauthenticated");
  ExpectError(Post("/classify", ClassifyBody(), "wrong"), 401, "unauthenticated");
  ExpectError(Post("/classify", ClassifyBody(), other_token_), 403, "permission_denied");
  ExpectError(Post("/classify", ClassifyBody("ghost"), admin_token_), 404, "unknown_device");
  ExpectError(Post("/classify", "{", device_token_), 400, "invalid_json");
  ExpectError(Post("/classify", "[]", device_token_), 400, "invalid_json");
  ExpectError(Post("/classify", R"({"device_id":"fan-0001","edge_mse":0.1})", device_token_), 400,
              "invalid_argument");
  ctx_->writer->Flush();
  EXPECT_EQ(ctx_->store->CountEscalations({}).value(), 0);
  EXPECT_EQ(ctx_->metrics.classify_rejected.load(), 7u);
}

TEST_F(ApiTest, ClassifyWithTheAdminTokenActsForAnyKnownDevice) {
  ASSERT_EQ(Post("/classify", ClassifyBody("fan-0002"), admin_token_).status, 200u);
}

class ApiWithoutCloudModelTest : public ApiTest {
 protected:
  void SetUp() override { Open(true, false); }
};

TEST_F(ApiWithoutCloudModelTest, ClassifyAnswersServiceUnavailable) {
  ExpectError(Post("/classify", ClassifyBody(), device_token_), 503, "model_unavailable");
  EXPECT_EQ(Get("/healthz", "").status, 200u);
}

// ---- auth cache ------------------------------------------------------------------------

TEST_F(ApiTest, TokenChecksAreCachedAfterTheFirst) {
  ASSERT_EQ(Get("/model/thresholds", device_token_).status, 404u);  // no model yet, but authorized
  const auto misses = ctx_->metrics.auth_cache_misses.load();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Get("/model/thresholds", device_token_).status, 404u);
  EXPECT_EQ(ctx_->metrics.auth_cache_misses.load(), misses);
  // A device registered after the server started (by the CLI) is found on its first request.
  AddToken("efd_late_device", "fan-late");
  EXPECT_EQ(Get("/model/version?device_id=fan-late", "efd_late_device").status, 404u);
  ExpectError(Get("/api/devices", device_token_), 403, "permission_denied");
  EXPECT_EQ(Get("/api/devices", admin_token_).status, 200u);
}

TEST_F(ApiTest, BasicAuthCarriesTheAdminTokenForBrowsers) {
  const std::string basic = "Basic " + common::Base64Encode(common::AsBytes("admin:" + admin_token_)).value();
  const http::Response page = Do({http::Method::kGet, "/", "", {{"Authorization", basic}}});
  EXPECT_EQ(page.status, 200u);
  EXPECT_NE(page.body.find("fan-0001"), std::string::npos);
  const http::Response denied = Do({http::Method::kGet, "/", "", {}});
  EXPECT_EQ(denied.status, 401u);
  ASSERT_FALSE(denied.headers.empty());
  EXPECT_EQ(denied.headers[0].first, "WWW-Authenticate");
}

// ---- models ---------------------------------------------------------------------------

TEST_F(ApiTest, ModelRoutesAnswerFromTheRegistry) {
  ExpectError(Get("/model/version", device_token_), 404, "no_model");
  const store::Model v1 = PublishV1();
  http::Response r = Get("/model/version?device_id=fan-0001", device_token_);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(Body(r), (json{{"version", 1}, {"filename", v1.filename}, {"size_bytes", v1.size_bytes},
                          {"sha256", v1.sha256}}));
  r = Get("/model/thresholds", device_token_);
  ASSERT_EQ(r.status, 200u);
  const json t = Body(r);
  EXPECT_EQ(t["version"], 1);
  for (const char* key : {"low_threshold", "high_threshold", "mu", "sigma", "k_low", "k_high"}) {
    EXPECT_TRUE(t[key].is_number()) << key;
  }
  EXPECT_LE(t["low_threshold"].get<double>(), t["high_threshold"].get<double>());
  // Signed: X-Edgefleet-Signature over the body's exact bytes, with the server key (docs/ota.md).
  std::string signature;
  for (const auto& [n, v] : r.headers) {
    if (n == "X-Edgefleet-Signature") signature = v;
  }
  const auto server_key = common::ReadPublicKeyPem(PublicKeyPath(dir_.path()));
  ASSERT_TRUE(server_key.ok());
  const auto decoded = common::Base64Decode(signature);
  ASSERT_TRUE(decoded.ok()) << signature;
  ASSERT_EQ(decoded.value().size(), common::kEd25519SignatureBytes);
  const std::vector<std::uint8_t>& sig = decoded.value();
  EXPECT_TRUE(common::Verify(server_key.value(), common::AsBytes(r.body), sig).ok());
  std::string tampered = r.body;
  tampered.back() = tampered.back() == '}' ? ' ' : '}';
  EXPECT_FALSE(common::Verify(server_key.value(), common::AsBytes(tampered), sig).ok());
  ExpectError(Get("/model/version?device_id=fan-0001", other_token_), 403, "permission_denied");
}

TEST_F(ApiTest, DownloadServesRangesEtagsAndNoPaths) {
  const store::Model v1 = PublishV1();
  const auto size = static_cast<std::uint64_t>(v1.size_bytes);
  http::Response r = Get("/model/download", device_token_);
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.file->offset, 0u);
  EXPECT_EQ(r.file->length, size);
  EXPECT_EQ(r.file->path, (ModelsDir(dir_.path()) / v1.filename).string());
  EXPECT_EQ(common::Sha256FileHex(r.file->path).value(), v1.sha256);
  const auto header = [](const http::Response& resp, const std::string& name) {
    for (const auto& [n, v] : resp.headers) {
      if (n == name) return v;
    }
    return std::string();
  };
  EXPECT_EQ(header(r, "ETag"), "\"" + v1.sha256 + "\"");
  EXPECT_EQ(header(r, "X-Edgefleet-Signature"), v1.signature);  // the whole artifact's, on 200 and 206
  EXPECT_FALSE(v1.signature.empty());

  r = Get("/model/download?version=1", device_token_, {{"Range", "bytes=100-"}});
  ASSERT_EQ(r.status, 206u);
  EXPECT_EQ(r.file->offset, 100u);
  EXPECT_EQ(r.file->length, size - 100);
  EXPECT_EQ(header(r, "Content-Range"), "bytes 100-" + std::to_string(size - 1) + "/" + std::to_string(size));
  EXPECT_EQ(header(r, "X-Edgefleet-Signature"), v1.signature);

  r = Get("/model/download", device_token_, {{"If-None-Match", "\"" + v1.sha256 + "\""}});
  EXPECT_EQ(r.status, 304u);
  EXPECT_FALSE(r.file.has_value());

  r = Get("/model/download", device_token_, {{"Range", "bytes=" + std::to_string(size) + "-"}});
  ExpectError(r, 416, "range_not_satisfiable");
  EXPECT_EQ(header(r, "Content-Range"), "bytes */" + std::to_string(size));
  ExpectError(Get("/model/download", device_token_, {{"Range", "bytes=0-1,1-2"}}), 416, "range_not_satisfiable");
  // If-Range naming another version: the whole artifact.
  r = Get("/model/download", device_token_, {{"Range", "bytes=5-9"}, {"If-Range", "\"other\""}});
  EXPECT_EQ(r.status, 200u);

  ExpectError(Get("/model/download?version=../../etc/passwd", device_token_), 400, "invalid_argument");
  ExpectError(Get("/model/download?version=%2e%2e%2fkeys%2fserver.key", device_token_), 400, "invalid_argument");
  ExpectError(Get("/model/download?version=2", device_token_), 404, "not_found");
  ExpectError(Get("/model/download?version=1", ""), 401, "unauthenticated");
  ASSERT_TRUE(ctx_->store->SetModelStatus(1, store::ModelStatus::kHalted).ok());
  ExpectError(Get("/model/download?version=1", device_token_), 404, "not_found");
}

TEST_F(ApiTest, PublishRouteNeedsTheAdminAndAValidNewVersion) {
  const std::string& v2 = TrainedModels().edge_v2;
  ExpectError(Post("/api/models", v2, device_token_), 403, "permission_denied");
  ExpectError(Post("/api/models", "not an artifact", admin_token_), 400, "invalid_argument");
  http::Response r = Post("/api/models?min_device_ram_mb=256&min_firmware_version=2.1.0", v2, admin_token_);
  ASSERT_EQ(r.status, 201u) << r.body;
  const json m = Body(r);
  EXPECT_EQ(m["version"], 2);
  EXPECT_EQ(m["min_device_ram_mb"], 256);
  EXPECT_EQ(m["min_firmware_version"], "2.1.0");
  EXPECT_EQ(m["sha256"], common::Sha256Hex(v2).value());
  // The artifact's signature verifies with the server's public key.
  const auto pub = common::ReadPublicKeyPem(PublicKeyPath(dir_.path())).value();
  EXPECT_TRUE(common::Verify(pub, common::AsBytes(v2),
                             common::Base64Decode(m["signature"].get<std::string>()).value())
                  .ok());
  ExpectError(Post("/api/models", v2, admin_token_), 409, "already_exists");
  ExpectError(Post("/api/models", TrainedModels().golden_v1, admin_token_), 409, "conflict");
  r = Get("/api/models", admin_token_);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(Body(r)["models"].size(), 1u);
}

// ---- updates ----------------------------------------------------------------------------

TEST_F(ApiTest, UpdateCheckOffersASignedManifestOfExactlyEightFields) {
  http::Response r = Get("/api/updates/check?device_id=fan-0001&current_version=0&device_ram_mb=512", device_token_);
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(Body(r)["update_available"], false);
  const store::Model v1 = PublishV1();
  r = Get("/api/updates/check?device_id=fan-0001&current_version=0&device_ram_mb=512&firmware_version=1.0.0",
          device_token_);
  ASSERT_EQ(r.status, 200u) << r.body;
  const json body = Body(r);
  ASSERT_EQ(body["update_available"], true);
  ASSERT_EQ(body["manifest"].size(), 8u);
  auto manifest = common::ParseManifest(body["manifest"].dump());
  ASSERT_TRUE(manifest.ok()) << manifest.error().ToString();
  EXPECT_EQ(manifest->version, 1);
  EXPECT_EQ(manifest->sha256, v1.sha256);
  EXPECT_EQ(manifest->size_bytes, v1.size_bytes);
  EXPECT_EQ(manifest->url, "http://fleet.test:8000/model/download?version=1");
  EXPECT_EQ(manifest->rollout_percentage, 100);
  const auto pub = common::ReadPublicKeyPem(PublicKeyPath(dir_.path())).value();
  EXPECT_TRUE(common::VerifyManifest(pub, manifest.value(), body["signature"].get<std::string>()).ok());
  // The device's report reaches the store through the background writer.
  ctx_->writer->Flush();
  const store::Device d = ctx_->store->GetDevice("fan-0001").value();
  EXPECT_EQ(d.ram_mb, 512);
  EXPECT_EQ(d.firmware_version, "1.0.0");
  EXPECT_EQ(d.last_seen_ms, kStartMs);

  r = Get("/api/updates/check?device_id=fan-0001&current_version=1&device_ram_mb=512", device_token_);
  EXPECT_EQ(Body(r)["reason"], "up_to_date");
  ExpectError(Get("/api/updates/check?current_version=0", device_token_), 400, "invalid_argument");
  ExpectError(Get("/api/updates/check?device_id=fan-0001&current_version=abc", device_token_), 400,
              "invalid_argument");
}

TEST_F(ApiTest, UpdateCheckEnforcesRamAndFirmware) {
  ASSERT_EQ(Post("/api/models?min_device_ram_mb=256&min_firmware_version=1.10.0", TrainedModels().edge_v2,
                 admin_token_)
                .status,
            201u);
  const auto check = [&](const std::string& query) {
    return Body(Get("/api/updates/check?device_id=fan-0001&current_version=1" + query, device_token_));
  };
  EXPECT_EQ(check("&device_ram_mb=128&firmware_version=1.10.0")["reason"], "insufficient_ram");
  EXPECT_EQ(check("&firmware_version=1.10.0")["reason"], "insufficient_ram");
  EXPECT_EQ(check("&device_ram_mb=256&firmware_version=1.9.9")["reason"], "firmware_too_old");
  EXPECT_EQ(check("&device_ram_mb=256")["reason"], "firmware_too_old");
  EXPECT_EQ(check("&device_ram_mb=256&firmware_version=1.10")["update_available"], true);
  EXPECT_EQ(check("&device_ram_mb=4096&firmware_version=2.0.0")["update_available"], true);
}

TEST_F(ApiTest, UpdateStatusIsIdempotentAndActiveSetsTheReportedVersion) {
  const auto status = [&](const std::string& s, const std::string& extra = R"(,"error":null)") {
    return Post("/api/updates/status", R"({"device_id":"fan-0001","status":")" + s + R"(","version":3)" + extra + "}",
                device_token_);
  };
  http::Response r = status("downloading");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(Body(r)["recorded"], true);
  EXPECT_EQ(Body(status("downloading"))["recorded"], false);
  EXPECT_FALSE(ctx_->store->GetDevice("fan-0001").value().reported_model_version.has_value());
  ASSERT_EQ(status("active").status, 200u);
  EXPECT_EQ(ctx_->store->GetDevice("fan-0001").value().reported_model_version, 3);
  ASSERT_EQ(status("failed", R"(,"error":"hash mismatch")").status, 200u);

  r = Get("/api/devices/fan-0001", admin_token_);
  ASSERT_EQ(r.status, 200u);
  const json d = Body(r);
  ASSERT_EQ(d["ota_history"].size(), 3u);
  EXPECT_EQ(d["ota_history"][0]["status"], "downloading");
  EXPECT_EQ(d["ota_history"][1]["status"], "active");
  EXPECT_EQ(d["ota_history"][2]["error"], "hash mismatch");
  EXPECT_EQ(d["reported_model_version"], 3);
  EXPECT_EQ(d["state"], "online");

  ExpectError(status("exploded"), 400, "invalid_argument");
  ExpectError(Post("/api/updates/status", R"({"device_id":"fan-0001","status":"active","version":-1})", device_token_),
              400, "invalid_argument");
  ExpectError(Post("/api/updates/status", R"({"device_id":"fan-0002","status":"active","version":1})", device_token_),
              403, "permission_denied");
}

// ---- devices ----------------------------------------------------------------------------

TEST_F(ApiTest, DevicesListShowsStatesFromTheClock) {
  ASSERT_EQ(Post("/classify", ClassifyBody(), device_token_).status, 200u);
  ctx_->writer->Flush();
  clock_.Advance(config_.online_window_s * 1000 + 1);
  http::Response r = Get("/api/devices", admin_token_);
  ASSERT_EQ(r.status, 200u);
  const json list = Body(r)["devices"];
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["id"], "fan-0001");
  EXPECT_EQ(list[0]["state"], "stale");
  EXPECT_EQ(list[0]["escalations"], 1);
  EXPECT_EQ(list[1]["state"], "offline");  // never seen
  ExpectError(Get("/api/devices/ghost", admin_token_), 404, "unknown_device");
  ExpectError(Get("/api/devices/..%2f..", admin_token_), 400, "invalid_argument");
}

// ---- sync -------------------------------------------------------------------------------

TEST_F(ApiTest, SyncStoresABatchOnceAndAcknowledgesAReplay) {
  sync_codec::SyncMessage m;
  m.device_id = "fan-0001";
  sync_codec::DeviceState state;
  state.model_version = 1;
  state.buffer_depth = 7;
  state.bytes_sent = {{"adaptive", 1234}};
  m.state = state;
  for (int i = 0; i < 3; ++i) {
    sync::InferenceRow row;
    row.seq = i;
    row.ts_ms = kStartMs + i;
    row.model_version = 1;
    row.decision = "normal";
    row.confidence = 0.9;
    row.mse = 0.01;
    row.input_hash = "h" + std::to_string(i);
    row.fallback = i == 2;
    m.batch.inferences.push_back(row);
  }
  const std::string body = sync_codec::EncodeSyncMessage(m, sync_codec::SyncFormat::kColumnar, true).value();
  const std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", std::string(sync_codec::ContentType(sync_codec::SyncFormat::kColumnar))},
      {"Content-Encoding", "zstd"}};
  http::Response r = Post("/api/sync", body, device_token_, headers);
  ASSERT_EQ(r.status, 200u) << r.body;
  auto ack = sync_codec::DecodeSyncAck(r.body).value();
  EXPECT_EQ(ack.inferences.stored, (std::vector<std::int64_t>{0, 1, 2}));
  EXPECT_TRUE(ack.inferences.already_present.empty());
  r = Post("/api/sync", body, device_token_, headers);
  ack = sync_codec::DecodeSyncAck(r.body).value();
  EXPECT_TRUE(ack.inferences.stored.empty());
  EXPECT_EQ(ack.inferences.already_present, (std::vector<std::int64_t>{0, 1, 2}));
  const store::Device d = ctx_->store->GetDevice("fan-0001").value();
  EXPECT_EQ(d.counters.rows_synced, 3);
  EXPECT_EQ(d.counters.fallbacks, 1);
  EXPECT_EQ(d.buffer_depth, 7);
  EXPECT_EQ(d.reported_model_version, 1);
  EXPECT_EQ(json::parse(d.health_json)["bytes_sent"]["adaptive"], 1234);

  ExpectError(Post("/api/sync", body, other_token_, headers), 403, "permission_denied");
  ExpectError(Post("/api/sync", "{not json", device_token_), 400, "invalid_argument");
  ExpectError(Post("/api/sync", body, ""), 401, "unauthenticated");
}

// ---- ops ---------------------------------------------------------------------------------

TEST_F(ApiTest, MetricsAndHealthNeedNoToken) {
  ASSERT_EQ(Post("/classify", ClassifyBody(), device_token_).status, 200u);
  ctx_->writer->Flush();
  http::Response r = Get("/metrics", "");
  ASSERT_EQ(r.status, 200u);
  EXPECT_NE(r.body.find("edgefleet_escalations_stored_total 1\n"), std::string::npos) << r.body;
  EXPECT_NE(r.content_type.find("text/plain"), std::string::npos);
  r = Get("/healthz", "");
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(Body(r)["status"], "ok");
}

}  // namespace
}  // namespace edgefleet::server::api::testing
