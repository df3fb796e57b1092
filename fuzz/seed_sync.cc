// Writes seed inputs for sync_codec_fuzz: a small message in each of the four
// (format, zstd) cases, a seeds'-shape body, and an acknowledgement, each
// behind the mode byte the target reads first.
//   fuzz_seed_sync CORPUS_DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/sync_codec.h"

using namespace edgefleet;

namespace {

void Write(const std::filesystem::path& path, char mode, const std::string& body) {
  std::ofstream out(path, std::ios::binary);
  out.put(mode);
  out.write(body.data(), static_cast<std::streamsize>(body.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seed_sync CORPUS_DIR\n");
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  sync_codec::SyncMessage m;
  m.device_id = "fan-1";
  m.state = sync_codec::DeviceState{};
  m.state->model_version = 2;
  m.state->bytes_sent = {{"adaptive", 100}};
  for (int i = 0; i < 4; ++i) {
    sync::InferenceRow r;
    r.seq = i;
    r.ts_ms = 1000 + 500 * i;
    r.model_version = 2;
    r.decision = i == 3 ? "anomaly" : "normal";
    r.confidence = 0.75;
    r.mse = 0.125 * i;
    r.latency_us = 150 + i;
    r.input_hash = "00ff00ff";
    m.batch.inferences.push_back(r);
  }
  sync::HardSampleRow h;
  h.seq = 1;
  h.model_version = 2;
  h.window.assign(sync::kWindowValues, 0.5f);
  h.confidence = 0.6;
  h.decision = "normal";
  m.batch.hard_samples.push_back(h);
  sync::HealthRow hr;
  hr.seq = 1;
  hr.period_end_ms = 10;
  hr.stats_json = R"({"inferences":4})";
  m.batch.health.push_back(hr);
  for (int mode = 0; mode < 4; ++mode) {
    const auto format = (mode & 1) ? sync_codec::SyncFormat::kColumnar : sync_codec::SyncFormat::kJson;
    auto body = sync_codec::EncodeSyncMessage(m, format, (mode & 2) != 0);
    if (!body.ok()) return 1;
    Write(dir / ("seed-message-" + std::to_string(mode)), static_cast<char>(mode), body.value());
  }
  Write(dir / "seed-seeds-shape", 0,
        R"({"metadata":[{"id":1,"timestamp":1700000000.5,"model_version":"3","prediction":"normal",)"
        R"("confidence":0.9,"latency_ms":1.25}],"hard_samples":[]})");
  sync::IngestResult ack;
  ack.inferences.stored = {0, 1, 2};
  ack.inferences.already_present = {3};
  Write(dir / "seed-ack", 4, sync_codec::EncodeSyncAck(ack));
  return 0;
}
