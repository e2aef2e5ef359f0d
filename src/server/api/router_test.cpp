// Device, fleet, campaign and system routes, called directly with Request structs.
#include "server/api/router.hpp"

#include <gtest/gtest.h>

#include "server/api/errors.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/service/test_env.hpp"

namespace oxide::server::api {
namespace {

class RouterTest : public ::testing::Test {
 protected:
  Response Call(Method m, const std::string& path, const std::string& body = "",
                const std::string& content_type = "application/json") {
    Request r;
    r.method = m;
    r.path = path;
    r.body = body;
    if (!content_type.empty()) r.With("content-type", content_type);
    r.With("authorization", "Bearer " + env.admin_token);
    return env.router->Handle(r);
  }
  static Json Body(const Response& r) { return Json::parse(r.body, nullptr, false); }
  static std::string Code(const Response& r) {
    Json j = Body(r);
    return j.contains("error") ? j["error"]["code"].get<std::string>() : "";
  }
  void Seed() {
    ASSERT_EQ(Call(Method::kPost, "/api/v1/devices", R"({"id":"d1","name":"One"})").status, 201);
    ASSERT_EQ(Call(Method::kPost, "/api/v1/fleets", R"({"id":"f","name":"F"})").status, 201);
    ASSERT_EQ(Call(Method::kPost, "/api/v1/fleets/f/devices/d1").status, 200);
    env.Upload("m", "v1", "model version one");
  }

  server::testing::TestEnv env;
};

TEST_F(RouterTest, HealthAndMetrics) {
  auto r = Call(Method::kGet, "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["status"], "healthy");
  auto m = Call(Method::kGet, "/metrics");
  EXPECT_NE(m.body.find("oxide_devices_online 0"), std::string::npos);
}

TEST_F(RouterTest, UnknownPathIs404AndWrongMethodIs405WithJsonErrors) {
  auto r = Call(Method::kGet, "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Code(r), "not_found");
  auto m = Call(Method::kPut, "/api/v1/devices");
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(Code(m), "method_not_allowed");
}

TEST_F(RouterTest, RegisterDeviceValidatesBody) {
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices", "{not json").status, 400);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices", R"({"id":5})").status, 422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices", R"({"name":"x"})").status, 422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices", R"([1,2])").status, 422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices", R"({"id":"a/b"})").status, 422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices", R"({"id":"x","tags":{"a":1}})").status, 422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices", R"({"id":"x"})", "text/plain").status, 415);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices", "").status, 422);
  std::string huge = R"({"id":"x","name":")" + std::string(70 * 1024, 'a') + "\"}";
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices", huge).status, 413);
}

TEST_F(RouterTest, DeviceLifecycle) {
  auto created =
      Call(Method::kPost, "/api/v1/devices", R"({"id":"d1","name":"One","tags":{"site":"lyon"}})");
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(Body(created)["status"], "registered");
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices", R"({"id":"d1","name":"One"})").status, 200);
  auto got = Body(Call(Method::kGet, "/api/v1/devices/d1"));
  EXPECT_EQ(got["name"], "One");
  EXPECT_EQ(got["status"], "unknown");
  EXPECT_TRUE(got["assignment"].is_null());
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/devices")).size(), 1u);
  EXPECT_EQ(Call(Method::kDelete, "/api/v1/devices/d1").status, 200);
  EXPECT_EQ(Call(Method::kGet, "/api/v1/devices/d1").status, 404);
  EXPECT_EQ(Call(Method::kDelete, "/api/v1/devices/d1").status, 404);
  EXPECT_EQ(Call(Method::kGet, "/api/v1/devices/..").status, 422);
}

TEST_F(RouterTest, HeartbeatRoute) {
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices/ghost/heartbeat", "").status, 404);
  ASSERT_EQ(Call(Method::kPost, "/api/v1/devices", R"({"id":"d1","name":"One"})").status, 201);
  auto empty = Call(Method::kPost, "/api/v1/devices/d1/heartbeat", "", "");
  EXPECT_EQ(empty.status, 200);
  EXPECT_TRUE(Body(empty)["assignment"].is_null());
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices/d1/heartbeat", "{bad").status, 400);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices/d1/heartbeat", R"({"current_model":7})").status,
            422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices/d1/heartbeat",
                 R"({"update":{"model_id":"m","version":"v","stage":"dancing"}})")
                .status,
            422);
  auto ok = Call(Method::kPost, "/api/v1/devices/d1/heartbeat",
                 R"({"current_model":"m","current_model_version":"v0","status":"online"})");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/devices/d1"))["status"], "online");
}

TEST_F(RouterTest, FleetRoutes) {
  Seed();
  EXPECT_EQ(Call(Method::kPost, "/api/v1/fleets", R"({"id":"f","name":"F"})").status, 409);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/fleets", R"({"id":7})").status, 422);
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/fleets/f"))["devices"][0], "d1");
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/fleets")).size(), 1u);
  EXPECT_EQ(Call(Method::kGet, "/api/v1/fleets/nope").status, 404);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/fleets/f/devices/ghost").status, 404);
  auto st = Body(Call(Method::kGet, "/api/v1/fleets/f/status"));
  EXPECT_EQ(st["total_devices"], 1);
  EXPECT_EQ(st["unknown"], 1);
  auto deploy =
      Call(Method::kPost, "/api/v1/fleets/f/deploy", R"({"model_id":"m","model_version":"v1"})");
  EXPECT_EQ(deploy.status, 200);
  EXPECT_EQ(Body(deploy)["total_devices"], 1);
  EXPECT_EQ(
      Call(Method::kPost, "/api/v1/fleets/nope/deploy", R"({"model_id":"m","model_version":"v1"})")
          .status,
      404);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/fleets/f/deploy", R"({"model_id":"m"})").status, 422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/fleets/f/deploy", "{").status, 400);
  EXPECT_EQ(Call(Method::kGet, "/api/v1/fleets/nope/status").status, 404);
  EXPECT_EQ(Call(Method::kDelete, "/api/v1/fleets/f/devices/d1").status, 200);
  EXPECT_EQ(Call(Method::kDelete, "/api/v1/fleets/f/devices/d1").status, 404);
}

TEST_F(RouterTest, CampaignRoutesAndTransitions) {
  Seed();
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns", R"({"model_id":"m"})").status, 422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns",
                 R"({"model_id":"m","model_version":"v1","fleet_id":"f","batch_size":"3"})")
                .status,
            422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns",
                 R"({"model_id":"m","model_version":"v1","fleet_id":"f","strategy":"nope"})")
                .status,
            422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns",
                 R"({"model_id":"m","model_version":"v9","fleet_id":"f"})")
                .status,
            404);
  auto created = Call(Method::kPost, "/api/v1/campaigns",
                      R"({"model_id":"m","model_version":"v1","fleet_id":"f",
                          "strategy":"canary","canary_percent":50})");
  ASSERT_EQ(created.status, 201);
  std::string id = Body(created)["id"];
  EXPECT_EQ(Body(created)["state"], "rolling_out");
  EXPECT_EQ(Body(created)["devices"][0]["state"], "pending");
  auto hb = Body(Call(Method::kPost, "/api/v1/devices/d1/heartbeat", ""));
  EXPECT_EQ(hb["assignment"]["campaign_id"], id);
  EXPECT_EQ(hb["assigned_model_version"], "v1");
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/campaigns"))["campaigns"].size(), 1u);
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/campaigns/" + id))["summary"]["pending"], 1);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns/" + id + "/resume").status, 409);
  EXPECT_EQ(Body(Call(Method::kPost, "/api/v1/campaigns/" + id + "/pause"))["state"], "paused");
  EXPECT_EQ(Body(Call(Method::kPost, "/api/v1/campaigns/" + id + "/abort"))["state"], "aborted");
  auto again = Call(Method::kPost, "/api/v1/campaigns/" + id + "/abort");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(Code(again), "failed_precondition");
  EXPECT_EQ(Call(Method::kGet, "/api/v1/campaigns/nope").status, 404);
  EXPECT_EQ(Call(Method::kGet, "/api/v1/campaigns/..").status, 422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns/nope/pause").status, 404);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns", "[").status, 400);
  EXPECT_TRUE(
      Body(Call(Method::kPost, "/api/v1/devices/d1/heartbeat", ""))["assignment"].is_null());
}

TEST_F(RouterTest, UploadPolicyChecksIdsBeforeTheBody) {
  auto ok = env.router->PolicyFor(Method::kPost, "/api/v1/models/m/versions/v1");
  EXPECT_TRUE(ok.upload);
  EXPECT_TRUE(ok.precheck.ok());
  auto bad = env.router->PolicyFor(Method::kPost, "/api/v1/models/m/versions/..");
  EXPECT_EQ(bad.precheck.code(), ErrorCode::kInvalidArgument);
  auto json = env.router->PolicyFor(Method::kPost, "/api/v1/devices");
  EXPECT_FALSE(json.upload);
  EXPECT_EQ(json.max_bytes, 64u * 1024);
}

TEST(HttpStatusFor, MapsEveryCode) {
  EXPECT_EQ(HttpStatusFor(ErrorCode::kCorrupt), 400);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kInvalidArgument), 422);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kFailedPrecondition), 409);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnsupported), 415);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kResourceExhausted), 507);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kIo), 500);
  EXPECT_EQ(HttpStatusFor(ErrorCode::kUnavailable), 503);
}

TEST_F(RouterTest, FleetsKeepDescriptionAndTags) {
  ASSERT_EQ(Call(Method::kPost, "/api/v1/fleets",
                 R"({"id":"w","name":"W","description":"warehouse","tags":{"site":"lyon"}})")
                .status,
            201);
  auto f = Body(Call(Method::kGet, "/api/v1/fleets/w"));
  EXPECT_EQ(f["description"], "warehouse");
  EXPECT_EQ(f["tags"]["site"], "lyon");
  EXPECT_EQ(Call(Method::kPost, "/api/v1/fleets", R"({"id":"x","description":5})").status, 422);
}

TEST_F(RouterTest, DeviceShowsPlatformFleetLastResultAndHistory) {
  Seed();
  auto created = Call(Method::kPost, "/api/v1/campaigns",
                      R"({"model_id":"m","model_version":"v1","fleet_id":"f"})");
  ASSERT_EQ(created.status, 201);
  std::string cid = Body(created)["id"];
  std::string hb = R"({"platform":{"os":"linux","arch":"aarch64","cpu_count":4},
      "update":{"model_id":"m","version":"v1","stage":"rolled_back","error":"unhealthy"},
      "reports":[{"id":"r1","model_id":"m","version":"v1","campaign_id":")" +
                   cid + R"(","outcome":"rolled_back","stage":"health_check","exit_status":2,
      "error":"health check of v1 failed: health check exited 2","output":"no GPU"}]})";
  ASSERT_EQ(Call(Method::kPost, "/api/v1/devices/d1/heartbeat", hb).status, 200);
  auto d = Body(Call(Method::kGet, "/api/v1/devices/d1"));
  EXPECT_EQ(d["platform"]["os"], "linux");
  EXPECT_EQ(d["platform"]["arch"], "aarch64");
  EXPECT_EQ(d["fleet_id"], "f");
  EXPECT_EQ(d["last_update_result"]["failed"]["error"], "unhealthy");
  ASSERT_EQ(d["history"].size(), 1u);
  EXPECT_EQ(d["history"][0]["exit_status"], 2);
  EXPECT_EQ(d["history"][0]["stage"], "health_check");
  EXPECT_EQ(d["history"][0]["output"], "no GPU");
  auto c = Body(Call(Method::kGet, "/api/v1/campaigns/" + cid));
  EXPECT_EQ(c["state"], "failed");
  EXPECT_EQ(c["summary"]["rolled_back"], 1);
  EXPECT_EQ(c["summary"]["failures"], 1);
  EXPECT_EQ(c["first_failure"]["error"], "health check of v1 failed: health check exited 2");
  EXPECT_EQ(c["history"].size(), 1u);
  auto list = Body(Call(Method::kGet, "/api/v1/campaigns"));
  EXPECT_EQ(list["campaigns"][0]["state"], "failed");
  EXPECT_EQ(list["campaigns"][0]["rolled_back"], 1);
  auto reference = Body(Call(Method::kGet, "/api/v1/devices"));
  EXPECT_FALSE(reference[0].contains("history"));  // the list stays light
  EXPECT_EQ(reference[0]["fleet_id"], "f");
}

TEST_F(RouterTest, ClearRefusalRoutes) {
  Seed();
  auto created = Call(Method::kPost, "/api/v1/campaigns",
                      R"({"model_id":"m","model_version":"v1","fleet_id":"f"})");
  std::string cid = Body(created)["id"];
  auto r = Call(Method::kPost, "/api/v1/campaigns/" + cid + "/clear-refusals");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(Body(r)["devices"], 1);
  auto one =
      Call(Method::kPost, "/api/v1/devices/d1/clear-refusal", R"({"model_id":"m","version":"v1"})");
  EXPECT_EQ(one.status, 200);
  EXPECT_EQ(Body(one)["status"], "queued");
  EXPECT_EQ(Call(Method::kPost, "/api/v1/devices/d1/clear-refusal", R"({"model_id":"m"})").status,
            422);
  EXPECT_EQ(
      Call(Method::kPost, "/api/v1/devices/zz/clear-refusal", R"({"model_id":"m","version":"v1"})")
          .status,
      404);
  auto hb = Body(Call(Method::kPost, "/api/v1/devices/d1/heartbeat", "{}"));
  ASSERT_EQ(hb["clear_refusals"].size(), 1u);  // one per version, however often it is asked
  EXPECT_EQ(hb["clear_refusals"][0]["version"], "v1");
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns/nope/clear-refusals").status, 404);
}

}  // namespace
}  // namespace oxide::server::api
