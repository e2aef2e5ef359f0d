// Targeting (issue #10) through the route table: inventory in device JSON, PUT tags, targeted
// and approved campaigns, and the paged, filtered lists.
#include <gtest/gtest.h>

#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"
#include "server/service/test_env.hpp"

namespace oxide::server::api {
namespace {

class TargetingRoutesTest : public ::testing::Test {
 protected:
  Response Call(Method m, const std::string& target, const std::string& body = "",
                const std::string& token = "") {
    Request r;
    r.method = m;
    r.path = target.substr(0, target.find('?'));
    if (target.find('?') != std::string::npos) r.query = target.substr(target.find('?') + 1);
    r.body = body;
    r.With("content-type", "application/json");
    r.With("authorization", "Bearer " + (token.empty() ? env.admin_token : token));
    return env.router->Handle(r);
  }
  static Json Body(const Response& r) { return Json::parse(r.body, nullptr, false); }
  void Device(const std::string& id, const std::string& tags = "{}") {
    ASSERT_EQ(
        Call(Method::kPost, "/api/v1/devices", R"({"id":")" + id + R"(","tags":)" + tags + "}")
            .status,
        201);
  }
  Response Beat(const std::string& id, const std::string& body = "") {
    return Call(Method::kPost, "/api/v1/devices/" + id + "/heartbeat", body);
  }
  static std::vector<std::string> Ids(const Json& list, const char* key) {
    std::vector<std::string> out;
    for (const auto& e : list) out.push_back(e[key].get<std::string>());
    return out;
  }
  using V = std::vector<std::string>;

  server::testing::TestEnv env;
};

TEST_F(TargetingRoutesTest, InventoryFromTheHeartbeatShowsInTheDeviceJson) {
  Device("d1");
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/devices/d1"))["inventory"], Json::object());
  auto hb = Beat("d1", R"({"inventory":{"os":"linux","os_version":"Debian 12","arch":"aarch64",
      "agent_version":"oxide-agent/0.1","free_disk_bytes":1073741824,
      "attributes":{"site":"lyon"}}})");
  ASSERT_EQ(hb.status, 200) << hb.body;
  Json inv = Body(Call(Method::kGet, "/api/v1/devices/d1"))["inventory"];
  EXPECT_EQ(inv["arch"], "aarch64");
  EXPECT_EQ(inv["free_disk_bytes"], 1073741824);
  EXPECT_EQ(inv["attributes"]["site"], "lyon");
  EXPECT_TRUE(inv["updated_at"].is_string());
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/devices"))[0]["inventory"]["arch"], "aarch64");
}

TEST_F(TargetingRoutesTest, BadInventoryIs422WithAClearMessage) {
  Device("d1");
  auto wrong_type = Beat("d1", R"({"inventory":{"attributes":{"k":7}}})");
  EXPECT_EQ(wrong_type.status, 422);
  EXPECT_NE(wrong_type.body.find("inventory.attributes['k'] must be a string"), std::string::npos);
  std::string many;
  for (int i = 0; i < 65; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
  auto too_many = Beat("d1", R"({"inventory":{"attributes":{)" + many + "}}}");
  EXPECT_EQ(too_many.status, 422);
  EXPECT_NE(too_many.body.find("at most 64 inventory attributes"), std::string::npos);
  EXPECT_EQ(Beat("d1", R"({"inventory":"linux"})").status, 422);
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/devices/d1"))["inventory"], Json::object());
}

TEST_F(TargetingRoutesTest, PutTagsReplacesTheTagsAdminOnly) {
  Device("d1", R"({"site":"lyon","hw":"rpi4"})");
  auto r = Call(Method::kPut, "/api/v1/devices/d1/tags", R"({"site":"paris"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r)["id"], "d1");
  EXPECT_EQ(Body(r)["tags"], (Json{{"site", "paris"}}));
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/devices/d1"))["tags"], (Json{{"site", "paris"}}));
  EXPECT_EQ(Call(Method::kPut, "/api/v1/devices/d1/tags", R"({"site":1})").status, 422);
  EXPECT_EQ(Call(Method::kPut, "/api/v1/devices/d1/tags", R"(["a"])").status, 422);
  EXPECT_EQ(Call(Method::kPut, "/api/v1/devices/d1/tags", "{bad").status, 400);
  EXPECT_EQ(Call(Method::kPut, "/api/v1/devices/ghost/tags", "{}").status, 404);
  auto token = Call(Method::kPost, "/api/v1/tokens", R"({"name":"v","role":"viewer"})");
  std::string viewer = Body(token)["token"];
  EXPECT_EQ(Call(Method::kPut, "/api/v1/devices/d1/tags", "{}", viewer).status, 403);
  EXPECT_EQ(Call(Method::kPut, "/api/v1/devices/d1/tags", "{}").status, 200);
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/devices/d1"))["tags"], Json::object());
}

TEST_F(TargetingRoutesTest, TaggedCampaignReachesOnlyTaggedDevicesEvenAfterHeartbeats) {
  Device("a", R"({"site":"lyon"})");
  Device("b", R"({"site":"paris"})");
  Device("c", R"({"site":"lyon"})");
  env.Upload("m", "v1", "model version one");
  auto created = Call(Method::kPost, "/api/v1/campaigns",
                      R"({"model_id":"m","model_version":"v1","target":{"tags":{"site":"lyon"}}})");
  ASSERT_EQ(created.status, 201) << created.body;
  Json c = Body(created);
  EXPECT_EQ(c["fleet_id"], "");
  EXPECT_EQ(c["target"], (Json{{"tags", {{"site", "lyon"}}}, {"inventory", Json::object()}}));
  EXPECT_EQ(c["require_approval"], false);
  EXPECT_EQ(Ids(c["devices"], "device_id"), (V{"a", "c"}));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Body(Beat("b"))["assignment"].is_null());
    EXPECT_EQ(Body(Beat("a"))["assignment"]["campaign_id"], c["id"]);
  }
  Json listed = Body(Call(Method::kGet, "/api/v1/campaigns"))["campaigns"][0];
  EXPECT_EQ(listed["target"]["tags"]["site"], "lyon");
  auto none = Call(Method::kPost, "/api/v1/campaigns",
                   R"({"model_id":"m","model_version":"v1","target":{"tags":{"site":"mars"}}})");
  EXPECT_EQ(none.status, 422);
  EXPECT_EQ(Body(none)["error"]["message"], "target matches no device");
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns",
                 R"({"model_id":"m","model_version":"v1","target":{"tag":{}}})")
                .status,
            422);
  EXPECT_EQ(
      Call(Method::kPost, "/api/v1/campaigns", R"({"model_id":"m","model_version":"v1"})").status,
      422);
}

TEST_F(TargetingRoutesTest, ApproveRouteMovesAWaitingCanaryOn) {
  Device("a");
  Device("b");
  env.Upload("m", "v1", "model version one");
  auto created = Call(Method::kPost, "/api/v1/campaigns",
                      R"({"model_id":"m","model_version":"v1","target":{},"strategy":"canary",
                          "canary_percent":50,"require_approval":true})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = Body(created)["id"];
  EXPECT_EQ(Body(created)["require_approval"], true);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns/" + id + "/approve").status, 409);
  ASSERT_EQ(Beat("a", R"({"current_model":"m","current_model_version":"v1"})").status, 200);
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/campaigns/" + id))["state"], "awaiting_approval");
  EXPECT_TRUE(Body(Beat("b"))["assignment"].is_null());
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns/" + id + "/pause").status, 409);
  auto approved = Call(Method::kPost, "/api/v1/campaigns/" + id + "/approve");
  ASSERT_EQ(approved.status, 200);
  EXPECT_EQ(Body(approved)["state"], "rolling_out");
  EXPECT_EQ(Body(Beat("b"))["assignment"]["campaign_id"], id);
  EXPECT_TRUE(Body(Call(Method::kGet, "/api/v1/campaigns/" + id))["approved_at"].is_string());
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns/ghost/approve").status, 404);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns",
                 R"({"model_id":"m","model_version":"v1","target":{},"require_approval":true})")
                .status,
            422);
  EXPECT_EQ(Call(Method::kPost, "/api/v1/campaigns",
                 R"({"model_id":"m","model_version":"v1","target":{},"require_approval":"yes"})")
                .status,
            422);
}

TEST_F(TargetingRoutesTest, DeviceListPagesWithTheNextAfterHeader) {
  for (const char* id : {"a", "b", "c", "d", "e"}) Device(id);
  auto first = Call(Method::kGet, "/api/v1/devices?limit=2");
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(Ids(Body(first), "id"), (V{"a", "b"}));
  EXPECT_EQ(first.Header("X-Next-After"), "b");
  auto second = Call(Method::kGet, "/api/v1/devices?limit=2&after=b");
  EXPECT_EQ(Ids(Body(second), "id"), (V{"c", "d"}));
  auto last = Call(Method::kGet, "/api/v1/devices?limit=2&after=d");
  EXPECT_EQ(Ids(Body(last), "id"), (V{"e"}));
  EXPECT_EQ(last.Header("X-Next-After"), "");
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/devices")).size(), 5u);  // default 500
  EXPECT_EQ(Call(Method::kGet, "/api/v1/devices?limit=1000").status, 200);
  for (const char* bad : {"limit=0", "limit=1001", "limit=x", "limit=", "limit=5&limit=6",
                          "status=sleeping", "tag=nocolon", "fleet=a%2Fb", "colour=red", "q=%zz"}) {
    EXPECT_EQ(Call(Method::kGet, std::string("/api/v1/devices?") + bad).status, 400) << bad;
  }
}

TEST_F(TargetingRoutesTest, DeviceListFilters) {
  Device("cam-lyon-1", R"({"site":"lyon"})");
  Device("cam-lyon-2", R"({"site":"lyon","hw":"rpi4"})");
  Device("gate-paris", R"({"site":"paris"})");
  ASSERT_EQ(Call(Method::kPost, "/api/v1/fleets", R"({"id":"f","name":"F"})").status, 201);
  ASSERT_EQ(Call(Method::kPost, "/api/v1/fleets/f/devices/gate-paris").status, 200);
  ASSERT_EQ(Beat("cam-lyon-2").status, 200);
  auto ids = [&](const std::string& q) {
    return Ids(Body(Call(Method::kGet, "/api/v1/devices?" + q)), "id");
  };
  EXPECT_EQ(ids("tag=site:lyon"), (V{"cam-lyon-1", "cam-lyon-2"}));
  EXPECT_EQ(ids("tag=site%3Alyon&tag=hw:rpi4"), (V{"cam-lyon-2"}));
  EXPECT_EQ(ids("fleet=f"), (V{"gate-paris"}));
  EXPECT_EQ(ids("q=LYON"), (V{"cam-lyon-1", "cam-lyon-2"}));
  EXPECT_EQ(ids("status=online"), (V{"cam-lyon-2"}));
  EXPECT_EQ(ids("status=unknown&q=cam"), (V{"cam-lyon-1"}));
  EXPECT_EQ(ids("status=offline"), V{});
  EXPECT_EQ(ids("status=unenrolled").size(), 3u);
  EXPECT_EQ(ids("status=accepted"), V{});
}

TEST_F(TargetingRoutesTest, CampaignAndModelListsPageWithNextAfter) {
  Device("a");
  env.Upload("m", "v1", "model version one");
  env.Upload("n", "v1", "model n version one");
  env.Upload("o", "v1", "model o version one");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto c = Call(Method::kPost, "/api/v1/campaigns",
                  R"({"model_id":"m","model_version":"v1","target":{}})");
    ASSERT_EQ(c.status, 201);
    ids.push_back(Body(c)["id"]);
  }
  Json page = Body(Call(Method::kGet, "/api/v1/campaigns?limit=2"));
  EXPECT_EQ(Ids(page["campaigns"], "id"), (V{ids[0], ids[1]}));
  EXPECT_EQ(page["next_after"], ids[1]);
  Json rest = Body(Call(Method::kGet, "/api/v1/campaigns?limit=2&after=" + ids[1]));
  EXPECT_EQ(Ids(rest["campaigns"], "id"), (V{ids[2]}));
  EXPECT_TRUE(rest["next_after"].is_null());
  Json running = Body(Call(Method::kGet, "/api/v1/campaigns?state=rolling_out"));
  EXPECT_EQ(Ids(running["campaigns"], "id"), (V{ids[2]}));  // the newest superseded the others
  for (const char* bad : {"limit=0", "state=sleeping", "after=c-unknown", "after=..", "x=1"}) {
    EXPECT_EQ(Call(Method::kGet, std::string("/api/v1/campaigns?") + bad).status, 400) << bad;
  }
  Json models = Body(Call(Method::kGet, "/api/v1/models?limit=2"));
  EXPECT_EQ(Ids(models["models"], "model_id"), (V{"m", "n"}));
  EXPECT_EQ(models["next_after"], "n");
  Json more = Body(Call(Method::kGet, "/api/v1/models?limit=2&after=n"));
  EXPECT_EQ(Ids(more["models"], "model_id"), (V{"o"}));
  EXPECT_TRUE(more["next_after"].is_null());
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/models"))["models"].size(), 3u);
  EXPECT_EQ(Call(Method::kGet, "/api/v1/models?limit=1001").status, 400);
}

}  // namespace
}  // namespace oxide::server::api
