// The store's ingestion speed, records per second, for each back end
// (server/store/store.h; issue 4, docs/BENCHMARKS.md "Store: ingestion").
//
//   edgefleet-bench-store [--backends sqlite,postgres,postgres-durable]
//                         [--rounds R] [--seconds S] [--max-records N] [--devices D]
//                         [--sync-threads T]
//                         [--escalation-batches 1,64,512,1000]
//                         [--sync-batches 100,1000,10000] [--data PATH]
//
// Back ends:
//   sqlite            a file in a temporary directory, the store's own
//                     settings (WAL, synchronous=FULL: an fsync per commit);
//   postgres          the test fixture's server (tests/support/
//                     postgres_server.h) as the tests run it: fsync=off,
//                     synchronous_commit=off, full_page_writes=off (not durable);
//   postgres-durable  the same fixture with fsync=on, synchronous_commit=on,
//                     full_page_writes=on (PostgreSQL's defaults).
// Each PostgreSQL flavour is a server of its own, initdb'ed into /tmp and
// stopped by pid at the end (as root, it runs as the postgres user).
//
// Measurements, each on a fresh, empty database:
//   escalations  Store::InsertEscalations (the API's background writer) in
//                batches of the given sizes (its default batch_max is 250);
//                300-value windows cut from the real recordings
//                (data/ceiling-fan.efr, in g), devices round-robin within a batch.
//   sync new     Store::IngestBatch (POST /api/sync) of inference rows, one
//                device per batch, devices round-robin, each device's seq
//                increasing: every row is new.
//   sync dup     the same batches sent again (a device that did not get the
//                acknowledgement): every row must come back already present.
// Each measurement repeats batches until --seconds of store time have passed
// (or --max-records rows). Only the store calls are timed; batches are built
// before the clock starts. One caller thread, except with --sync-threads T > 1:
// T threads then call IngestBatch at once, each for its own devices (as the
// server's request threads do), and the sync time is the wall time of all of
// them together, batch building included. The whole set runs --rounds
// times (3), the back ends interleaved; the table gives the median records/s
// and the range over the rounds, and the calling threads' CPU time per record
// (CLOCK_THREAD_CPUTIME_ID around the store calls: all of SQLite's work, but
// none of the PostgreSQL server's).
//
// Verification (exit 1 with a message when any fails): every call succeeds;
// InsertEscalations returns one increasing id per row; CountEscalations equals
// the rows inserted and the devices' escalation counters sum to it;
// IngestBatch acknowledges every new row as stored and every re-sent row as
// already present; SELECT count(*) FROM inference_rows (a raw connection)
// equals the distinct rows sent, before and after the re-send; the devices'
// rows_synced and fallbacks counters match.
//
// Output: a markdown table on stdout, then the durability settings read back
// from each database (PRAGMA / SHOW); progress on stderr.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "bench/store_bench_db.h"
#include "ml/dataset.h"
#include "server/store/store.h"

namespace {

using namespace edgefleet;
using namespace edgefleet::storebench;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<std::string> backends{"sqlite", "postgres", "postgres-durable"};
  double seconds = 2.0;
  int rounds = 3;
  std::int64_t max_records = 0;  // 0: no cap
  int devices = 8;
  int sync_threads = 1;
  std::vector<std::size_t> escalation_batches{1, 64, 512, 1000};
  std::vector<std::size_t> sync_batches{100, 1000, 10000};
  std::string data;
};

// ---- input --------------------------------------------------------------------------

// Windows of 100 rows x 3 axes inside one capture, in g, shuffled (seeded).
std::vector<std::vector<float>> LoadWindows(const Options& options) {
  fs::path path = options.data;
  if (path.empty()) {
    auto found = ml::DefaultDataPath();
    if (!found.ok()) Die(found.error);
    path = found.value;
  }
  auto data = ml::LoadRecordings(path);
  if (!data.ok()) Die(data.error);
  std::vector<std::vector<float>> windows;
  for (const ml::Recording& r : data.value.recordings) {
    for (std::size_t c = 0; c < r.captures(); ++c) {
      const std::uint32_t end = r.CaptureEnd(c);
      for (std::uint32_t row = r.capture_starts[c]; row + ml::kWindowRows <= end; row += ml::kWindowRows) {
        std::vector<float> w(store::kWindowValues);
        for (std::size_t i = 0; i < w.size(); ++i) {
          w[i] = static_cast<float>(r.counts[std::size_t{row} * ml::kAxes + i]) / ml::kCountsPerG;
        }
        windows.push_back(std::move(w));
      }
    }
  }
  if (windows.empty()) Die("no windows in " + path.string());
  std::mt19937_64 rng(7);
  std::shuffle(windows.begin(), windows.end(), rng);
  std::fprintf(stderr, "%zu real windows from %s\n", windows.size(), path.c_str());
  return windows;
}

std::string DeviceId(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "fan-%04d", i + 1);
  return buf;
}

// A 64-hex-digit token hash, distinct per device.
std::string TokenHash(int i) {
  std::string hash(64, 'a');
  const std::string tail = std::to_string(i);
  hash.replace(hash.size() - tail.size(), tail.size(), tail);
  return hash;
}

// The inference row device `device` buffered as number `seq`: what the agent
// writes (agent/agent.cc), deterministic so a re-send is byte-identical.
sync::InferenceRow MakeInferenceRow(int device, std::int64_t seq) {
  // splitmix64 over (device, seq): cheap enough not to weigh on the
  // multi-threaded measurements, which time the batch building too.
  constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15;
  constexpr std::uint64_t kMix1 = 0xbf58476d1ce4e5b9;
  constexpr std::uint64_t kMix2 = 0x94d049bb133111eb;
  std::uint64_t state = static_cast<std::uint64_t>(device) * kGolden ^ static_cast<std::uint64_t>(seq);
  auto next = [&state] {
    std::uint64_t z = (state += kGolden);
    z = (z ^ (z >> 30)) * kMix1;
    z = (z ^ (z >> 27)) * kMix2;
    return z ^ (z >> 31);
  };
  auto unit = [&next] { return static_cast<double>(next() >> 11) * 0x1.0p-53; };
  sync::InferenceRow r;
  r.seq = seq;
  r.ts_ms = 1'780'000'000'000 + seq * 500;  // 2 windows a second
  r.model_version = 1;
  const double u = unit();
  r.decision = u < 0.97 ? "normal" : "anomaly";
  r.confidence = 0.5 + 0.5 * unit();
  r.mse = u < 0.97 ? 0.002 + 0.01 * unit() : 0.05 + 0.2 * unit();
  r.latency_us = 150 + static_cast<std::int64_t>(200 * unit());
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t h = next();
  r.input_hash.assign(16, '0');
  for (char& c : r.input_hash) {
    c = kHex[h & 0xf];
    h >>= 4;
  }
  r.fallback = unit() < 0.05;
  return r;
}

// ---- back ends (bench/store_bench_db.h) ------------------------------------------------

// A migrated store on a fresh database with `devices` devices.
struct Fresh {
  std::string url;
  std::unique_ptr<store::Store> store;
};

Fresh OpenFresh(Databases& dbs, int devices) {
  Fresh f;
  f.url = dbs.Create();
  f.store = Must(store::OpenStore(f.url), "opening " + f.url);
  for (int d = 0; d < devices; ++d) {
    Must(f.store->AddDevice(DeviceId(d), TokenHash(d), 1'780'000'000'000), "AddDevice");
  }
  return f;
}

// ---- measurements -----------------------------------------------------------------------

struct Result {
  std::string what;
  std::size_t batch = 0;
  std::int64_t records = 0;
  std::int64_t batches = 0;
  double seconds = 0;       // the time the rate is over: store time, or wall time with several callers
  double call_seconds = 0;  // the store calls' own time, summed over callers (ms/batch)
  double cpu_seconds = 0;   // the calling threads' CPU time in the store calls (SQLite's work; not PostgreSQL's)
};

// Runs a store call, adding its wall time to `seconds` and the calling
// thread's CPU time (user + system) to `cpu_seconds`; returns its result.
template <typename Call>
auto Timed(double& seconds, double& cpu_seconds, Call call) {
  const auto thread_cpu = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  const auto start = Clock::now();
  const double cpu = thread_cpu();
  auto result = call();
  cpu_seconds += thread_cpu() - cpu;
  seconds += std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

bool Enough(const Options& o, double seconds, std::int64_t records) {
  return seconds >= o.seconds || (o.max_records > 0 && records >= o.max_records);
}

Result MeasureEscalations(Databases& dbs, const Options& o, std::size_t batch_size,
                          const std::vector<std::vector<float>>& windows) {
  Fresh f = OpenFresh(dbs, o.devices);
  // A ring of prebuilt batches of distinct windows, reused: every insert is a
  // new row whatever its content.
  const std::size_t ring = std::max<std::size_t>(1, std::min<std::size_t>(64, 8192 / batch_size));
  std::vector<std::vector<store::Escalation>> batches(ring);
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::size_t next_window = 0;
  std::int64_t n = 0;
  for (auto& b : batches) {
    for (std::size_t i = 0; i < batch_size; ++i, ++n) {
      store::Escalation e;
      e.device_id = DeviceId(static_cast<int>(n % o.devices));
      e.received_ms = 1'780'000'000'000 + n;
      e.features = windows[next_window++ % windows.size()];
      e.edge_mse = 0.02 + 0.05 * unit(rng);
      e.model_version = 1;
      e.cloud_mse = 0.01 + 0.1 * unit(rng);
      e.label = unit(rng) < 0.3 ? 1 : 0;
      e.confidence = 0.5 + 0.5 * unit(rng);
      b.push_back(std::move(e));
    }
  }
  Result r{"escalations (InsertEscalations)", batch_size, 0, 0, 0, 0};
  std::int64_t last_id = 0;
  while (!Enough(o, r.seconds, r.records)) {
    const auto& b = batches[static_cast<std::size_t>(r.batches) % ring];
    auto ids = Timed(r.seconds, r.cpu_seconds, [&] { return f.store->InsertEscalations(b); });
    const std::vector<std::int64_t> got = Must(std::move(ids), "InsertEscalations");
    Check(got.size() == b.size(), "InsertEscalations returned one id per row");
    for (const std::int64_t id : got) {
      Check(id > last_id, "escalation ids increase");
      last_id = id;
    }
    r.records += static_cast<std::int64_t>(b.size());
    ++r.batches;
  }
  r.call_seconds = r.seconds;
  store::EscalationRange all;
  all.include_archived = true;
  const std::int64_t counted = Must(f.store->CountEscalations(all), "CountEscalations");
  Check(counted == r.records, "CountEscalations " + std::to_string(counted) + " == inserted " +
                                  std::to_string(r.records));
  Check(CountRows(f.url, "escalations") == r.records, "count(*) of escalations == inserted");
  std::int64_t counters = 0;
  for (const store::Device& d : Must(f.store->ListDevices(), "ListDevices")) counters += d.counters.escalations;
  Check(counters == r.records, "devices' escalation counters sum to the rows inserted");
  return r;
}

// One sync batch: which device, its first seq.
struct SentBatch {
  int device = 0;
  std::int64_t first_seq = 0;
};

sync::SyncBatch BuildSyncBatch(const SentBatch& s, std::size_t size) {
  sync::SyncBatch batch;
  batch.inferences.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    batch.inferences.push_back(MakeInferenceRow(s.device, s.first_seq + static_cast<std::int64_t>(i)));
  }
  return batch;
}

// One caller's share of a sync measurement: devices t, t + T, t + 2T, ...
struct Caller {
  std::vector<int> devices;
  std::vector<std::int64_t> next_seq;  // per device of this caller
  std::vector<SentBatch> sent;
  std::int64_t fallbacks = 0;
  std::int64_t records = 0;
  std::int64_t batches = 0;
  double seconds = 0;  // this caller's store time
  double cpu_seconds = 0;  // this caller's CPU time in the store calls
  std::optional<std::string> failure;
};

// Runs `phase` on every caller, on threads when there are several; the wall
// time from start to the last join. A failure in any caller fails the run.
template <typename Phase>
double RunCallers(std::vector<Caller>& callers, Phase phase) {
  const auto start = Clock::now();
  if (callers.size() == 1) {
    phase(callers[0]);
  } else {
    std::vector<std::thread> threads;
    for (Caller& c : callers) {
      threads.emplace_back([&phase, &c] {
        try {
          phase(c);
        } catch (const Failure& f) {
          c.failure = f.why;
        }
      });
    }
    for (std::thread& t : threads) t.join();
    for (const Caller& c : callers) {
      if (c.failure) Die(*c.failure);
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// New rows, then the same batches again. With one caller the time is the
// store calls' only; with several (--sync-threads), each on its own thread
// with its own devices, it is the phase's wall time, which then includes
// building the batches.
std::vector<Result> MeasureSync(Databases& dbs, const Options& o, std::size_t batch_size) {
  Fresh f = OpenFresh(dbs, o.devices);
  const int threads = o.sync_threads;
  std::vector<Caller> callers(static_cast<std::size_t>(threads));
  for (int d = 0; d < o.devices; ++d) {
    Caller& c = callers[static_cast<std::size_t>(d % threads)];
    c.devices.push_back(d);
    c.next_seq.push_back(1);
  }
  std::atomic<std::int64_t> received_ms{1'780'000'000'000};
  auto enough = [&o, threads](const Caller& c, Clock::time_point started) {
    const double elapsed =
        threads == 1 ? c.seconds : std::chrono::duration<double>(Clock::now() - started).count();
    return Enough(o, elapsed, c.records * threads);
  };

  const std::string suffix = threads == 1 ? "" : ", " + std::to_string(threads) + " threads";
  Result fresh{"sync, new rows (IngestBatch)" + suffix, batch_size, 0, 0, 0, 0};
  auto started = Clock::now();
  double wall = RunCallers(callers, [&](Caller& c) {
    while (!enough(c, started)) {
      const std::size_t k = c.sent.size() % c.devices.size();
      SentBatch s{c.devices[k], c.next_seq[k]};
      c.next_seq[k] += static_cast<std::int64_t>(batch_size);
      const sync::SyncBatch batch = BuildSyncBatch(s, batch_size);
      for (const auto& row : batch.inferences) c.fallbacks += row.fallback ? 1 : 0;
      auto result =
          Timed(c.seconds, c.cpu_seconds, [&] { return f.store->IngestBatch(DeviceId(s.device), batch, ++received_ms); });
      const sync::IngestResult got = Must(std::move(result), "IngestBatch");
      Check(got.inferences.stored.size() == batch_size && got.inferences.already_present.empty(),
            "a new batch is acknowledged as all stored");
      c.sent.push_back(s);
      c.records += static_cast<std::int64_t>(batch_size);
      ++c.batches;
    }
  });
  std::int64_t fallbacks = 0;
  for (Caller& c : callers) {
    fresh.records += c.records;
    fresh.batches += c.batches;
    fresh.seconds += c.seconds;
    fresh.cpu_seconds += c.cpu_seconds;
    fallbacks += c.fallbacks;
    c.records = 0;
    c.batches = 0;
    c.seconds = 0;
    c.cpu_seconds = 0;
  }
  fresh.call_seconds = fresh.seconds;
  if (threads > 1) fresh.seconds = wall;
  Check(CountRows(f.url, "inference_rows") == fresh.records, "count(*) of inference_rows == rows sent");

  // The same batches again, each caller cycling through its own (rebuilt
  // identically, outside the clock of a single caller), until the time is up.
  Result dup{"sync, re-sent rows (all duplicates)" + suffix, batch_size, 0, 0, 0, 0};
  started = Clock::now();
  wall = RunCallers(callers, [&](Caller& c) {
    while (!c.sent.empty() && !enough(c, started)) {
      const SentBatch& s = c.sent[static_cast<std::size_t>(c.batches) % c.sent.size()];
      const sync::SyncBatch batch = BuildSyncBatch(s, batch_size);
      auto result =
          Timed(c.seconds, c.cpu_seconds, [&] { return f.store->IngestBatch(DeviceId(s.device), batch, ++received_ms); });
      const sync::IngestResult got = Must(std::move(result), "IngestBatch (re-send)");
      Check(got.inferences.already_present.size() == batch_size && got.inferences.stored.empty(),
            "a re-sent batch is acknowledged as all already present");
      c.records += static_cast<std::int64_t>(batch_size);
      ++c.batches;
    }
  });
  for (const Caller& c : callers) {
    dup.records += c.records;
    dup.batches += c.batches;
    dup.seconds += c.seconds;
    dup.cpu_seconds += c.cpu_seconds;
  }
  dup.call_seconds = dup.seconds;
  if (threads > 1) dup.seconds = wall;
  Check(dup.records > 0, "something was re-sent");
  Check(CountRows(f.url, "inference_rows") == fresh.records,
        "count(*) of inference_rows unchanged by the re-send (duplicates not stored twice)");
  std::int64_t synced = 0;
  std::int64_t fallback_counter = 0;
  for (const store::Device& d : Must(f.store->ListDevices(), "ListDevices")) {
    synced += d.counters.rows_synced;
    fallback_counter += d.counters.fallbacks;
  }
  Check(synced == fresh.records, "devices' rows_synced sum to the distinct rows sent");
  Check(fallback_counter == fallbacks, "devices' fallbacks sum to the fallback rows sent");
  return {fresh, dup};
}

// ---- output -------------------------------------------------------------------------------

std::string Thousands(double value) {
  const auto n = static_cast<std::int64_t>(value + 0.5);
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Fixed(double value, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

// One line of the table: a measurement's rounds, records/s as the median and
// the range over rounds.
std::string Row(const std::string& backend, const std::vector<Result>& rounds) {
  std::vector<double> rate;
  std::vector<double> ms;
  std::vector<double> cpu_us;
  std::int64_t records = 0;
  double seconds = 0;
  for (const Result& r : rounds) {
    rate.push_back(static_cast<double>(r.records) / r.seconds);
    ms.push_back(1000.0 * r.call_seconds / static_cast<double>(r.batches));
    cpu_us.push_back(1e6 * r.cpu_seconds / static_cast<double>(r.records));
    records += r.records;
    seconds += r.seconds;
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  const auto [lo, hi] = std::minmax_element(rate.begin(), rate.end());
  const Result& r = rounds.front();
  std::ostringstream os;
  os << "| " << backend << " | " << r.what << " | " << Thousands(static_cast<double>(r.batch)) << " | "
     << Thousands(static_cast<double>(records)) << " | " << Fixed(seconds, 1) << " | **"
     << Thousands(median(rate)) << "** | " << Thousands(*lo) << " - " << Thousands(*hi) << " | "
     << Fixed(median(ms), 2) << " | " << Fixed(median(cpu_us), 2) << " |";
  return os.str();
}

std::vector<std::size_t> ParseSizes(const std::string& text, std::size_t max, const char* flag) {
  std::vector<std::size_t> out;
  if (text.empty() || text == "none") return out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const unsigned long long v = std::strtoull(item.c_str(), &end, 10);
    if (item.empty() || end == nullptr || *end != '\0' || v == 0 || v > max) {
      std::fprintf(stderr, "edgefleet-bench-store: %s takes sizes from 1 to %zu, comma-separated.\n", flag, max);
      std::exit(2);
    }
    out.push_back(static_cast<std::size_t>(v));
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string backends = "sqlite,postgres,postgres-durable";
  std::string escalation_batches = "1,64,512,1000";
  std::string sync_batches = "100,1000,10000";
  CLI::App app{"The store's ingestion speed (records/s) per back end; see bench/store_ingest.cc."};
  app.add_option("--backends", backends, "comma-separated: sqlite, postgres, postgres-durable");
  app.add_option("--seconds", o.seconds, "store time per measurement")->check(CLI::PositiveNumber);
  app.add_option("--rounds", o.rounds, "times each measurement runs (median and range reported)")
      ->check(CLI::Range(1, 100));
  app.add_option("--max-records", o.max_records, "stop a measurement after this many rows (0: no cap)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--devices", o.devices, "devices the rows come from")->check(CLI::Range(1, 1000));
  app.add_option("--sync-threads", o.sync_threads, "callers of IngestBatch at once, each with its own devices")
      ->check(CLI::Range(1, 64));
  app.add_option("--escalation-batches", escalation_batches, "InsertEscalations batch sizes");
  app.add_option("--sync-batches", sync_batches, "IngestBatch batch sizes (rows)");
  app.add_option("--data", o.data, "the recordings (default: data/ceiling-fan.efr)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (o.sync_threads > o.devices) {
    std::fprintf(stderr, "edgefleet-bench-store: --sync-threads must not exceed --devices.\n");
    return 2;
  }
  o.escalation_batches = ParseSizes(escalation_batches, store::kMaxBatchRows, "--escalation-batches");
  o.sync_batches = ParseSizes(sync_batches, store::kMaxBatchRows, "--sync-batches");
  o.backends.clear();
  {
    std::stringstream ss(backends);
    std::string b;
    while (std::getline(ss, b, ',')) {
      if (b != "sqlite" && b != "postgres" && b != "postgres-durable") {
        std::fprintf(stderr, "edgefleet-bench-store: unknown back end \"%s\" (sqlite, postgres, postgres-durable).\n",
                     b.c_str());
        return 2;
      }
      o.backends.push_back(b);
    }
  }

  // Rounds interleave the back ends, so that a burst of load on the shared
  // machine spreads over all of them instead of landing on one.
  struct Backend {
    std::string name;
    std::string label;
    std::unique_ptr<Databases> dbs;
    std::string durability;
  };
  std::vector<Backend> ends;
  std::vector<std::pair<std::string, std::vector<Result>>> table;  // (back end label, rounds)
  try {
    const auto windows = LoadWindows(o);
    for (const std::string& name : o.backends) {
      Backend b;
      b.name = name;
      b.label = name == "sqlite" ? "sqlite" : name == "postgres" ? "postgres, fsync off" : "postgres, fsync on";
      if (name == "sqlite") {
        b.dbs = MakeSqliteDatabases();
      } else {
        b.dbs = MakePostgresDatabases(name == "postgres-durable");
      }
      b.durability = ReadDurability(b.dbs->Create());
      std::fprintf(stderr, "%s: %s\n", name.c_str(), b.durability.c_str());
      ends.push_back(std::move(b));
    }
    for (int round = 0; round < o.rounds; ++round) {
      std::size_t line = 0;
      auto add = [&](const std::string& label, const Result& r) {
        if (round == 0) table.push_back({label, {}});
        table[line++].second.push_back(r);
      };
      for (Backend& b : ends) {
        for (const std::size_t size : o.escalation_batches) {
          std::fprintf(stderr, "round %d, %s: escalations, batches of %zu...\n", round + 1, b.name.c_str(), size);
          add(b.label, MeasureEscalations(*b.dbs, o, size, windows));
        }
        for (const std::size_t size : o.sync_batches) {
          std::fprintf(stderr, "round %d, %s: sync inference rows, batches of %zu...\n", round + 1, b.name.c_str(),
                       size);
          for (const Result& r : MeasureSync(*b.dbs, o, size)) add(b.label, r);
        }
      }
    }
  } catch (const Failure& f) {
    std::fprintf(stderr, "edgefleet-bench-store: %s\n", f.why.c_str());
    return 1;
  }
  std::printf("| back end | what | batch | records | timed s | records/s, median | min - max | ms/batch, median | caller CPU us/record, median |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const auto& [label, rounds] : table) std::printf("%s\n", Row(label, rounds).c_str());
  std::printf("\nDurability settings in effect (read back from each database):\n");
  for (const Backend& b : ends) std::printf("- %s: %s\n", b.label.c_str(), b.durability.c_str());
  std::printf("\nAll counts verified: rows stored == rows inserted; re-sent rows stored once. %d devices, "
              "%d round(s) of %g s per measurement%s; %s.\n",
              o.devices, o.rounds, o.seconds, o.max_records > 0 ? " (or --max-records)" : "",
              o.sync_threads == 1 ? "one caller thread, store time only"
                                  : "sync: concurrent callers, wall time including building the batches");
  return 0;
}
