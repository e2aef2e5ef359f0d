// ops (issue #10): GET /api/v1/stats/bandwidth over the hourly series, and GET /metrics.
#include <gtest/gtest.h>

#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"
#include "server/service/test_env.hpp"

namespace oxide::server::api {
namespace {

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 86400;

class StatsRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Noon UTC on some day: two hours of traffic before it, one the day before.
    env.clock.SetUnixMillis((kNoon - kDay + kHour) * 1000);
    Book(100, 1000);
    env.clock.SetUnixMillis((kNoon - 2 * kHour + 5) * 1000);
    Book(10, 100);
    Book(20, 200);  // same hour
    env.clock.SetUnixMillis((kNoon + 30) * 1000);
    Book(5, 5);
  }
  void Book(uint64_t served, uint64_t full) {
    // An operator's download (no device) is booked to the series too.
    ASSERT_TRUE(env.models->RecordDownload("", "m", "v1", served, full).ok());
  }
  Response Get(const std::string& path_and_query, const std::string& token) {
    Request r;
    r.path = path_and_query.substr(0, path_and_query.find('?'));
    if (path_and_query.find('?') != std::string::npos) {
      r.query = path_and_query.substr(path_and_query.find('?') + 1);
    }
    if (!token.empty()) r.With("authorization", "Bearer " + token);
    return env.router->Handle(r);
  }
  static Json Body(const Response& r) { return Json::parse(r.body, nullptr, false); }

  static constexpr int64_t kNoon = 1'700'006'400 / kDay * kDay + 12 * kHour;
  server::testing::TestEnv env;
};

TEST_F(StatsRoutesTest, HourlySeriesIsDenseAndTotalled) {
  auto r = Get("/api/v1/stats/bandwidth?bucket=hour&from=" + std::to_string(kNoon - 3 * kHour) +
                   "&to=" + std::to_string(kNoon + kHour),
               env.admin_token);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Body(r);
  EXPECT_EQ(j["bucket"], "hour");
  EXPECT_EQ(j["price_per_gb"], 0.09);
  EXPECT_EQ(j["currency"], "EUR");
  ASSERT_EQ(j["series"].size(), 4u);  // zeros included: a chart needs every bucket
  EXPECT_EQ(j["series"][0]["t"], kNoon - 3 * kHour);
  EXPECT_EQ(j["series"][0]["bytes_served"], 0);
  EXPECT_EQ(j["series"][1]["t"], kNoon - 2 * kHour);
  EXPECT_EQ(j["series"][1]["bytes_served"], 30);
  EXPECT_EQ(j["series"][1]["bytes_full_equivalent"], 300);
  EXPECT_EQ(j["series"][1]["bytes_saved"], 270);
  EXPECT_EQ(j["series"][3]["bytes_served"], 5);
  EXPECT_EQ(j["series"][3]["bytes_saved"], 0);
  EXPECT_EQ(j["total"],
            Json({{"bytes_served", 35}, {"bytes_full_equivalent", 305}, {"bytes_saved", 270}}));
}

TEST_F(StatsRoutesTest, DailyBucketsAndDefaultRanges) {
  // `from` inside a day starts at that day's midnight; the default `to` is the current bucket.
  auto r = Get("/api/v1/stats/bandwidth?bucket=day&from=" + std::to_string(kNoon - kDay + 7),
               env.admin_token);
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Body(r);
  ASSERT_EQ(j["series"].size(), 2u);
  EXPECT_EQ(j["series"][0]["t"], kNoon - 12 * kHour - kDay);
  EXPECT_EQ(j["series"][0]["bytes_served"], 100);
  EXPECT_EQ(j["series"][1]["bytes_served"], 35);
  auto hours = Body(Get("/api/v1/stats/bandwidth", env.admin_token));
  ASSERT_EQ(hours["series"].size(), 48u);
  EXPECT_EQ(hours["series"][47]["t"], kNoon);
  EXPECT_EQ(hours["total"]["bytes_served"], 135);
  EXPECT_EQ(Body(Get("/api/v1/stats/bandwidth?bucket=day", env.admin_token))["series"].size(), 30u);
}

TEST_F(StatsRoutesTest, RefusesBadQueriesAndAnonymousCallers) {
  for (const char* q :
       {"bucket=week", "from=-5", "from=abc", "from=10&to=10", "from=20&to=10",
        "bucket=hour&from=0&to=99999999999",
        // Near INT64_MAX: bucket arithmetic would overflow (wrap or spin).
        "from=0&to=9223372036854775807", "from=9223372036854774000&to=9223372036854775807",
        "bucket=day&from=253402300000&to=253402400000"}) {
    auto r = Get(std::string("/api/v1/stats/bandwidth?") + q, env.admin_token);
    EXPECT_EQ(r.status, 422) << q << ": " << r.body;
  }
  EXPECT_EQ(Get("/api/v1/stats/bandwidth", "").status, 401);
}

TEST_F(StatsRoutesTest, MetricsCountRoutesByPatternAndStoreGauges) {
  EXPECT_EQ(Get("/api/v1/devices/nope", env.admin_token).status, 404);
  EXPECT_EQ(Get("/metrics", "").status, 401);
  auto r = Get("/metrics", env.admin_token);
  ASSERT_EQ(r.status, 200);
  const std::string& m = r.body;
  EXPECT_NE(m.find("# TYPE oxide_http_requests_total counter"), std::string::npos) << m;
  EXPECT_NE(m.find("oxide_http_requests_total{code=\"404\",method=\"GET\","
                   "route=\"/api/v1/devices/:id\"} 1"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("/api/v1/devices/nope"), std::string::npos) << "raw path in a label";
  EXPECT_NE(m.find("oxide_auth_refusals_total{reason=\"unauthenticated\"} 1"), std::string::npos);
  EXPECT_NE(m.find("oxide_bytes_served_total 0"), std::string::npos)
      << "RecordDownload books the series and the store; the counters move on the socket path";
  EXPECT_NE(m.find("oxide_campaigns{state=\"rolling_out\"} 0"), std::string::npos);
  EXPECT_NE(m.find("oxide_devices{state=\"never_seen\"} 0"), std::string::npos);
  EXPECT_NE(m.find("oxide_patch_queue_depth 0"), std::string::npos);
}

}  // namespace
}  // namespace oxide::server::api
