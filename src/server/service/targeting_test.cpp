// Targeting (issue #10) at the service level: inventory from heartbeats, editable tags,
// targeted campaigns, canary approval, and the paged lists.
#include <gtest/gtest.h>

#include "server/service/campaign_service.hpp"
#include "server/service/device_service.hpp"
#include "server/service/test_env.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

using protocol::UpdateStage;
using store::CampaignState;
using store::DeviceRolloutState;
constexpr auto kCanary = store::CampaignStrategy::kCanary;
constexpr auto kAll = store::CampaignStrategy::kAllAtOnce;

protocol::Inventory Inv(const std::string& arch, std::map<std::string, std::string> attrs = {}) {
  protocol::Inventory inv;
  inv.os = "linux";
  inv.os_version = "Debian GNU/Linux 12 (bookworm)";
  inv.arch = arch;
  inv.agent_version = "oxide-agent/0.1";
  inv.free_disk_bytes = 1 << 30;
  inv.attributes = std::move(attrs);
  return inv;
}

class TargetingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env.SeedFleet("f", 6);  // d0..d5
    env.Upload("m", "v1", "model version one bytes");
    env.Upload("m", "v2", "model version two bytes");
  }
  void SendInventory(const std::string& device, const protocol::Inventory& inv) {
    protocol::HeartbeatRequest r;
    r.inventory = inv;
    env.Beat(device, r);
  }
  void Tag(const std::string& device, std::map<std::string, std::string> tags) {
    ASSERT_OK(env.devices->SetTags(device, tags).status());
  }
  Result<CampaignDetail> Create(const std::string& fleet,
                                std::optional<store::CampaignTarget> target,
                                store::CampaignStrategy strategy = kAll, bool approval = false,
                                std::optional<uint32_t> pct = {}) {
    CreateCampaignRequest r{"m", "v2", fleet, strategy, pct, {}, {}, {}};
    r.target = std::move(target);
    r.require_approval = approval;
    return env.campaigns->Create(r);
  }
  static std::vector<std::string> Members(const CampaignDetail& c) {
    std::vector<std::string> out;
    for (const auto& d : c.devices) out.push_back(d.device_id);
    return out;
  }
  bool Assigned(const std::string& device) { return env.Beat(device, {}).assignment.has_value(); }
  void Complete(const std::string& device) {
    env.Report(device, UpdateStage::kCompleted, "m", "v2");
  }

  testing::TestEnv env;
};

TEST_F(TargetingTest, HeartbeatInventoryIsStoredAndARepeatChangesNothing) {
  SendInventory("d0", Inv("aarch64", {{"site", "lyon"}}));
  auto d = env.devices->Get("d0");
  ASSERT_OK(d.status());
  EXPECT_EQ(d->device.inventory.arch, "aarch64");
  EXPECT_EQ(d->device.inventory.attributes.at("site"), "lyon");
  EXPECT_EQ(*d->device.inventory.free_disk_bytes, uint64_t{1} << 30);
  const store::TimeMs first = d->device.inventory.updated_at;
  EXPECT_NE(first, 0);
  env.clock.Advance(std::chrono::seconds(30));
  SendInventory("d0", Inv("aarch64", {{"site", "lyon"}}));
  EXPECT_EQ(env.devices->Get("d0")->device.inventory.updated_at, first);
  env.Beat("d0", {});  // no inventory: the stored one stays
  EXPECT_EQ(env.devices->Get("d0")->device.inventory.arch, "aarch64");
  SendInventory("d0", Inv("x86_64"));  // replaces it as a whole
  auto after = env.devices->Get("d0");
  EXPECT_EQ(after->device.inventory.arch, "x86_64");
  EXPECT_TRUE(after->device.inventory.attributes.empty());
  EXPECT_GT(after->device.inventory.updated_at, first);
}

TEST_F(TargetingTest, OversizedInventoryIsRefusedByTheService) {
  protocol::HeartbeatRequest r;
  r.inventory = Inv("x86_64");
  r.inventory->attributes[std::string(65, 'k')] = "v";
  EXPECT_STATUS(env.heartbeats->Handle("d0", r).status(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(env.devices->Get("d0")->device.inventory.updated_at, 0);
}

TEST_F(TargetingTest, SetTagsReplacesEveryTag) {
  Tag("d0", {{"site", "lyon"}, {"hw", "rpi4"}});
  Tag("d0", {{"site", "paris"}});
  auto d = env.devices->Get("d0");
  EXPECT_EQ(d->device.tags, (std::map<std::string, std::string>{{"site", "paris"}}));
  EXPECT_STATUS(env.devices->SetTags("ghost", {}).status(), ErrorCode::kNotFound);
  EXPECT_STATUS(env.devices->SetTags("d0", {{"", "x"}}).status(), ErrorCode::kInvalidArgument);
  std::map<std::string, std::string> many;
  for (int i = 0; i < 65; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_STATUS(env.devices->SetTags("d0", many).status(), ErrorCode::kInvalidArgument);
}

TEST_F(TargetingTest, TaggedCampaignReachesExactlyTheTaggedMembers) {
  Tag("d1", {{"site", "lyon"}});
  Tag("d4", {{"site", "lyon"}, {"hw", "rpi4"}});
  Tag("d5", {{"site", "paris"}});
  auto c = Create("f", store::CampaignTarget{{{"site", "lyon"}}, {}});
  ASSERT_OK(c.status());
  EXPECT_EQ(Members(*c), (std::vector<std::string>{"d1", "d4"}));
  ASSERT_TRUE(c->campaign.target.has_value());
  EXPECT_EQ(c->campaign.target->tags.at("site"), "lyon");
  EXPECT_TRUE(Assigned("d1"));
  EXPECT_TRUE(Assigned("d4"));
  for (const char* other : {"d0", "d2", "d3", "d5"}) EXPECT_FALSE(Assigned(other)) << other;
  // Evaluated once: a device tagged afterwards is not added.
  Tag("d0", {{"site", "lyon"}});
  EXPECT_FALSE(Assigned("d0"));
  EXPECT_EQ(env.campaigns->Get(c->campaign.id)->devices.size(), 2u);
}

TEST_F(TargetingTest, TargetWithoutAFleetMatchesInventoryOfEveryDevice) {
  ASSERT_OK(env.devices->Register("loner", "loner", {}).status());  // in no fleet
  SendInventory("loner", Inv("aarch64", {{"camera", "imx477"}}));
  SendInventory("d2", Inv("aarch64", {{"camera", "imx219"}}));
  SendInventory("d3", Inv("aarch64", {{"camera", "imx477"}}));
  SendInventory("d4", Inv("x86_64", {{"camera", "imx477"}}));
  auto by_arch = Create("", store::CampaignTarget{{}, {{"arch", "aarch64"}}});
  ASSERT_OK(by_arch.status());
  EXPECT_EQ(Members(*by_arch), (std::vector<std::string>{"d2", "d3", "loner"}));
  EXPECT_EQ(by_arch->campaign.fleet_id, "");
  auto both = Create("", store::CampaignTarget{{}, {{"arch", "aarch64"}, {"camera", "imx477"}}});
  ASSERT_OK(both.status());
  EXPECT_EQ(Members(*both), (std::vector<std::string>{"d3", "loner"}));
}

TEST_F(TargetingTest, TargetWithoutAFleetSkipsPendingEnrollmentsAndRejectedDevices) {
  for (const char* id : {"asked", "refused", "welcome"}) {
    ASSERT_OK(env.devices->Register(id, id, {}).status());
    SendInventory(id, Inv("riscv64", {}));
  }
  // An enrollment request not accepted yet, a rejected device, an accepted one.
  ASSERT_OK(env.store->auth().PutDeviceAuth(
      {"asked", store::DeviceAuthState::kPending, std::string(64, 'a'), 1}));
  ASSERT_OK(env.store->auth().PutDeviceAuth(
      {"refused", store::DeviceAuthState::kRejected, std::string(64, 'b'), 1}));
  ASSERT_OK(env.store->auth().PutDeviceAuth(
      {"welcome", store::DeviceAuthState::kAccepted, std::string(64, 'c'), 1}));
  auto c = Create("", store::CampaignTarget{{}, {{"arch", "riscv64"}}});
  ASSERT_OK(c.status());
  EXPECT_EQ(Members(*c), (std::vector<std::string>{"welcome"}));
}

TEST_F(TargetingTest, RefusesTargetsThatReachNobodyOrMakeNoSense) {
  auto none = Create("f", store::CampaignTarget{{{"site", "mars"}}, {}});
  EXPECT_STATUS(none.status(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(none.status().message(), "target matches no device");
  EXPECT_STATUS(Create("", std::nullopt).status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(Create("", store::CampaignTarget{{}, {{"free_disk_bytes", "1"}}}).status(),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(Create("f", std::nullopt, kAll, /*approval=*/true).status(),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(Create("nope", store::CampaignTarget{}).status(), ErrorCode::kNotFound);
  EXPECT_TRUE(env.campaigns->List()->empty());
}

TEST_F(TargetingTest, CanaryWaitsForApprovalThenAssignsTheRest) {
  auto c = Create("f", std::nullopt, kCanary, /*approval=*/true, 33);  // 2 of 6
  ASSERT_OK(c.status());
  const std::string id = c->campaign.id;
  EXPECT_TRUE(c->campaign.require_approval);
  EXPECT_STATUS(env.campaigns->Act(id, CampaignEvent::kApprove).status(),
                ErrorCode::kFailedPrecondition);  // not before the wave passed
  Complete("d0");
  Complete("d1");
  auto waiting = env.campaigns->Get(id);
  EXPECT_EQ(waiting->campaign.state, CampaignState::kAwaitingApproval);
  for (const char* rest : {"d2", "d3", "d4", "d5"}) EXPECT_FALSE(Assigned(rest)) << rest;
  EXPECT_STATUS(env.campaigns->Act(id, CampaignEvent::kPause).status(),
                ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(env.campaigns->Act(id, CampaignEvent::kResume).status(),
                ErrorCode::kFailedPrecondition);
  auto approved = env.campaigns->Act(id, CampaignEvent::kApprove);
  ASSERT_OK(approved.status());
  EXPECT_EQ(approved->campaign.state, CampaignState::kRollingOut);
  EXPECT_NE(approved->campaign.approved_at, 0);
  for (const char* rest : {"d2", "d3", "d4", "d5"}) EXPECT_TRUE(Assigned(rest)) << rest;
  EXPECT_STATUS(env.campaigns->Act(id, CampaignEvent::kApprove).status(),
                ErrorCode::kFailedPrecondition);
  for (const char* rest : {"d2", "d3", "d4", "d5"}) Complete(rest);
  EXPECT_EQ(env.campaigns->Get(id)->campaign.state, CampaignState::kCompleted);
}

TEST_F(TargetingTest, AbortWhileAwaitingApprovalAssignsNothingMore) {
  auto c = Create("f", std::nullopt, kCanary, true, 10);
  ASSERT_OK(c.status());
  Complete("d0");
  ASSERT_EQ(env.campaigns->Get(c->campaign.id)->campaign.state, CampaignState::kAwaitingApproval);
  auto aborted = env.campaigns->Act(c->campaign.id, CampaignEvent::kAbort);
  ASSERT_OK(aborted.status());
  EXPECT_EQ(aborted->campaign.state, CampaignState::kAborted);
  EXPECT_FALSE(Assigned("d3"));
  EXPECT_STATUS(env.campaigns->Act(c->campaign.id, CampaignEvent::kApprove).status(),
                ErrorCode::kFailedPrecondition);
}

TEST_F(TargetingTest, ApprovalIsNotAskedWhenTheWaveIsEveryDevice) {
  auto c = Create("f", std::nullopt, kCanary, true, 100);
  ASSERT_OK(c.status());
  for (int i = 0; i < 6; ++i) Complete("d" + std::to_string(i));
  EXPECT_EQ(env.campaigns->Get(c->campaign.id)->campaign.state, CampaignState::kCompleted);
}

TEST_F(TargetingTest, AwaitingApprovalSurvivesARestart) {
  oxide::testing::TempDir dir;
  const std::string path = dir.File("meta.db");
  std::string id;
  auto services = [&](store::Store& s, auto&& body) {
    ModelService models(s, *env.blobs, env.clock);
    CampaignService campaigns(s, env.clock, models);
    DeviceService devices(s, env.clock, env.options, campaigns);
    HeartbeatService heartbeats(s, env.clock, campaigns, env.options);
    body(campaigns, devices, heartbeats);
  };
  {
    auto s = store::sqlite::OpenSqliteStore(path);
    ASSERT_OK(s.status());
    services(**s, [&](CampaignService& campaigns, DeviceService& devices, HeartbeatService& hb) {
      ASSERT_OK(devices.Register("a", "a", {}).status());
      ASSERT_OK(devices.Register("b", "b", {}).status());
      ASSERT_OK((*s)->models().Put(*env.store->models().Get("m", "v2")).status());
      CreateCampaignRequest r{"m", "v2", "", kCanary, 50, {}, {}, {}};
      r.target = store::CampaignTarget{};
      r.require_approval = true;
      auto c = campaigns.Create(r);
      ASSERT_OK(c.status());
      id = c->campaign.id;
      protocol::HeartbeatRequest done;
      done.update =
          protocol::UpdateProgress{"m", "v2", UpdateStage::kCompleted, 0, 0, false, "", false};
      done.current_model = "m";
      done.current_model_version = "v2";
      ASSERT_OK(hb.Handle("a", done).status());
      EXPECT_EQ(campaigns.Get(id)->campaign.state, CampaignState::kAwaitingApproval);
    });
  }
  auto s = store::sqlite::OpenSqliteStore(path);  // the server restarts
  ASSERT_OK(s.status());
  services(**s, [&](CampaignService& campaigns, DeviceService&, HeartbeatService& hb) {
    EXPECT_EQ(campaigns.Get(id)->campaign.state, CampaignState::kAwaitingApproval);
    EXPECT_FALSE(hb.Handle("b", {})->assignment.has_value());
    ASSERT_OK(campaigns.Act(id, CampaignEvent::kApprove).status());
    EXPECT_TRUE(hb.Handle("b", {})->assignment.has_value());
  });
}

TEST_F(TargetingTest, DeviceListPagesAndFilters) {
  Tag("d2", {{"site", "lyon"}});
  Tag("d3", {{"site", "lyon"}});
  env.Beat("d3", {});
  DeviceFilter f;
  f.limit = 4;
  auto page = env.devices->List(f);
  ASSERT_OK(page.status());
  ASSERT_EQ(page->devices.size(), 4u);
  EXPECT_EQ(page->next_after, "d3");
  f.after = page->next_after;
  auto last = env.devices->List(f);
  ASSERT_EQ(last->devices.size(), 2u);
  EXPECT_EQ(last->next_after, "");
  DeviceFilter online;
  online.liveness = Liveness::kOnline;
  online.tags = {{"site", "lyon"}};
  auto on = env.devices->List(online);
  ASSERT_EQ(on->devices.size(), 1u);
  EXPECT_EQ(on->devices[0].device.id, "d3");
  env.clock.Advance(std::chrono::milliseconds(env.options.offline_after_ms + 1));
  DeviceFilter offline;
  offline.liveness = Liveness::kOffline;
  EXPECT_EQ(env.devices->List(offline)->devices.size(), 1u);
  f.limit = 1001;
  EXPECT_STATUS(env.devices->List(f).status(), ErrorCode::kInvalidArgument);
}

TEST_F(TargetingTest, CampaignListPagesByCreationAndFiltersByState) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Create("f", std::nullopt)->campaign.id);
  // The newest took every device over: the older two completed.
  ASSERT_OK(env.campaigns->Act(ids[2], CampaignEvent::kAbort).status());
  std::string next;
  auto page = env.campaigns->List(CampaignFilter{"", 2}, &next);
  ASSERT_OK(page.status());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].campaign.id, ids[0]);
  EXPECT_EQ(next, ids[1]);
  auto rest = env.campaigns->List(CampaignFilter{next, 2}, &next);
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].campaign.id, ids[2]);
  EXPECT_EQ(next, "");
  auto aborted = env.campaigns->List(CampaignFilter{"", 10, CampaignState::kAborted}, &next);
  ASSERT_EQ(aborted->size(), 1u);
  EXPECT_EQ((*aborted)[0].campaign.id, ids[2]);
  auto done = env.campaigns->List(CampaignFilter{"", 1, CampaignState::kCompleted}, &next);
  ASSERT_EQ(done->size(), 1u);
  EXPECT_EQ(next, ids[0]);
  EXPECT_STATUS(env.campaigns->List(CampaignFilter{"c-unknown", 2}, &next).status(),
                ErrorCode::kNotFound);
}

// The approval rows of the one transition table, and nothing else out of awaiting_approval.
TEST(CampaignTransitions, ApprovalRows) {
  using E = CampaignEvent;
  EXPECT_EQ(*NextCampaignState(CampaignState::kRollingOut, E::kCanaryPassed),
            CampaignState::kAwaitingApproval);
  EXPECT_EQ(*NextCampaignState(CampaignState::kAwaitingApproval, E::kApprove),
            CampaignState::kRollingOut);
  EXPECT_EQ(*NextCampaignState(CampaignState::kAwaitingApproval, E::kAbort),
            CampaignState::kAborted);
  for (int e = 0; e <= static_cast<int>(E::kApprove); ++e) {
    auto event = static_cast<E>(e);
    if (event != E::kApprove && event != E::kAbort) {
      EXPECT_STATUS(NextCampaignState(CampaignState::kAwaitingApproval, event).status(),
                    ErrorCode::kFailedPrecondition)
          << ToString(event);
    }
  }
  for (int s = 0; s <= static_cast<int>(CampaignState::kAwaitingApproval); ++s) {
    auto state = static_cast<CampaignState>(s);
    if (state == CampaignState::kAwaitingApproval) continue;
    EXPECT_STATUS(NextCampaignState(state, E::kApprove).status(), ErrorCode::kFailedPrecondition)
        << store::ToString(state);
  }
  EXPECT_EQ(ToString(E::kApprove), "approve");
  EXPECT_EQ(ToString(E::kCanaryPassed), "canary_passed");
}

}  // namespace
}  // namespace oxide::server
