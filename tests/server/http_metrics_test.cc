// The metrics registry alone: counters, gauges, histograms, labels, and the
// text format, including from several threads.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "server/http/metrics.h"

namespace edgefleet::server::http::metrics {
namespace {

TEST(MetricsRegistryTest, SameNameAndLabelsIsTheSameSeries) {
  Registry r;
  Counter& a = r.GetCounter("jobs_total", "Jobs.", {{"kind", "x"}});
  Counter& b = r.GetCounter("jobs_total", "Jobs.", {{"kind", "x"}});
  Counter& c = r.GetCounter("jobs_total", "Jobs.", {{"kind", "y"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &c);
  a.Inc();
  b.Inc(2);
  c.Inc();
  const std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("# HELP jobs_total Jobs.\n# TYPE jobs_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("jobs_total{kind=\"x\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("jobs_total{kind=\"y\"} 1\n"), std::string::npos);
}

TEST(MetricsRegistryTest, CountersSumAcrossThreads) {
  Registry r;
  Counter& c = r.GetCounter("events_total", "Events.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 10'000; ++i) c.Inc();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 80'000u);
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulative) {
  Registry r;
  Histogram& h = r.GetHistogram("size_bytes", "Sizes.", {{"route", "/a"}}, {10, 100, 1000});
  for (double v : {1.0, 10.0, 50.0, 500.0, 5000.0}) h.Observe(v);
  const auto snap = h.Read();
  EXPECT_EQ(snap.cumulative, (std::vector<std::uint64_t>{2, 3, 4, 5}));
  EXPECT_EQ(snap.count, 5u);
  EXPECT_DOUBLE_EQ(snap.sum, 5561.0);
  const std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("size_bytes_bucket{route=\"/a\",le=\"10\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("size_bytes_bucket{route=\"/a\",le=\"+Inf\"} 5\n"), std::string::npos);
  EXPECT_NE(text.find("size_bytes_sum{route=\"/a\"} 5561\n"), std::string::npos);
  EXPECT_NE(text.find("size_bytes_count{route=\"/a\"} 5\n"), std::string::npos);
}

TEST(MetricsRegistryTest, GaugesAndCallbacks) {
  Registry r;
  Gauge& g = r.GetGauge("queue_depth", "Depth.");
  g.Add(3);
  g.Add(-1);
  r.AddGaugeCallback("rows", "Rows.", {{"table", "a"}}, [] { return 42.5; });
  const std::string text = r.RenderPrometheus();
  EXPECT_NE(text.find("queue_depth 2\n"), std::string::npos);
  EXPECT_NE(text.find("rows{table=\"a\"} 42.5\n"), std::string::npos);
  g.Set(7);
  EXPECT_EQ(g.Value(), 7);
}

TEST(MetricsRegistryTest, LabelValuesAreEscaped) {
  EXPECT_EQ(RenderLabels({{"a", "x\"y\\z\nw"}}), "{a=\"x\\\"y\\\\z\\nw\"}");
  EXPECT_EQ(RenderLabels({}), "");
}

TEST(MetricsRegistryTest, FamiliesAreSortedByName) {
  Registry r;
  r.GetCounter("b_total", "B.").Inc();
  r.GetCounter("a_total", "A.").Inc();
  const std::string text = r.RenderPrometheus();
  EXPECT_LT(text.find("a_total"), text.find("b_total"));
}

}  // namespace
}  // namespace edgefleet::server::http::metrics
