// Bytes on the wire for sync (SPEC section 7), measured on rows made from the
// real fan recordings (data/ceiling-fan.efr through ml/dataset.h) by the
// shipped edge model (tests/data/golden/edge-seed1.efm through core/detector.h).
//
//   edgefleet-bench-sync [--quick]
//
// Part 1: bytes per inference record for each encoding, before and after
// zstd, for batches of 100, 1,000 and 10,000 rows, against the seeds' JSON
// (their get_sync_batch metadata entries, as Python's json.dumps writes them).
// Part 2: bytes per device-day for each sync strategy on a realistic day:
// 2 windows a second (200 Hz, 100-sample windows) for 24 hours, about 2% hard
// samples, one hour of fan imbalance (critical events), Wi-Fi at home
// (00:00-07:00, 19:00-24:00), cellular in between, the battery low
// (15%) from 15:00 to 17:00. The real buffer (agent/buffer.h, SQLite in a
// temporary directory) builds the batches; each is sent columnar + zstd and
// acknowledged; what is pending at the end of the day is sent in one more
// session and counted, so that every strategy sends the same rows. Payload
// bytes only (no HTTP or TLS headers).
// Rows are drawn from the real ones in shuffled passes (no run of rows
// repeats inside a batch). Deterministic (seeded), except the latencies,
// which are measured.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <zstd.h>

#include "agent/buffer.h"
#include "agent/sync_strategy.h"
#include "common/sync_codec.h"
#include "core/artifact.h"
#include "core/decision.h"
#include "core/detector.h"
#include "ml/dataset.h"

namespace {

using namespace edgefleet;
namespace fs = std::filesystem;

struct Row {
  sync::InferenceRow row;
  std::vector<float> window;
  bool from_anomaly_file = false;
};

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "edgefleet-bench-sync: %s\n", why.c_str());
  std::exit(1);
}

// Every window of the recordings through the shipped model.
std::vector<Row> RealRows() {
  auto path = ml::DefaultDataPath();
  if (!path.ok()) Die(path.error);
  auto data = ml::LoadRecordings(path.value);
  if (!data.ok()) Die(data.error);
  std::ifstream in(fs::path(EDGEFLEET_SOURCE_DIR) / "tests/data/golden/edge-seed1.efm", std::ios::binary);
  std::vector<char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::uint64_t> model((raw.size() + 7) / 8);
  std::memcpy(model.data(), raw.data(), raw.size());
  auto view = core::ParseArtifact(reinterpret_cast<const std::uint8_t*>(model.data()), raw.size());
  if (!view.ok()) Die("the shipped model does not parse");
  std::vector<std::uint64_t> arena((core::RequiredArenaBytes(view.value) + 7) / 8);
  auto det = core::Detector::Create(view.value, arena.data(), arena.size() * 8);
  if (!det.ok()) Die("the detector cannot be created");

  std::printf("Model %s v%u: thresholds low %.4g, high %.4g\n", view.value.model_id, view.value.model_version,
              static_cast<double>(view.value.thresholds.low), static_cast<double>(view.value.thresholds.high));
  // The shipped model has low == high (no ambiguous zone): the bench widens
  // it around the shipped threshold to the band that holds 2% of the real
  // windows, and decides with the core's tiered decision.
  std::vector<Row> rows;
  std::vector<float> scores;
  std::mt19937 rng(7);
  std::int64_t ts = 1'796'601'600'000;
  for (const auto& ref : ml::Windows(data.value)) {
    Row r;
    r.window.resize(300);
    if (!ml::WindowValues(data.value, ref, r.window)) Die("a window cannot be read");
    const auto t0 = std::chrono::steady_clock::now();
    auto inf = det.value.Run(r.window.data(), r.window.size());
    const auto t1 = std::chrono::steady_clock::now();
    if (!inf.ok()) Die("the detector refused a real window");
    ts += 500 + static_cast<std::int64_t>(rng() % 7) - 3;  // the agent stamps windows with its clock
    r.row.ts_ms = ts;
    r.row.model_version = view.value.model_version;
    r.row.mse = static_cast<double>(inf.value.mse);
    r.row.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count();
    r.row.input_hash = agent::InputHash(r.window);
    r.from_anomaly_file = data.value.recordings[ref.recording].anomaly;
    scores.push_back(inf.value.score);
    rows.push_back(std::move(r));
  }
  const float threshold = view.value.thresholds.low;
  std::vector<float> distance;
  for (const float sc : scores) distance.push_back(std::fabs(sc - threshold));
  std::sort(distance.begin(), distance.end());
  const float band = distance[distance.size() / 50];
  core::Thresholds t = view.value.thresholds;
  t.low = threshold - band;
  t.high = threshold + band;
  std::printf("Bench thresholds: low %.4g, high %.4g (2%% of the windows between)\n", static_cast<double>(t.low),
              static_cast<double>(t.high));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const core::TierDecision d = core::Decide(scores[i], t);
    rows[i].row.decision = d.label == core::Label::kAnomaly ? "anomaly" : "normal";
    rows[i].row.confidence = static_cast<double>(d.confidence);
  }
  return rows;
}

// Draws from a pool in a random order, reshuffled at every pass: no run of
// rows repeats in a batch, so zstd cannot match what a device would not send
// twice.
class Shuffled {
 public:
  Shuffled(std::size_t size, unsigned seed) : order_(size), rng_(seed) {
    for (std::size_t i = 0; i < size; ++i) order_[i] = i;
    std::shuffle(order_.begin(), order_.end(), rng_);
  }
  std::size_t Next() {
    if (at_ == order_.size()) {
      std::shuffle(order_.begin(), order_.end(), rng_);
      at_ = 0;
    }
    return order_[at_++];
  }

 private:
  std::vector<std::size_t> order_;
  std::mt19937 rng_;
  std::size_t at_ = 0;
};

std::size_t Zstd(const std::string& s, int level = 9) {
  std::string out(ZSTD_compressBound(s.size()), '\0');
  return ZSTD_compress(out.data(), out.size(), s.data(), s.size(), level);
}

// The seeds' metadata entries as json.dumps writes them (", " and ": ").
std::string SeedsJson(const std::vector<sync::InferenceRow>& rows) {
  std::string out = "{\"metadata\": [";
  char buf[512];
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    std::snprintf(buf, sizeof buf,
                  "%s{\"id\": %lld, \"timestamp\": %.7f, \"model_version\": \"%lld\", \"prediction\": \"%s\", "
                  "\"confidence\": %.17g, \"latency_ms\": %.17g}",
                  i ? ", " : "", static_cast<long long>(r.seq), static_cast<double>(r.ts_ms) / 1000.0,
                  static_cast<long long>(r.model_version), r.decision.c_str(), r.confidence,
                  static_cast<double>(r.latency_us) / 1000.0);
    out += buf;
  }
  out += "], \"hard_samples\": []}";
  return out;
}

std::size_t Encoded(const sync_codec::SyncMessage& m, sync_codec::SyncFormat f, bool zstd,
                    sync_codec::FloatPrecision p = sync_codec::FloatPrecision::kExact) {
  auto e = sync_codec::EncodeSyncMessage(m, f, zstd, {p, 9});
  if (!e.ok()) Die(e.error().ToString());
  return e.value().size();
}

void PerRecord(const std::vector<Row>& rows) {
  std::printf("## Bytes per inference record (real windows, edge-seed1 model)\n\n");
  std::printf("| rows in batch | seeds' JSON | seeds' JSON + zstd | JSON | JSON + zstd | columnar | columnar + zstd "
              "| columnar + zstd, half | columnar + zstd, hash on uncertain rows (default) | the same, half | no hash |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const std::size_t n : {std::size_t{100}, std::size_t{1000}, std::size_t{10000}}) {
    sync_codec::SyncMessage m;
    m.device_id = "fan-0001";
    Shuffled pick(rows.size(), 3);
    std::mt19937 jitter(5);
    for (std::size_t i = 0; i < n; ++i) {
      sync::InferenceRow r = rows[pick.Next()].row;
      r.seq = static_cast<std::int64_t>(i + 1);
      r.ts_ms = 1'796'601'600'000 + static_cast<std::int64_t>(i) * 500 + static_cast<std::int64_t>(jitter() % 7) - 3;
      m.batch.inferences.push_back(std::move(r));
    }
    sync_codec::SyncMessage nohash = m;
    for (auto& r : nohash.batch.inferences) r.input_hash.clear();
    sync_codec::SyncMessage uncertain = m;  // what the buffer sends by default (SyncHash::kUncertain)
    for (auto& r : uncertain.batch.inferences) {
      if (r.confidence >= agent::kHardSampleConfidence) r.input_hash.clear();
    }
    const std::string seeds = SeedsJson(m.batch.inferences);
    const double d = static_cast<double>(n);
    using F = sync_codec::SyncFormat;
    std::printf("| %zu | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", n,
                static_cast<double>(seeds.size()) / d, static_cast<double>(Zstd(seeds)) / d,
                static_cast<double>(Encoded(m, F::kJson, false)) / d,
                static_cast<double>(Encoded(m, F::kJson, true)) / d,
                static_cast<double>(Encoded(m, F::kColumnar, false)) / d,
                static_cast<double>(Encoded(m, F::kColumnar, true)) / d,
                static_cast<double>(Encoded(m, F::kColumnar, true, sync_codec::FloatPrecision::kHalf)) / d,
                static_cast<double>(Encoded(uncertain, F::kColumnar, true)) / d,
                static_cast<double>(Encoded(uncertain, F::kColumnar, true, sync_codec::FloatPrecision::kHalf)) / d,
                static_cast<double>(Encoded(nohash, F::kColumnar, true)) / d);
  }
  // Hard samples: 100 real windows with their rows.
  sync_codec::SyncMessage h;
  h.device_id = "fan-0001";
  for (std::size_t i = 0; i < 100; ++i) {
    const Row& r = rows[(i * 97) % rows.size()];  // 100 distinct windows
    sync::HardSampleRow s;
    s.seq = static_cast<std::int64_t>(i + 1);
    s.ts_ms = r.row.ts_ms;
    s.model_version = r.row.model_version;
    s.window = r.window;
    s.edge_mse = r.row.mse;
    s.confidence = std::min(r.row.confidence, 0.69);
    s.decision = r.row.decision;
    h.batch.hard_samples.push_back(std::move(s));
  }
  using F = sync_codec::SyncFormat;
  std::printf("\nHard samples (100 real windows): JSON %.0f, JSON + zstd %.0f, columnar %.0f, columnar + zstd "
              "%.0f bytes each (raw float32 window: 1200).\n\n",
              static_cast<double>(Encoded(h, F::kJson, false)) / 100.0,
              static_cast<double>(Encoded(h, F::kJson, true)) / 100.0,
              static_cast<double>(Encoded(h, F::kColumnar, false)) / 100.0,
              static_cast<double>(Encoded(h, F::kColumnar, true)) / 100.0);
}

// ---- a device-day per strategy ------------------------------------------------------

constexpr std::int64_t kHour = 3'600'000;
constexpr std::int64_t kStart = 1'796'601'600'000;  // 00:00 UTC

agent::PowerState PowerAt(std::int64_t t) {
  const std::int64_t h = (t - kStart) / kHour;
  agent::PowerState p;
  p.network = (h < 7 || h >= 19) ? agent::NetworkType::kWifi : agent::NetworkType::kCellular;
  p.battery_percent = (h >= 15 && h < 17) ? 15 : 70;
  return p;
}

struct DayResult {
  std::int64_t sessions = 0;
  std::int64_t batches = 0;
  std::int64_t up_columnar = 0;
  std::int64_t up_json = 0;
  std::int64_t down = 0;
  std::int64_t inferences = 0;
  std::int64_t hard = 0;
  std::int64_t max_pending = 0;
};

DayResult SimulateDay(agent::StrategyKind kind, const agent::StrategyConfig& config, const std::vector<Row>& all,
                      const std::vector<Row>& easy, const std::vector<Row>& hard,
                      const std::vector<Row>& anomalies, std::int64_t windows) {
  const fs::path dir = fs::temp_directory_path() / ("edgefleet-bench-sync-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  DayResult out;
  {
    auto opened = agent::Buffer::Open(dir / "buffer.db");
    if (!opened.ok()) Die(opened.error().ToString());
    auto& buffer = *opened.value();
    std::mt19937 rng(11);
    std::int64_t pending = 0;
    std::int64_t critical = 0;
    std::optional<std::int64_t> last_sync = kStart;
    // Hard samples: the rows of the uncertain windows, each with a window
    // drawn from all the real windows (187 uncertain windows would repeat
    // inside a nightly batch, and zstd would find the repeats).
    Shuffled pick_easy(easy.size(), 1), pick_hard(hard.size(), 2), pick_anomaly(anomalies.size(), 3);
    Shuffled pick_window(all.size(), 4);
    auto session = [&] {
      while (true) {
        auto batch = buffer.NextBatch({});
        if (!batch.ok()) Die(batch.error().ToString());
        if (batch->inferences.empty() && batch->hard_samples.empty() && batch->health.empty()) break;
        sync_codec::SyncMessage m;
        m.device_id = "fan-0001";
        auto state = buffer.ReportState();
        if (!state.ok()) Die(state.error().ToString());
        m.state = state.value();
        m.batch = batch.value();
        const std::size_t up = Encoded(m, sync_codec::SyncFormat::kColumnar, true);
        out.up_columnar += static_cast<std::int64_t>(up);
        out.up_json += static_cast<std::int64_t>(Encoded(m, sync_codec::SyncFormat::kJson, true));
        ++out.batches;
        sync::IngestResult ack;
        for (const auto& x : m.batch.inferences) ack.inferences.stored.push_back(x.seq);
        for (const auto& x : m.batch.hard_samples) ack.hard_samples.stored.push_back(x.seq);
        for (const auto& x : m.batch.health) ack.health.stored.push_back(x.seq);
        out.down += static_cast<std::int64_t>(sync_codec::EncodeSyncAck(ack).size());
        auto marked = buffer.ApplyAck(m.batch, ack);
        if (!marked.ok()) Die(marked.error().ToString());
        if (!buffer.AddBytesSent(agent::ToString(kind), static_cast<std::int64_t>(up)).ok()) Die("bytes");
      }
    };
    for (std::int64_t i = 0; i < windows; ++i) {
      const std::int64_t t = kStart + i * 500;
      const bool imbalance = t >= kStart + 13 * kHour && t < kStart + 14 * kHour;
      const Row* r = nullptr;
      const std::vector<float>* window = nullptr;
      if (rng() % 1000 < 20) {
        r = &hard[pick_hard.Next()];
        window = &all[pick_window.Next()].window;
      } else if (imbalance) {
        r = &anomalies[pick_anomaly.Next()];
      } else {
        r = &easy[pick_easy.Next()];
      }
      if (window == nullptr) window = &r->window;
      sync::InferenceRow row = r->row;
      row.ts_ms = t + static_cast<std::int64_t>(rng() % 7) - 3;
      auto a = buffer.AppendInference(row, *window);
      if (!a.ok()) Die(a.error().ToString());
      ++out.inferences;
      pending += a.value().hard_sample_seq >= 0 ? 2 : 1;
      out.hard += a.value().hard_sample_seq >= 0 ? 1 : 0;
      critical += row.decision == "anomaly" ? 1 : 0;
      if ((t - kStart) % kHour == kHour - 500) {
        auto h = buffer.CloseHealthPeriod(t + 500);
        if (!h.ok()) Die(h.error().ToString());
        pending += static_cast<std::int64_t>(h.value().size());
      }
      out.max_pending = std::max(out.max_pending, pending);
      if (i % 2 != 1) continue;  // the scheduler looks once a second
      agent::SyncInputs in;
      in.now_ms = t;
      in.pending = pending;
      in.critical_pending = critical;
      in.last_sync_ms = last_sync;
      in.power = PowerAt(t);
      if (!agent::ShouldSync(kind, config, in).sync) continue;
      ++out.sessions;
      session();
      pending = 0;
      critical = 0;
      last_sync = t;
    }
    // What is still pending at the end of the day goes in the next session
    // (for batched: the next night's); counted so every strategy sends the
    // same day of rows.
    out.max_pending = std::max(out.max_pending, pending);
    session();
    if (!buffer.Close().ok()) Die("close");
  }
  fs::remove_all(dir);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const std::vector<Row> rows = RealRows();
  std::vector<Row> easy, hard, anomalies;
  for (const Row& r : rows) {
    if (r.row.confidence < agent::kHardSampleConfidence) {
      hard.push_back(r);
    } else if (r.from_anomaly_file && r.row.decision == "anomaly") {
      anomalies.push_back(r);
    } else if (!r.from_anomaly_file && r.row.decision == "normal") {
      easy.push_back(r);
    }
  }
  std::printf("Real windows: %zu (%zu hard, %zu clear normal, %zu clear anomaly)\n\n", rows.size(), hard.size(),
              easy.size(), anomalies.size());
  if (hard.empty() || easy.empty() || anomalies.empty()) Die("the recordings gave an empty class of windows");
  PerRecord(rows);

  const std::int64_t windows = quick ? 2 * 3600 * 2 : 2 * 86400;
  std::printf("## A device-day per strategy (%lld windows%s)\n\n", static_cast<long long>(windows),
              quick ? ", --quick: 2 hours" : "");
  std::printf("| strategy | sessions | batches | bytes up (columnar + zstd) | bytes up if JSON + zstd | bytes down "
              "(acks) | up bytes per inference | max pending rows |\n|---|---|---|---|---|---|---|---|\n");
  agent::StrategyConfig coalesced;
  coalesced.critical_min_interval_ms = 60'000;
  struct Run {
    agent::StrategyKind kind;
    agent::StrategyConfig config;
    const char* note;
  };
  for (const Run& run : {Run{agent::StrategyKind::kPeriodic, {}, ""}, Run{agent::StrategyKind::kEvent, {}, ""},
                         Run{agent::StrategyKind::kOpportunistic, {}, ""}, Run{agent::StrategyKind::kBatched, {}, ""},
                         Run{agent::StrategyKind::kAdaptive, {}, ""},
                         Run{agent::StrategyKind::kEvent, coalesced, ", critical coalesced 60 s"},
                         Run{agent::StrategyKind::kAdaptive, coalesced, ", critical coalesced 60 s"}}) {
    const auto kind = run.kind;
    const DayResult d = SimulateDay(kind, run.config, rows, easy, hard, anomalies, windows);
    std::printf("| %s%s | %lld | %lld | %lld | %lld | %lld | %.2f | %lld |\n", agent::ToString(kind), run.note,
                static_cast<long long>(d.sessions), static_cast<long long>(d.batches),
                static_cast<long long>(d.up_columnar), static_cast<long long>(d.up_json),
                static_cast<long long>(d.down),
                static_cast<double>(d.up_columnar) / static_cast<double>(d.inferences),
                static_cast<long long>(d.max_pending));
    std::fflush(stdout);
  }
  return 0;
}
