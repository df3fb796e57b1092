// Fixtures of the API's tests: real models trained once per test binary on
// the shipped recordings, a ServerContext on a temporary data dir with a
// signing key, a device and an admin token, and a way to call the routes
// with hand-built Requests (no socket).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/crypto.h"
#include "common/file.h"
#include "ml/cloud_model.h"
#include "ml/dataset.h"
#include "ml/training.h"
#include "server/api/context.h"
#include "server/clock.h"
#include "server/registry.h"
#include "tests/support/temp_dir.h"

namespace edgefleet::server::api::testing {

// edge.efm (model version 2), cloud.efcm, trained once per process.
struct Models {
  std::filesystem::path dir;
  std::string edge_v2;       // artifact bytes, version 2
  std::string golden_v1;     // tests/data/golden/edge-seed1.efm, version 1
  std::vector<float> normal_window;  // a real window of normal_med, 300 values
};

inline const Models& TrainedModels() {
  static const Models* models = [] {
    static TempDir dir;
    auto* m = new Models;
    m->dir = dir.path();
    auto data = ml::LoadRecordings(std::filesystem::path(EDGEFLEET_SOURCE_DIR) / "data" / "ceiling-fan.efr");
    EXPECT_TRUE(data.ok()) << data.error;
    ml::PipelineConfig config;
    config.model_version = 2;
    // Few epochs: the tests need real, valid models, not good ones (and the
    // ASan tree trains at -O0).
    config.edge_train.max_epochs = 4;
    config.cloud_train.max_epochs = 4;
    config.bank_per_mode = 64;
    // The first captures of every recording: a small real dataset.
    ml::Dataset subset;
    for (const ml::Recording& r : data.value.recordings) {
      ml::Recording part = r;
      if (r.captures() > 40) {
        const std::uint32_t end = r.capture_starts[40];
        part.capture_starts.resize(40);
        part.counts.resize(static_cast<std::size_t>(end) * ml::kAxes);
      }
      subset.recordings.push_back(std::move(part));
    }
    auto trained = ml::TrainModels(subset, config);
    EXPECT_TRUE(trained.ok()) << trained.error;
    m->edge_v2.assign(trained.value.artifact.begin(), trained.value.artifact.end());
    EXPECT_TRUE(ml::SaveCloudModel(trained.value.cloud, m->dir / "cloud.efcm").ok());
    auto golden = common::ReadFile(std::filesystem::path(EDGEFLEET_SOURCE_DIR) / "tests/data/golden/edge-seed1.efm",
                                   1 << 20);
    EXPECT_TRUE(golden.ok());
    m->golden_v1 = golden.value_or(std::string());
    for (const ml::Recording& r : data.value.recordings) {
      if (r.name != "normal_med") continue;
      for (std::size_t i = 0; i < 300; ++i) {
        m->normal_window.push_back(static_cast<float>(r.counts[3000 + i]) / 2048.0f);
      }
    }
    EXPECT_EQ(m->normal_window.size(), 300u);
    return m;
  }();
  return *models;
}

class ApiTest : public ::testing::Test {
 protected:
  static constexpr std::int64_t kStartMs = 1'800'000'000'000;

  void SetUp() override { Open(); }

  void Open(bool with_key = true, bool with_cloud = true) {
    const Models& models = TrainedModels();
    config_.data_dir = dir_.path().string();
    if (with_cloud) config_.cloud_model = (models.dir / "cloud.efcm").string();
    else config_.cloud_model = (dir_.path() / "missing.efcm").string();
    config_.batch_interval_ms = 1;
    config_.cache_ms = 0;
    config_.public_url = "";
    ASSERT_TRUE(config_.Resolve().ok());
    if (with_key && !std::filesystem::exists(PrivateKeyPath(dir_.path()))) {
      std::filesystem::create_directories(dir_.path() / "keys");
      auto key = common::Ed25519PrivateKey::Generate();
      ASSERT_TRUE(common::WritePrivateKeyPem(key.value(), PrivateKeyPath(dir_.path())).ok());
      ASSERT_TRUE(common::WritePublicKeyPem(key.value().public_key(), PublicKeyPath(dir_.path())).ok());
    }
    auto ctx = OpenServerContext(config_, clock_);
    ASSERT_TRUE(ctx.ok()) << ctx.error().ToString();
    ctx_ = std::move(ctx).value();
    routes_ = BuildRoutes(*ctx_);
    AddToken(device_token_, "fan-0001");
    AddToken(other_token_, "fan-0002");
    auto admin_hash = common::Sha256Hex(admin_token_).value();
    (void)ctx_->store->AddAdminToken(admin_hash, "test", kStartMs);
  }

  void AddToken(const std::string& token, const std::string& device) {
    (void)ctx_->store->AddDevice(device, common::Sha256Hex(token).value(), kStartMs);
  }

  struct Call {
    http::Method method = http::Method::kGet;
    std::string target;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
  };

  http::Response Do(const Call& call) {
    http::Request r;
    r.method = call.method;
    r.target = call.target;
    const std::size_t q = r.target.find('?');
    r.path = r.target.substr(0, q);
    r.query = q == std::string_view::npos ? std::string_view() : r.target.substr(q + 1);
    r.body = call.body;
    for (const auto& [n, v] : call.headers) r.headers.push_back({n, v});
    r.remote = "127.0.0.1";
    return routes_.Dispatch(r);
  }

  http::Response Get(const std::string& target, const std::string& token,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    headers.emplace_back("Host", "fleet.test:8000");
    return Do({http::Method::kGet, target, "", headers});
  }

  http::Response Post(const std::string& target, const std::string& body, const std::string& token,
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    return Do({http::Method::kPost, target, body, headers});
  }

  std::string ClassifyBody(const std::string& device = "fan-0001") const {
    std::string body = "{\"device_id\":\"" + device + "\",\"features\":[";
    const auto& w = TrainedModels().normal_window;
    for (std::size_t i = 0; i < w.size(); ++i) body += (i ? "," : "") + std::to_string(w[i]);
    return body + "],\"edge_mse\":0.021,\"model_version\":1}";
  }

  store::Model PublishV1() {
    const std::string& a = TrainedModels().golden_v1;
    auto m = ctx_->registry->Publish(common::AsBytes(a), {});
    EXPECT_TRUE(m.ok()) << m.error().ToString();
    return m.value_or(store::Model{});
  }

  TempDir dir_;
  ManualClock clock_{kStartMs};
  ServerConfig config_;
  std::unique_ptr<ServerContext> ctx_;
  http::Routes routes_;
  const std::string device_token_ = "efd_device_one_token";
  const std::string other_token_ = "efd_device_two_token";
  const std::string admin_token_ = "efa_admin_token";
};

}  // namespace edgefleet::server::api::testing
