#include "simulate/latency_histogram.hpp"

#include <gtest/gtest.h>

namespace oxide::simulate {
namespace {

TEST(LatencyHistogram, EmptyReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(50), 0);
  EXPECT_EQ(h.max(), 0);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 1; v <= 10; ++v) h.Record(v);
  EXPECT_EQ(h.Percentile(50), 5);
  EXPECT_EQ(h.Percentile(90), 9);
  EXPECT_EQ(h.Percentile(100), 10);
  EXPECT_EQ(h.Percentile(0), 1);
}

TEST(LatencyHistogram, PercentilesWithinThreePercent) {
  LatencyHistogram h;
  for (int v = 1; v <= 100'000; ++v) h.Record(v);
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    const double want = p / 100.0 * 100'000;
    EXPECT_NEAR(static_cast<double>(h.Percentile(p)), want, want * 0.032) << p;
    EXPECT_GE(static_cast<double>(h.Percentile(p)), want) << "an upper edge, never below";
  }
  EXPECT_EQ(h.max(), 100'000);
  EXPECT_EQ(h.Percentile(100), 100'000);
}

TEST(LatencyHistogram, OneOutlierSetsMaxAndP100Only) {
  LatencyHistogram h;
  for (int i = 0; i < 999; ++i) h.Record(1000);
  h.Record(5'000'000);
  EXPECT_LE(h.Percentile(99), 1031);
  EXPECT_EQ(h.max(), 5'000'000);
  EXPECT_EQ(h.Percentile(100), 5'000'000);
}

TEST(LatencyHistogram, MergeAddsCountsAndKeepsMax) {
  LatencyHistogram a, b;
  a.Record(10);
  b.Record(20);
  b.Record(30);
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.max(), 30);
  EXPECT_EQ(a.Percentile(50), 20);
}

TEST(LatencyHistogram, NegativeAndHugeValuesAreBounded) {
  LatencyHistogram h;
  h.Record(-5);
  h.Record(INT64_MAX);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.Percentile(50), 0);
  EXPECT_EQ(h.max(), INT64_MAX);
}

}  // namespace
}  // namespace oxide::simulate
