#include "histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace parley::bench {
namespace {

TEST(HistogramTest, EmptyReadsZero) {
  Histogram h;
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.Quantile(0.5), 0u);
  EXPECT_EQ(h.Max(), 0u);
  EXPECT_EQ(h.Min(), 0u);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (int v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.Quantile(0.5), 50u);
  EXPECT_EQ(h.Quantile(0.99), 99u);
  EXPECT_EQ(h.Quantile(1.0), 100u);
  EXPECT_EQ(h.Min(), 1u);
  EXPECT_DOUBLE_EQ(h.Mean(), 50.5);
}

TEST(HistogramTest, EveryBucketEdgeMapsBackToItsBucket) {
  for (int i = 0; i < Histogram::kBuckets - 1; ++i) {
    const uint64_t edge = Histogram::UpperEdge(i);
    ASSERT_EQ(Histogram::Index(edge), i) << "edge " << edge;
    ASSERT_EQ(Histogram::Index(edge + 1), i + 1) << "edge " << edge;
  }
}

TEST(HistogramTest, LargeValuesWithinRelativeError) {
  // 1 us .. 10 s, log-spaced: each quantile read back is within 1/64 of the true value.
  Histogram h;
  std::vector<uint64_t> values;
  for (int i = 0; i < 10'000; ++i) {
    const auto v = static_cast<uint64_t>(1000.0 * std::pow(1e7, i / 10'000.0));
    values.push_back(v);
    h.Record(static_cast<int64_t>(v));
  }
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const uint64_t truth = values[static_cast<size_t>(q * 10'000) - 1];
    const double got = static_cast<double>(h.Quantile(q));
    EXPECT_NEAR(got, static_cast<double>(truth), static_cast<double>(truth) / 64.0 + 1)
        << "q=" << q;
  }
  EXPECT_EQ(h.Max(), values.back());
}

TEST(HistogramTest, MergeAddsCounts) {
  Histogram a, b;
  a.Record(10);
  b.Record(1'000'000);
  b.Record(-5);  // clock skew reads as zero, never as a huge unsigned value
  a.Merge(b);
  EXPECT_EQ(a.Count(), 3u);
  EXPECT_EQ(a.Max(), 1'000'000u);
  EXPECT_EQ(a.Min(), 0u);
}

TEST(HistogramTest, HugeValuesLandInTheTopBucket) {
  Histogram h;
  h.Record(INT64_MAX);
  EXPECT_EQ(h.Quantile(0.5), static_cast<uint64_t>(INT64_MAX));  // capped at the exact max
}

}  // namespace
}  // namespace parley::bench
