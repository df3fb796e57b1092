#include "server/http/metrics.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace edgefleet::server::http::metrics {
namespace internal {

std::size_t ShardIndex() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed) % kShards;
  return index;
}

}  // namespace internal
namespace {

void AddDouble(std::atomic<std::uint64_t>& bits, double v) {
  std::uint64_t old = bits.load(std::memory_order_relaxed);
  while (!bits.compare_exchange_weak(old, std::bit_cast<std::uint64_t>(std::bit_cast<double>(old) + v),
                                     std::memory_order_relaxed)) {
  }
}

// A sample value as the text format writes it: integers plainly, others with
// enough digits to round-trip, and +Inf/-Inf/NaN by name.
void AppendValue(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    const auto res = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, res.ptr);
  }
}

void AppendUint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void AppendEscaped(std::string& out, std::string_view s, bool quote_too) {
  for (const char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote_too && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// Labels with one more pair appended (the histogram's `le`).
std::string WithLabel(const std::string& rendered, std::string_view name, std::string_view value) {
  std::string out;
  if (rendered.empty()) {
    out = "{";
  } else {
    out.assign(rendered, 0, rendered.size() - 1);
    out += ',';
  }
  out += name;
  out += "=\"";
  out += value;
  out += "\"}";
  return out;
}

[[noreturn]] void Misuse(std::string_view name, const char* what) {
  std::fprintf(stderr, "metrics: %.*s: %s\n", static_cast<int>(name.size()), name.data(), what);
  std::abort();
}

}  // namespace

std::uint64_t Counter::Value() const {
  std::uint64_t sum = 0;
  for (const auto& s : shards_) sum += s.value.load(std::memory_order_relaxed);
  return sum;
}

void Gauge::Add(double v) {
  double old = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      stride_((bounds_.size() + 2 + 7) / 8),
      lines_(new Line[kShards * stride_]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i < kShards * stride_; ++i) {
    for (auto& s : lines_[i].slot) s.store(0, std::memory_order_relaxed);
  }
}

void Histogram::Observe(double v) {
  const std::size_t shard = internal::ShardIndex();
  // Buckets are few (about 15): a linear scan beats a binary search here.
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  Slot(shard, i).fetch_add(1, std::memory_order_relaxed);
  AddDouble(Slot(shard, bounds_.size() + 1), v);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot snap;
  snap.bounds = bounds_;
  snap.cumulative.assign(bounds_.size() + 1, 0);
  for (std::size_t shard = 0; shard < kShards; ++shard) {
    for (std::size_t i = 0; i <= bounds_.size(); ++i) {
      snap.cumulative[i] += Slot(shard, i).load(std::memory_order_relaxed);
    }
    snap.sum += std::bit_cast<double>(Slot(shard, bounds_.size() + 1).load(std::memory_order_relaxed));
  }
  for (std::size_t i = 1; i < snap.cumulative.size(); ++i) snap.cumulative[i] += snap.cumulative[i - 1];
  snap.count = snap.cumulative.back();
  return snap;
}

std::vector<double> LatencyBuckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
          0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   10.0};
}

std::string RenderLabels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ',';
    out += labels[i].first;
    out += "=\"";
    AppendEscaped(out, labels[i].second, true);
    out += '"';
  }
  out += '}';
  return out;
}

Registry::Family& Registry::FamilyFor(std::string_view name, std::string_view help, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{type, std::string(help), {}}).first;
  } else if (it->second.type != type) {
    Misuse(name, "registered again with another type");
  }
  return it->second;
}

Registry::Series* Registry::Find(Family& family, const std::string& labels) {
  for (Series& s : family.series) {
    if (s.labels == labels) return &s;
  }
  return nullptr;
}

Counter& Registry::GetCounter(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = FamilyFor(name, help, Type::kCounter);
  std::string rendered = RenderLabels(labels);
  if (Series* s = Find(family, rendered)) return *s->counter;
  Counter& c = counters_.emplace_back();
  family.series.push_back(Series{std::move(rendered), &c, nullptr, nullptr, {}});
  return c;
}

Gauge& Registry::GetGauge(std::string_view name, std::string_view help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = FamilyFor(name, help, Type::kGauge);
  std::string rendered = RenderLabels(labels);
  if (Series* s = Find(family, rendered)) {
    if (s->gauge == nullptr) Misuse(name, "is a callback gauge");
    return *s->gauge;
  }
  Gauge& g = gauges_.emplace_back();
  family.series.push_back(Series{std::move(rendered), nullptr, &g, nullptr, {}});
  return g;
}

Histogram& Registry::GetHistogram(std::string_view name, std::string_view help, const Labels& labels,
                                  std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = FamilyFor(name, help, Type::kHistogram);
  std::string rendered = RenderLabels(labels);
  if (Series* s = Find(family, rendered)) return *s->histogram;
  Histogram& h = histograms_.emplace_back(std::move(bounds));
  family.series.push_back(Series{std::move(rendered), nullptr, nullptr, &h, {}});
  return h;
}

void Registry::AddGaugeCallback(std::string_view name, std::string_view help, const Labels& labels,
                                std::function<double()> read) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& family = FamilyFor(name, help, Type::kGauge);
  std::string rendered = RenderLabels(labels);
  if (Find(family, rendered) != nullptr) Misuse(name, "series registered twice");
  family.series.push_back(Series{std::move(rendered), nullptr, nullptr, nullptr, std::move(read)});
}

std::string Registry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  out.reserve(4096);
  for (const auto& [name, family] : families_) {
    out += "# HELP ";
    out += name;
    out += ' ';
    AppendEscaped(out, family.help, false);
    out += "\n# TYPE ";
    out += name;
    out += family.type == Type::kCounter ? " counter\n" : family.type == Type::kGauge ? " gauge\n" : " histogram\n";
    for (const Series& s : family.series) {
      if (s.histogram != nullptr) {
        const Histogram::Snapshot snap = s.histogram->Read();
        for (std::size_t i = 0; i < snap.cumulative.size(); ++i) {
          std::string le;
          if (i < snap.bounds.size()) {
            AppendValue(le, snap.bounds[i]);
          } else {
            le = "+Inf";
          }
          out += name;
          out += "_bucket";
          out += WithLabel(s.labels, "le", le);
          out += ' ';
          AppendUint(out, snap.cumulative[i]);
          out += '\n';
        }
        out += name;
        out += "_sum";
        out += s.labels;
        out += ' ';
        AppendValue(out, snap.sum);
        out += '\n';
        out += name;
        out += "_count";
        out += s.labels;
        out += ' ';
        AppendUint(out, snap.count);
        out += '\n';
        continue;
      }
      out += name;
      out += s.labels;
      out += ' ';
      if (s.counter != nullptr) {
        AppendUint(out, s.counter->Value());
      } else if (s.gauge != nullptr) {
        AppendValue(out, s.gauge->Value());
      } else {
        AppendValue(out, s.callback());
      }
      out += '\n';
    }
  }
  return out;
}

}  // namespace edgefleet::server::http::metrics
