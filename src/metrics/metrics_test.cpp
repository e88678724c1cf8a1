#include "metrics/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <thread>
#include <vector>

namespace parley {
namespace {

TEST(MetricsTest, CounterWithLabelsRendersExactly) {
  MetricsRegistry registry;
  Counter& sent = registry.AddCounter("parley_messages_total", "Messages accepted.",
                                      {{"kind", "chat"}, {"channel", "dm"}});
  Counter& other = registry.AddCounter("parley_messages_total", "Messages accepted.",
                                       {{"kind", "typing"}, {"channel", "dm"}});
  sent.Inc();
  sent.Inc(4);
  other.Inc();
  EXPECT_EQ(sent.Value(), 5u);
  // Labels render sorted by name; series in registration order.
  EXPECT_EQ(registry.Render(),
            "# HELP parley_messages_total Messages accepted.\n"
            "# TYPE parley_messages_total counter\n"
            "parley_messages_total{channel=\"dm\",kind=\"chat\"} 5\n"
            "parley_messages_total{channel=\"dm\",kind=\"typing\"} 1\n");
}

TEST(MetricsTest, GaugeRendersExactly) {
  MetricsRegistry registry;
  Gauge& open = registry.AddGauge("parley_connections", "Open WebSocket connections.");
  open.Set(10);
  open.Add(-3);
  open.Add(1);
  EXPECT_EQ(open.Value(), 8);
  EXPECT_EQ(registry.Render(),
            "# HELP parley_connections Open WebSocket connections.\n"
            "# TYPE parley_connections gauge\n"
            "parley_connections 8\n");
  open.Set(-2);
  EXPECT_THAT(registry.Render(), ::testing::HasSubstr("parley_connections -2\n"));
}

TEST(MetricsTest, HistogramRendersCumulativeBucketsSumAndCount) {
  MetricsRegistry registry;
  Histogram& latency = registry.AddHistogram("parley_request_seconds", "Request latency.",
                                             {0.005, 0.1, 2.5}, {{"route", "/login"}});
  for (double value : {0.001, 0.005, 0.05, 0.05, 1.0, 30.0}) latency.Observe(value);
  latency.Observe(std::numeric_limits<double>::quiet_NaN());  // ignored
  EXPECT_EQ(latency.Count(), 6u);
  EXPECT_EQ(registry.Render(),
            "# HELP parley_request_seconds Request latency.\n"
            "# TYPE parley_request_seconds histogram\n"
            "parley_request_seconds_bucket{route=\"/login\",le=\"0.005\"} 2\n"
            "parley_request_seconds_bucket{route=\"/login\",le=\"0.1\"} 4\n"
            "parley_request_seconds_bucket{route=\"/login\",le=\"2.5\"} 5\n"
            "parley_request_seconds_bucket{route=\"/login\",le=\"+Inf\"} 6\n"
            "parley_request_seconds_sum{route=\"/login\"} 31.106\n"
            "parley_request_seconds_count{route=\"/login\"} 6\n");
}

TEST(MetricsTest, EmptyHistogramWithoutLabels) {
  MetricsRegistry registry;
  registry.AddHistogram("h", "x", {1, std::numeric_limits<double>::infinity()});
  EXPECT_EQ(registry.Render(),
            "# HELP h x\n"
            "# TYPE h histogram\n"
            "h_bucket{le=\"1\"} 0\n"
            "h_bucket{le=\"+Inf\"} 0\n"
            "h_sum 0\n"
            "h_count 0\n");
}

TEST(MetricsTest, FamiliesRenderSortedByName) {
  MetricsRegistry registry;
  registry.AddGauge("b", "B.");
  registry.AddCounter("a", "A.");
  EXPECT_EQ(registry.Render(),
            "# HELP a A.\n# TYPE a counter\na 0\n"
            "# HELP b B.\n# TYPE b gauge\nb 0\n");
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry registry;
  registry.AddCounter("c", "Back\\slash, \"quotes\" and\nnewline.",
                      {{"path", "C:\\dir \"x\"\nnext"}});
  EXPECT_EQ(registry.Render(),
            "# HELP c Back\\\\slash, \"quotes\" and\\nnewline.\n"
            "# TYPE c counter\n"
            "c{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 0\n");
}

TEST(MetricsTest, SameSeriesTwiceIsTheSameObject) {
  MetricsRegistry registry;
  Counter& a = registry.AddCounter("c", "h", {{"x", "1"}, {"y", "2"}});
  Counter& b = registry.AddCounter("c", "h", {{"y", "2"}, {"x", "1"}});  // order is irrelevant
  Counter& other = registry.AddCounter("c", "h", {{"x", "1"}, {"y", "3"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  EXPECT_EQ(&registry.AddGauge("g", "h"), &registry.AddGauge("g", "h"));
  Histogram& h1 = registry.AddHistogram("h", "h", LatencyBuckets());
  EXPECT_EQ(&h1, &registry.AddHistogram("h", "h", LatencyBuckets()));
}

TEST(MetricsTest, ReferencesStayValidAsSeriesAreAdded) {
  MetricsRegistry registry;
  Counter& first = registry.AddCounter("c", "h", {{"n", "0"}});
  first.Inc();
  for (int i = 1; i < 100; ++i) registry.AddCounter("c", "h", {{"n", std::to_string(i)}});
  first.Inc();
  EXPECT_EQ(&first, &registry.AddCounter("c", "h", {{"n", "0"}}));
  EXPECT_EQ(first.Value(), 2u);
}

TEST(MetricsDeathTest, SameNameWithAnotherTypeAborts) {
  MetricsRegistry registry;
  registry.AddCounter("x", "h");
  EXPECT_DEATH(registry.AddGauge("x", "h"), "two types");
  EXPECT_DEATH(registry.AddCounter("bad name", "h"), "invalid metric name");
  EXPECT_DEATH(registry.AddHistogram("y", "h", {1, 1}), "strictly increasing");
  EXPECT_DEATH(registry.AddHistogram("y", "h", {1}, {{"le", "1"}}), "reserved");
}

TEST(MetricsTest, ConcurrentIncrementsSum) {
  MetricsRegistry registry;
  Counter& counter = registry.AddCounter("c", "h");
  Histogram& histogram = registry.AddHistogram("h", "h", {0.5});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        counter.Inc();
        histogram.Observe(1.0);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter.Value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(histogram.Count(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(histogram.Sum(), double{kThreads} * kPerThread);
}

TEST(MetricsTest, LatencyBucketsAreIncreasingFromHalfAMillisecondToTenSeconds) {
  const std::vector<double> buckets = LatencyBuckets();
  ASSERT_GE(buckets.size(), 10u);
  EXPECT_EQ(buckets.front(), 0.0005);
  EXPECT_EQ(buckets.back(), 10.0);
  EXPECT_TRUE(std::is_sorted(buckets.begin(), buckets.end()));
  MetricsRegistry registry;
  registry.AddHistogram("h", "h", buckets);
  EXPECT_THAT(registry.Render(), ::testing::HasSubstr("h_bucket{le=\"0.0005\"} 0\n"));
}

}  // namespace
}  // namespace parley
