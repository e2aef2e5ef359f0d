// The events real flows publish: services over SQLite with the bus wired as `oxide serve` does
// (TestEnv), read back through a subscription.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "protocol/patch_versions.hpp"
#include "server/api/router.hpp"
#include "server/service/events.hpp"
#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

using Json = nlohmann::json;
using protocol::UpdateStage;

struct Seen {
  std::string type;
  Json data;
};

class EventsFlowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env.SeedFleet("f", 2);
    env.Upload("m", "v1", "model version one bytes");
    env.Upload("m", "v2", "model version two bytes");
    auto s = env.events->Subscribe({});
    ASSERT_OK(s.status());
    sub = std::move(s).value();
  }
  std::vector<Seen> Drain() {
    std::vector<Seen> out;
    for (const auto& e : sub->Take().events) {
      out.push_back({std::string(ToString(e->type)), Json::parse(e->data)});
    }
    return out;
  }
  // "type key=state" lines, readable in a failure message.
  static std::vector<std::string> Lines(const std::vector<Seen>& seen) {
    std::vector<std::string> out;
    for (const auto& s : seen) {
      std::string line = s.type;
      if (s.data.contains("device_id")) line += " " + s.data["device_id"].get<std::string>();
      if (s.data.contains("change")) line += " " + s.data["change"].get<std::string>();
      if (s.data.contains("state")) line += " " + s.data["state"].get<std::string>();
      out.push_back(line);
    }
    return out;
  }
  void Progress(const std::string& device, UpdateStage stage, uint64_t done) {
    protocol::HeartbeatRequest r;
    const bool failed = stage == UpdateStage::kFailed;
    r.update = protocol::UpdateProgress{
        "m", "v2", stage, done, 100, false, failed ? "boom-" + device : "", false};
    env.Beat(device, r);
  }
  std::string CreateCampaign() {
    CreateCampaignRequest r{"m", "v2", "f", store::CampaignStrategy::kAllAtOnce, {}, {}, {}, {}};
    auto c = env.campaigns->Create(r);
    EXPECT_OK(c.status());
    return c.ok() ? c->campaign.id : "";
  }

  testing::TestEnv env;
  std::unique_ptr<EventSubscription> sub;
};

TEST_F(EventsFlowTest, CampaignFromCreationToCompletion) {
  const std::string id = CreateCampaign();
  Progress("d0", UpdateStage::kDownloading, 10);
  Progress("d0", UpdateStage::kDownloading, 20);  // same second: throttled
  env.clock.AdvanceMs(1000);
  Progress("d0", UpdateStage::kDownloading, 60);
  Progress("d0", UpdateStage::kCompleted, 100);
  Progress("d1", UpdateStage::kCompleted, 100);
  auto seen = Drain();
  EXPECT_EQ(Lines(seen), (std::vector<std::string>{
                             "campaign.state rolling_out",
                             "campaign.device d0 pending",
                             "campaign.device d1 pending",
                             "device.changed d0 online",
                             "campaign.device d0 downloading",
                             "campaign.device d0 downloading",
                             "campaign.device d0 completed",
                             "device.changed d1 online",
                             "campaign.device d1 completed",
                             "campaign.state completed",
                         }));
  ASSERT_EQ(seen.size(), 10u);
  EXPECT_EQ(seen[0].data["previous_state"], "");
  EXPECT_EQ(seen[0].data["campaign_id"], id);
  EXPECT_EQ(seen[5].data["bytes_done"], 60);
  EXPECT_EQ(seen[5].data["bytes_total"], 100);
  EXPECT_EQ(seen[9].data["previous_state"], "rolling_out");
  EXPECT_TRUE(seen[9].data["ts"].is_string());
  // The summary is the one GET /api/v1/campaigns/:id shows.
  api::Request get;
  get.path = "/api/v1/campaigns/" + id;
  get.With("authorization", "Bearer " + env.admin_token);
  auto detail = Json::parse(env.router->Handle(get).body);
  EXPECT_EQ(seen[9].data["summary"], detail["summary"]);
  EXPECT_EQ(seen[9].data["summary"]["complete"], 2);
}

TEST_F(EventsFlowTest, OperatorActionsPublishEachTransitionAndRefusalsNothing) {
  const std::string id = CreateCampaign();
  Drain();
  ASSERT_OK(env.campaigns->Act(id, CampaignEvent::kPause).status());
  ASSERT_OK(env.campaigns->Act(id, CampaignEvent::kResume).status());
  ASSERT_OK(env.campaigns->Act(id, CampaignEvent::kAbort).status());
  EXPECT_STATUS(env.campaigns->Act(id, CampaignEvent::kPause).status(),
                ErrorCode::kFailedPrecondition);
  EXPECT_EQ(Lines(Drain()), (std::vector<std::string>{
                                "campaign.state paused",
                                "campaign.state rolling_out",
                                "campaign.state aborted",
                                "campaign.device d0 withdrawn",
                                "campaign.device d1 withdrawn",
                            }));
}

TEST_F(EventsFlowTest, HaltPublishesTheStateThenTheWithdrawals) {
  CreateCampaignRequest r{"m", "v2", "f", store::CampaignStrategy::kAllAtOnce, {}, {}, 1u, {}};
  ASSERT_OK(env.campaigns->Create(r).status());
  Drain();
  Progress("d0", UpdateStage::kFailed, 0);
  auto seen = Drain();
  EXPECT_EQ(Lines(seen), (std::vector<std::string>{
                             "device.changed d0 online",
                             "campaign.device d0 failed",
                             "campaign.state halted",
                             "campaign.device d1 withdrawn",
                         }));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].data["error"], "boom-d0");
  EXPECT_EQ(seen[2].data["summary"]["withdrawn"], 1);  // as committed
}

TEST_F(EventsFlowTest, DeviceLifecycle) {
  ASSERT_OK(env.devices->Register("d9", "nine", {}).status());
  env.EnrollDevice("d9");
  protocol::HeartbeatRequest hb;
  env.Beat("d9", hb);
  env.Beat("d9", hb);  // still online, nothing new
  hb.current_model = "m";
  hb.current_model_version = "v1";
  env.Beat("d9", hb);
  env.clock.AdvanceMs(env.options.offline_after_ms + 1);
  env.Beat("d9", hb);
  ASSERT_OK(env.auth->SetDeviceState("d9", store::DeviceAuthState::kRejected, true));
  ASSERT_OK(env.devices->Delete("d9"));
  auto seen = Drain();
  EXPECT_EQ(Lines(seen), (std::vector<std::string>{
                             "device.changed d9 registered",
                             "device.changed d9 enrolled",
                             "device.changed d9 accepted",
                             "device.changed d9 online",
                             "device.changed d9 updated",
                             "device.changed d9 online",
                             "device.changed d9 revoked",
                             "device.changed d9 removed",
                         }));
  ASSERT_EQ(seen.size(), 8u);
  EXPECT_EQ(seen[4].data["model_id"], "m");
  EXPECT_EQ(seen[4].data["version"], "v1");
  EXPECT_EQ(seen[4].data["status"], "online");
}

TEST_F(EventsFlowTest, InventoryAndTagsPublishDeviceChanged) {
  protocol::HeartbeatRequest hb;
  protocol::Inventory inv;
  inv.os = "linux";
  inv.arch = "aarch64";
  hb.inventory = inv;
  env.Beat("d0", hb);  // online + first inventory
  env.Beat("d0", hb);  // same inventory: nothing
  hb.inventory->arch = "x86_64";
  env.Beat("d0", hb);
  ASSERT_OK(env.devices->SetTags("d0", {{"site", "lyon"}}).status());
  EXPECT_FALSE(env.devices->SetTags("d0", {{"", "x"}}).ok());  // refused: nothing published
  auto seen = Drain();
  EXPECT_EQ(Lines(seen), (std::vector<std::string>{
                             "device.changed d0 online",
                             "device.changed d0 inventory",
                             "device.changed d0 inventory",
                             "device.changed d0 tags",
                         }));
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].data["status"], "online");
  EXPECT_EQ(seen[3].data["status"], "online");
}

TEST_F(EventsFlowTest, PatchBuiltAndFailed) {
  // Queued: v1 -> v2 (by the upload of v2), v2 -> v0 (by the upload of v0), v0 -> v2 (here; the
  // fake builder fails on a base that says "unbuildable").
  const auto v2 = *env.store->models().Get("m", "v2");
  const auto bad = env.Upload("m", "v0", "unbuildable base");
  ASSERT_OK(env.models->EnsurePatch(bad.sha256, v2.sha256).status());
  while (*env.worker->RunOnce()) {
  }
  // Each upload also queued its version from the empty base (first installs): built like the
  // others, with no base version.
  std::vector<Seen> seen, from_empty;
  for (auto& e : Drain()) {
    (e.data["base_sha256"] == protocol::kEmptySha256 ? from_empty : seen).push_back(e);
  }
  ASSERT_FALSE(from_empty.empty());
  for (const auto& e : from_empty) {
    EXPECT_EQ(e.type, "patch.built");
    EXPECT_EQ(e.data["base_version"], "");
  }
  ASSERT_EQ(seen.size(), 3u) << ::testing::PrintToString(Lines(seen));
  EXPECT_EQ(seen[0].type, "patch.built");
  EXPECT_EQ(seen[0].data["model_id"], "m");
  EXPECT_EQ(seen[0].data["base_version"], "v1");
  EXPECT_EQ(seen[0].data["target_version"], "v2");
  EXPECT_EQ(seen[0].data["size_bytes"], 10);  // the fake builder's patch
  EXPECT_EQ(seen[0].data["full_size_bytes"], v2.size_bytes);
  EXPECT_EQ(seen[0].data["strategy"], "binary");
  EXPECT_TRUE(seen[0].data["duration_ms"].is_number_integer());
  EXPECT_EQ(seen[2].type, "patch.failed");
  EXPECT_EQ(seen[2].data["base_version"], "v0");
  EXPECT_NE(seen[2].data["error"].get<std::string>().find("round trip failed"), std::string::npos);
}

}  // namespace
}  // namespace oxide::server
