// A small metrics registry: counters, gauges and fixed-bucket histograms,
// rendered in the Prometheus text exposition format 0.0.4.
//
// What it is for: the HTTP transport records its request metrics here
// (edgefleet_http_*), handlers register their own, and the /metrics handler
// returns Registry::RenderPrometheus(). Names follow Prometheus conventions:
// base units (seconds, bytes), counters end in `_total`; labels are bounded
// (route patterns, methods, codes; never per-device ids).
//
// Ownership: the Registry owns every metric it hands out; the references it
// returns stay valid for the Registry's lifetime. Asking again for the same
// name and labels returns the same object.
//
// Threads: everything is thread-safe. Registration takes a mutex (do it at
// startup or cache the reference); updates are lock-free: counters and
// histograms are sharded per thread (relaxed atomics on separate cache
// lines), so hot paths on several threads do not contend. Rendering reads the
// shards without stopping writers; a scrape may see an update half-applied
// across a histogram's buckets and its count, never a torn value.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace edgefleet::server::http::metrics {

// Labels as (name, value) pairs, in the order they are to be rendered.
using Labels = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::size_t kShards = 16;

namespace internal {
// This thread's shard, assigned round-robin on first use.
std::size_t ShardIndex();

struct alignas(64) PaddedCount {
  std::atomic<std::uint64_t> value{0};
};
}  // namespace internal

// A monotonically increasing count.
class Counter {
 public:
  void Inc(std::uint64_t n = 1) {
    shards_[internal::ShardIndex()].value.fetch_add(n, std::memory_order_relaxed);
  }
  std::uint64_t Value() const;

 private:
  std::array<internal::PaddedCount, kShards> shards_{};
};

// A value that goes up and down (open connections, queue depth).
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts of observations in fixed buckets (upper bounds, ascending, +Inf
// implied), with their sum.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    std::uint64_t count = 0;
    double sum = 0.0;
  };
  Snapshot Read() const;

 private:
  struct alignas(64) Line {
    std::atomic<std::uint64_t> slot[8];
  };
  std::atomic<std::uint64_t>& Slot(std::size_t shard, std::size_t i) const {
    const std::size_t at = shard * stride_ * 8 + i;
    return lines_[at / 8].slot[at % 8];
  }
  // Per shard: one slot per bucket (bounds + +Inf), then the sum's bits.
  std::vector<double> bounds_;
  std::size_t stride_;  // lines per shard
  std::unique_ptr<Line[]> lines_;
};

// Latency buckets in seconds, 50 us to 10 s.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The metric `name` with these labels, created on first use. All series of
  // one name must be of one type; `help` is taken from the first call.
  // Asking for an existing name with another type is a programming error
  // (the process aborts with a message).
  Counter& GetCounter(std::string_view name, std::string_view help, const Labels& labels = {});
  Gauge& GetGauge(std::string_view name, std::string_view help, const Labels& labels = {});
  Histogram& GetHistogram(std::string_view name, std::string_view help, const Labels& labels = {},
                          std::vector<double> bounds = LatencyBuckets());

  // A gauge whose value is computed at scrape time (e.g. rows in a table).
  // `read` is called from RenderPrometheus's thread, under the registry's
  // mutex: it must be thread-safe, quick, and must not touch this registry.
  void AddGaugeCallback(std::string_view name, std::string_view help, const Labels& labels,
                        std::function<double()> read);

  // Every metric in the text format 0.0.4, families sorted by name.
  std::string RenderPrometheus() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    std::string labels;  // rendered: `{a="b",c="d"}` or ""
    Counter* counter = nullptr;
    Gauge* gauge = nullptr;
    Histogram* histogram = nullptr;
    std::function<double()> callback;
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<Series> series;
  };

  Family& FamilyFor(std::string_view name, std::string_view help, Type type);
  static Series* Find(Family& family, const std::string& labels);

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
  std::deque<Counter> counters_;
  std::deque<Gauge> gauges_;
  std::deque<Histogram> histograms_;
};

// Renders labels as `{name="value",...}` with the text format's escaping
// (backslash, double quote, newline); "" for no labels.
std::string RenderLabels(const Labels& labels);

}  // namespace edgefleet::server::http::metrics
