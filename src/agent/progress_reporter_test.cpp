// ProgressLog: what an agent without a terminal (journald) prints while it downloads.
#include "agent/progress_reporter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/fake_clock.hpp"

namespace oxide::agent {
namespace {

using std::chrono::seconds;

class ProgressLogTest : public ::testing::Test {
 protected:
  void Feed(uint64_t done, uint64_t total = 8000, bool patch = true, uint64_t synced = 0) {
    record.model_id = "mlp";
    record.target = ModelRef{"v2", "ab", total, "c-1"};
    record.download.via_patch = patch;
    record.download.bytes_done = done;
    record.download.bytes_synced = synced;
    record.download.bytes_total = total;
    log.Update(record);
  }
  testing::FakeClock clock;
  std::vector<std::string> lines;
  ProgressLog log{[this](const std::string& l) { lines.push_back(l); }, clock, seconds(10)};
  UpdateRecord record;
};

TEST_F(ProgressLogTest, OneLinePerQuarterWithRate) {
  Feed(0);
  clock.Advance(seconds(1));
  Feed(1000);  // 12%: nothing yet
  EXPECT_TRUE(lines.empty());
  clock.Advance(seconds(1));
  Feed(2500);  // 31%
  Feed(3000);  // still the second quarter
  clock.Advance(seconds(2));
  Feed(8000);  // done: jumps over 50% and 75%, one line
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "mlp: downloading v2 (patch): 2.50 kB of 8.00 kB (31%), 1.25 kB/s");
  EXPECT_EQ(lines[1], "mlp: downloading v2 (patch): 8.00 kB of 8.00 kB (100%), 2.00 kB/s");
}

TEST_F(ProgressLogTest, ASlowDownloadLogsAtLeastEveryInterval) {
  Feed(0, 10'000'000, false);
  for (int i = 1; i <= 25; ++i) {
    clock.Advance(seconds(1));
    Feed(static_cast<uint64_t>(i) * 10'000, 10'000'000, false);  // 10 kB/s: 0.1% a second
  }
  ASSERT_EQ(lines.size(), 2u);  // at 10 s and 20 s
  EXPECT_EQ(lines[0], "mlp: downloading v2 (full file): 100.0 kB of 10.0 MB (1%), 10.0 kB/s");
}

TEST_F(ProgressLogTest, ATinyDownloadInOneWriteStillLogsOnce) {
  Feed(7190, 7190);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "mlp: downloading v2 (patch): 7.19 kB of 7.19 kB (100%)");
}

TEST_F(ProgressLogTest, NoRateOverLessThanASecond) {
  Feed(16'000, 64'000);  // the first chunk: not a resume
  clock.Advance(std::chrono::milliseconds(400));
  Feed(64'000, 64'000);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "mlp: downloading v2 (patch): 64.0 kB of 64.0 kB (100%)");
}

TEST_F(ProgressLogTest, ANewPayloadStartsOverAndAResumeSaysSo) {
  Feed(8000);
  Feed(4000, 16000, false, 4000);  // patch given up; the full file resumed at 4 kB
  clock.Advance(seconds(2));
  Feed(16000, 16000, false, 4000);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[1],
            "mlp: downloading v2 (full file): 4.00 kB of 16.0 kB (25%), resumed at 4.00 kB");
  EXPECT_EQ(lines[2],
            "mlp: downloading v2 (full file): 16.0 kB of 16.0 kB (100%), 6.00 kB/s, resumed at "
            "4.00 kB");
}

TEST(HumanBytes, DecimalUnits) {
  EXPECT_EQ(HumanBytes(812), "812 B");
  EXPECT_EQ(HumanBytes(7190), "7.19 kB");
  EXPECT_EQ(HumanBytes(2'143'872), "2.14 MB");
  EXPECT_EQ(HumanBytes(300'000'000), "300.0 MB");
  EXPECT_EQ(HumanBytes(1'200'000'000), "1.20 GB");
}

}  // namespace
}  // namespace oxide::agent
