// DeviceService, FleetService and HeartbeatService.
#include <gtest/gtest.h>

#include "protocol/heartbeat.hpp"
#include "server/service/ids.hpp"
#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

class ServicesTest : public ::testing::Test {
 protected:
  testing::TestEnv env;
};

TEST(Ids, SafeCharacterSetOnly) {
  EXPECT_TRUE(IsValidId("dev-01.a_B"));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId("."));
  EXPECT_FALSE(IsValidId(".."));
  EXPECT_FALSE(IsValidId("a/b"));
  EXPECT_FALSE(IsValidId("a b"));
  EXPECT_FALSE(IsValidId(std::string(129, 'a')));
  EXPECT_TRUE(IsValidId(std::string(128, 'a')));
}

TEST_F(ServicesTest, RegisterCreatesThenUpdatesWithoutLosingState) {
  EXPECT_TRUE(*env.devices->Register("d1", "one", {{"k", "v"}}));
  env.Beat("d1", {});
  EXPECT_FALSE(*env.devices->Register("d1", "renamed", {}));
  auto v = *env.devices->Get("d1");
  EXPECT_EQ(v.device.name, "renamed");
  EXPECT_NE(v.device.last_seen, 0);
  EXPECT_STATUS(env.devices->Register("bad id", "x", {}).status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(env.devices->Register("d2", "", {}).status(), ErrorCode::kInvalidArgument);
}

TEST_F(ServicesTest, LivenessFollowsHeartbeatsAndOfflineAfter) {
  ASSERT_TRUE(env.devices->Register("d1", "one", {}).ok());
  EXPECT_EQ(env.devices->Get("d1")->liveness, Liveness::kUnknown);
  env.Beat("d1", {});
  EXPECT_EQ(env.devices->Get("d1")->liveness, Liveness::kOnline);
  EXPECT_EQ(*env.devices->CountOnline(), 1u);
  env.clock.AdvanceMs(env.options.offline_after_ms + 1);
  EXPECT_EQ(env.devices->Get("d1")->liveness, Liveness::kOffline);
  EXPECT_EQ(*env.devices->CountOnline(), 0u);
}

TEST_F(ServicesTest, HeartbeatForUnknownDeviceIsNotFound) {
  EXPECT_STATUS(env.heartbeats->Handle("ghost", {}).status(), ErrorCode::kNotFound);
  EXPECT_STATUS(env.heartbeats->Handle("..", {}).status(), ErrorCode::kInvalidArgument);
}

TEST_F(ServicesTest, HeartbeatValidatesEveryModelsEntry) {
  ASSERT_TRUE(env.devices->Register("d1", "one", {}).ok());
  auto beat = [&](const std::string& id, const std::string& version, const std::string& sha) {
    protocol::HeartbeatRequest r;
    r.models.push_back({"m", "v1", std::string(64, 'a')});
    r.models.push_back({id, version, sha});
    return env.heartbeats->Handle("d1", r).status();
  };
  EXPECT_STATUS(beat("../etc", "v1", ""), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(beat(std::string(129, 'm'), "v1", ""), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(beat("m", "", ""), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(beat("m", "v 2", ""), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(beat("m", "v2", std::string(129, 'a')), ErrorCode::kInvalidArgument);
  EXPECT_OK(beat("m", "v2", std::string(64, 'b')));
}

TEST_F(ServicesTest, HeartbeatRecordsCurrentModelAndBareHeartbeatKeepsIt) {
  ASSERT_TRUE(env.devices->Register("d1", "one", {}).ok());
  protocol::HeartbeatRequest r;
  r.current_model = "m";
  r.current_model_version = "v1";
  r.models.push_back({"m", "v1", std::string(64, 'a')});
  r.agent_version = "0.1";
  env.Beat("d1", r);
  env.Beat("d1", {});
  auto d = env.devices->Get("d1")->device;
  EXPECT_EQ(d.current_version, "v1");
  EXPECT_EQ(d.current_sha256, std::string(64, 'a'));
  EXPECT_EQ(d.agent_version, "0.1");
}

TEST_F(ServicesTest, FleetMembershipAndStatus) {
  env.SeedFleet("f", 3);
  EXPECT_STATUS(env.fleets->Create("f", "again"), ErrorCode::kAlreadyExists);
  env.Beat("d0", {});
  auto s = env.fleets->StatusOf("f");
  ASSERT_OK(s.status());
  EXPECT_EQ(s->total, 3u);
  EXPECT_EQ(s->online, 1u);
  EXPECT_EQ(s->unknown, 2u);
  ASSERT_OK(env.fleets->RemoveDevice("f", "d2"));
  EXPECT_EQ(env.fleets->Get("f")->device_ids, (std::vector<std::string>{"d0", "d1"}));
  EXPECT_STATUS(env.fleets->RemoveDevice("nof", "d0"), ErrorCode::kNotFound);
  EXPECT_STATUS(env.fleets->AddDevice("f", "ghost"), ErrorCode::kNotFound);
}

TEST_F(ServicesTest, DeleteDeviceRemovesMembershipAndAssignment) {
  env.SeedFleet("f", 2);
  env.Upload("m", "v1", "model bytes one");
  ASSERT_OK(
      env.campaigns->Create({"m", "v1", "f", store::CampaignStrategy::kAllAtOnce, {}, {}, {}, {}})
          .status());
  ASSERT_OK(env.devices->Delete("d0"));
  EXPECT_EQ(env.fleets->Get("f")->device_ids, std::vector<std::string>{"d1"});
  EXPECT_FALSE(env.store->assignments().Get("d0")->has_value());
  EXPECT_STATUS(env.devices->Delete("d0"), ErrorCode::kNotFound);
}

TEST_F(ServicesTest, HeartbeatReportsAreValidated) {
  ASSERT_TRUE(env.devices->Register("d1", "one", {}).ok());
  protocol::FailureReport f;
  f.id = "r1";
  f.model_id = "m";
  f.version = "v1";
  protocol::HeartbeatRequest r;
  r.reports.emplace(HeartbeatService::kMaxReports + 1, f);
  EXPECT_STATUS(env.heartbeats->Handle("d1", r).status(), ErrorCode::kInvalidArgument);
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"id", "has space"}, {"id", ""}, {"version", "../x"}, {"campaign_id", "a/b"}}) {
    protocol::FailureReport bad = f;
    if (field == "id") bad.id = value;
    if (field == "version") bad.version = value;
    if (field == "campaign_id") bad.campaign_id = value;
    r.reports = std::vector<protocol::FailureReport>{bad};
    EXPECT_STATUS(env.heartbeats->Handle("d1", r).status(), ErrorCode::kInvalidArgument)
        << field << "=" << value;
  }
  // Long texts are bounded, the output keeps its tail.
  f.error = std::string(5000, 'e');
  f.output = std::string(10000, 'a') + "the end";
  r.reports = std::vector<protocol::FailureReport>{f};
  ASSERT_TRUE(env.heartbeats->Handle("d1", r).ok());
  auto v = *env.devices->Get("d1");
  ASSERT_EQ(v.history.size(), 1u);
  EXPECT_EQ(v.history[0].error.size(), 1024u);
  EXPECT_EQ(v.history[0].output.size(), 4096u);
  EXPECT_EQ(v.history[0].output.substr(4089), "the end");
}

TEST_F(ServicesTest, FleetKeepsDescriptionAndTagsAndDevicesShowTheirFleet) {
  ASSERT_TRUE(env.fleets->Create("f", "F", "north", {{"site", "lyon"}}).ok());
  EXPECT_STATUS(env.fleets->Create("g", "G", std::string(5000, 'x'), {}),
                ErrorCode::kInvalidArgument);
  auto f = *env.fleets->Get("f");
  EXPECT_EQ(f.fleet.description, "north");
  EXPECT_EQ(f.fleet.tags.at("site"), "lyon");
  ASSERT_TRUE(env.devices->Register("d1", "one", {}).ok());
  EXPECT_TRUE(env.devices->Get("d1")->fleets.empty());
  ASSERT_TRUE(env.fleets->AddDevice("f", "d1").ok());
  EXPECT_EQ(env.devices->Get("d1")->fleets, std::vector<std::string>{"f"});
  protocol::HeartbeatRequest r;
  r.platform = protocol::Platform{"linux", "riscv64", 1};
  env.Beat("d1", r);
  env.Beat("d1", {});  // a heartbeat without platform keeps it
  EXPECT_EQ(env.devices->Get("d1")->device.platform_arch, "riscv64");
}

}  // namespace
}  // namespace oxide::server
