// The agent's HTTP side over loopback: BeastHttpClient against a small Beast
// server in the test (port 0), HttpCloudClient's /classify, HttpSyncSink's
// /api/sync with the real codec, and their failure modes.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "agent/http_cloud.h"
#include "agent/platform/beast_http_client.h"
#include "common/sync_codec.h"
#include "tests/agent/test_http_server.h"

namespace edgefleet::agent {
namespace {

namespace asio = testing::asio;
namespace http = testing::http;
using testing::Req;
using testing::Res;
using testing::tcp;
using testing::TestServer;

template <typename T>
T RunUntil(asio::io_context& io, std::optional<T>& slot) {
  io.restart();
  while (!slot && io.run_one() > 0) {
  }
  return std::move(*slot);
}

TEST(ParseBaseUrl, AcceptsHttpHostPortOnly) {
  auto e = ParseBaseUrl("http://127.0.0.1:8000/");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.value().host, "127.0.0.1");
  EXPECT_EQ(e.value().port, "8000");
  e = ParseBaseUrl("http://[::1]:9");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e.value().host, "::1");
  EXPECT_EQ(ParseBaseUrl("http://example").value().port, "80");
  for (const char* bad : {"", "ftp://x", "http://", "http://h:0", "http://h:70000", "http://h/path", "https://h"}) {
    EXPECT_FALSE(ParseBaseUrl(bad).ok()) << bad;
  }
}

TEST(HttpCloudClient, PostsTheSeedsClassifyRequestWithTheBearerToken) {
  TestServer server([](const Req& req, Res& res) {
    const auto body = nlohmann::json::parse(req.body());
    res.set(http::field::content_type, "application/json");
    res.body() = nlohmann::json{{"classification", "anomaly"},
                                {"label", 1},
                                {"confidence", 0.88},
                                {"mse", body.at("edge_mse").get<double>() * 2},
                                {"model_version", "cloud-3"}}
                     .dump();
    return true;
  });
  asio::io_context io;
  BeastHttpClient http_client(io, ParseBaseUrl(server.url()).value());
  HttpCloudClient cloud(http_client, "tok-1", std::chrono::seconds(5));
  ClassifyRequest request{"dev-9", std::vector<float>(300, 0.25f), 1.5, 7};
  std::optional<common::Expected<ClassifyAnswer>> answer;
  cloud.Classify(request, [&](common::Expected<ClassifyAnswer> a) { answer = std::move(a); });
  auto a = RunUntil(io, answer);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a.value().classification, "anomaly");
  EXPECT_EQ(a.value().label, 1);
  EXPECT_DOUBLE_EQ(a.value().confidence, 0.88);
  EXPECT_DOUBLE_EQ(a.value().mse, 3.0);
  EXPECT_EQ(a.value().model_version, "cloud-3");
  ASSERT_EQ(server.requests().size(), 1u);
  const auto req = server.requests()[0];
  EXPECT_EQ(req.target(), "/classify");
  EXPECT_EQ(req[http::field::authorization], "Bearer tok-1");
  const auto body = nlohmann::json::parse(req.body());
  EXPECT_EQ(body.at("device_id"), "dev-9");
  EXPECT_EQ(body.at("features").size(), 300u);
  EXPECT_EQ(body.at("edge_mse"), 1.5);
  EXPECT_EQ(body.at("model_version"), 7);
}

TEST(HttpCloudClient, ErrorsTimeoutsAndRefusals) {
  int call = 0;
  TestServer server([&](const Req&, Res& res) {
    switch (call++) {
      case 0:
        res.result(http::status::unauthorized);
        res.body() = R"({"error":"unauthenticated","message":"unknown device token"})";
        return true;
      case 1:
        res.body() = "{not json";
        return true;
      case 2:
        res.result(http::status::service_unavailable);
        return true;
      default:
        return false;  // never answers
    }
  });
  asio::io_context io;
  BeastHttpClient http_client(io, ParseBaseUrl(server.url()).value());
  HttpCloudClient cloud(http_client, "t", std::chrono::milliseconds(300));
  const ClassifyRequest request{"d", std::vector<float>(300, 0.0f), 1.0, 1};
  auto classify = [&] {
    std::optional<common::Expected<ClassifyAnswer>> answer;
    cloud.Classify(request, [&](common::Expected<ClassifyAnswer> a) { answer = std::move(a); });
    return RunUntil(io, answer);
  };
  auto a = classify();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code(), common::ErrorCode::kUnauthenticated);
  EXPECT_NE(a.error().message().find("unknown device token"), std::string::npos);
  a = classify();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code(), common::ErrorCode::kCorrupt);
  a = classify();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code(), common::ErrorCode::kUnavailable);
  a = classify();
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code(), common::ErrorCode::kDeadlineExceeded) << a.error().ToString();

  // Nobody listening.
  unsigned short closed_port = 0;
  {
    asio::io_context tmp;
    tcp::acceptor acceptor(tmp, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    closed_port = acceptor.local_endpoint().port();
  }
  BeastHttpClient refused(io, ParseBaseUrl("http://127.0.0.1:" + std::to_string(closed_port)).value());
  HttpCloudClient nowhere(refused, "t", std::chrono::seconds(5));
  std::optional<common::Expected<ClassifyAnswer>> answer;
  nowhere.Classify(request, [&](common::Expected<ClassifyAnswer> r) { answer = std::move(r); });
  auto r = RunUntil(io, answer);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), common::ErrorCode::kUnavailable) << r.error().ToString();
}

TEST(HttpSyncSink, SendsTheCodecsBodyAndPassesOnOnlyWhatWasSent) {
  std::optional<sync_codec::SyncMessage> received;
  TestServer server([&](const Req& req, Res& res) {
    auto message = sync_codec::DecodeSyncMessage(req.body(), std::string(req[http::field::content_type]),
                                                 std::string(req[http::field::content_encoding]));
    if (!message.ok()) {
      res.result(http::status::bad_request);
      return true;
    }
    received = message.value();
    sync::IngestResult ack;
    for (const auto& r : message.value().batch.inferences) ack.inferences.stored.push_back(r.seq);
    ack.inferences.already_present.push_back(999);  // never sent: must not reach the agent
    for (const auto& r : message.value().batch.health) ack.health.already_present.push_back(r.seq);
    res.body() = sync_codec::EncodeSyncAck(ack);
    return true;
  });
  asio::io_context io;
  BeastHttpClient http_client(io, ParseBaseUrl(server.url()).value());
  HttpSyncSink sink(http_client, "dev-5", "tok", std::chrono::seconds(5), [] {
    sync_codec::DeviceState state;
    state.model_version = 3;
    state.buffer_depth = 12;
    return state;
  });
  sync::SyncBatch batch;
  for (std::int64_t s = 1; s <= 3; ++s) {
    sync::InferenceRow row;
    row.seq = s;
    row.ts_ms = 1'800'000'000'000 + s;
    row.model_version = 3;
    row.decision = "normal";
    row.confidence = 0.9;
    row.mse = 0.5;
    row.input_hash = std::string(64, 'a');
    batch.inferences.push_back(row);
  }
  sync::HealthRow health;
  health.seq = 4;
  health.model_version = 3;
  health.period_start_ms = 1;
  health.period_end_ms = 2;
  health.stats_json = R"({"windows":1})";
  batch.health.push_back(health);
  std::optional<common::Expected<sync::IngestResult>> ack;
  sink.Send(batch, [&](common::Expected<sync::IngestResult> a) { ack = std::move(a); });
  auto a = RunUntil(io, ack);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a.value().inferences.stored, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_TRUE(a.value().inferences.already_present.empty());
  EXPECT_EQ(a.value().health.already_present, (std::vector<std::int64_t>{4}));
  ASSERT_TRUE(received.has_value());
  EXPECT_EQ(received->device_id, "dev-5");
  EXPECT_EQ(received->batch.inferences, batch.inferences);
  ASSERT_TRUE(received->state.has_value());
  EXPECT_EQ(received->state->buffer_depth, 12);
  EXPECT_GT(sink.last_upload_bytes(), 0u);
  EXPECT_EQ(server.requests().at(0)[http::field::authorization], "Bearer tok");
}

}  // namespace
}  // namespace edgefleet::agent
