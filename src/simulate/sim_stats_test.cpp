#include "simulate/sim_stats.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace oxide::simulate {
namespace {

SimStats Sample() {
  SimStats s;
  s.devices = 10;
  s.control_planes = 1;
  s.poll_interval_s = 1;
  s.elapsed_s = 2;
  s.measured_s = 2;
  for (int i = 1; i <= 100; ++i) {
    s.kind(RequestKind::kHeartbeat).latency.Record(i * 1000);
    ++s.kind(RequestKind::kHeartbeat).count;
  }
  return s;
}

TEST(SimStats, ErrorsAreCountedByKindAndWhat) {
  SimStats s;
  s.AddError(RequestKind::kHeartbeat, "HTTP 503");
  s.AddError(RequestKind::kHeartbeat, "HTTP 503");
  s.AddError(RequestKind::kEnroll, "timeout");
  EXPECT_EQ(s.error_count(), 3u);
  EXPECT_EQ(s.errors.at("heartbeat: HTTP 503"), 2u);
  EXPECT_EQ(s.errors.at("enroll: timeout"), 1u);
}

TEST(SimStats, JsonCarriesRatesPercentilesAndErrors) {
  SimStats s = Sample();
  s.AddError(RequestKind::kDownload, "HTTP 500");
  auto j = nlohmann::json::parse(RenderJson(s));
  EXPECT_EQ(j["kinds"]["heartbeat"]["count"], 100);
  EXPECT_DOUBLE_EQ(j["kinds"]["heartbeat"]["rate_per_s"].get<double>(), 50.0);
  EXPECT_NEAR(j["kinds"]["heartbeat"]["p99_ms"].get<double>(), 99, 3);
  EXPECT_DOUBLE_EQ(j["kinds"]["heartbeat"]["max_ms"].get<double>(), 100);
  EXPECT_EQ(j["errors"]["download: HTTP 500"], 1);
  EXPECT_EQ(j["error_count"], 1);
  EXPECT_EQ(j["steady_p99_ms"], 0.0);  // no device enrolled: no steady state
}

TEST(SimStats, TextSaysNoErrorsOnlyWhenThereAreNone) {
  SimStats s = Sample();
  EXPECT_NE(RenderText(s).find("errors: none"), std::string::npos);
  s.AddError(RequestKind::kReport, "timeout");
  const std::string text = RenderText(s);
  EXPECT_EQ(text.find("errors: none"), std::string::npos);
  EXPECT_NE(text.find("report: timeout: 1"), std::string::npos);
}

TEST(SimStats, LatencyFromTheDueTimeAndSchedulingLagAreReported) {
  SimStats s = Sample();
  for (int i = 1; i <= 100; ++i)
    s.kind(RequestKind::kHeartbeat).intended_latency.Record(i * 10'000);
  s.schedule_lag.Record(250'000);
  auto j = nlohmann::json::parse(RenderJson(s));
  EXPECT_NEAR(j["kinds"]["heartbeat"]["intended_p99_ms"].get<double>(), 990, 30);
  EXPECT_NEAR(j["kinds"]["heartbeat"]["p99_ms"].get<double>(), 99, 3);
  EXPECT_NEAR(j["schedule_lag_max_ms"].get<double>(), 250, 1);
  const std::string text = RenderText(s);
  EXPECT_NE(text.find("due p99 ms"), std::string::npos);
  EXPECT_NE(text.find("scheduling lag"), std::string::npos);
}

// The run took 32 s, 30 of them waiting for the last requests after --duration (2 s): rates are
// over the 2 s in which requests were started, not diluted by the drain.
TEST(SimStats, RatesAreOverTheMeasuredWindowNotTheDrain) {
  SimStats s = Sample();
  s.elapsed_s = 32;
  s.measured_s = 2;
  auto j = nlohmann::json::parse(RenderJson(s));
  EXPECT_DOUBLE_EQ(j["kinds"]["heartbeat"]["rate_per_s"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(j["rate_per_s"].get<double>(), 50.0);
  EXPECT_DOUBLE_EQ(j["measured_s"].get<double>(), 2.0);
  EXPECT_NE(RenderText(s).find("(50.0/s)"), std::string::npos);
}

}  // namespace
}  // namespace oxide::simulate
