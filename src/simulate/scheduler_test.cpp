#include "simulate/scheduler.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace oxide::simulate {
namespace {

TEST(Scheduler, PopsInDueOrderAndOnlyWhenDue) {
  Scheduler s;
  s.At(300, 3);
  s.At(100, 1);
  s.At(200, 2);
  EXPECT_EQ(s.NextDue(), 100);
  EXPECT_EQ(s.PopDue(50), std::nullopt);
  EXPECT_EQ(s.PopDue(250), 1u);
  EXPECT_EQ(s.PopDue(250), 2u);
  EXPECT_EQ(s.PopDue(250), std::nullopt);
  EXPECT_EQ(s.size(), 1u);
  EXPECT_EQ(s.PopDue(300), 3u);
  EXPECT_EQ(s.NextDue(), std::nullopt);
}

TEST(Scheduler, TiesGoToTheLowerDevice) {
  Scheduler s;
  for (uint32_t d : {7u, 2u, 5u}) s.At(10, d);
  EXPECT_EQ(s.PopDue(10), 2u);
  EXPECT_EQ(s.PopDue(10), 5u);
  EXPECT_EQ(s.PopDue(10), 7u);
}

TEST(Jitter, FirstActionsSpreadEvenlyOverOneInterval) {
  Jitter j(42);
  const int64_t interval = 1'000'000;
  std::vector<int> tenths(10);
  for (int i = 0; i < 10'000; ++i) {
    const int64_t t = j.First(500, interval);
    ASSERT_GE(t, 500);
    ASSERT_LT(t, 500 + interval);
    ++tenths[static_cast<size_t>((t - 500) * 10 / interval)];
  }
  for (int n : tenths) EXPECT_NEAR(n, 1000, 150);  // no burst at the start
}

TEST(Jitter, NextIsOneIntervalPlusOrMinusTenPercent) {
  Jitter j(7);
  int64_t lo = INT64_MAX, hi = 0;
  for (int i = 0; i < 1000; ++i) {
    const int64_t d = j.Next(1000, 100'000) - 1000;
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GE(lo, 90'000);
  EXPECT_LE(hi, 110'000);
  EXPECT_LT(lo, 92'000);  // the spread is used, not a constant
  EXPECT_GT(hi, 108'000);
}

TEST(Jitter, SameSeedSameSchedule) {
  Jitter a(3), b(3);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.First(0, 1000), b.First(0, 1000));
}

}  // namespace
}  // namespace oxide::simulate
