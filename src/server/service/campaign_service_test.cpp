#include "server/service/campaign_service.hpp"

#include <gtest/gtest.h>

#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

using protocol::UpdateStage;
using store::CampaignState;
using store::DeviceRolloutState;
constexpr auto kAll = store::CampaignStrategy::kAllAtOnce;
constexpr auto kCanary = store::CampaignStrategy::kCanary;
constexpr auto kRolling = store::CampaignStrategy::kRolling;

class CampaignServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env.SeedFleet("f", 10);
    env.Upload("m", "v1", "model version one bytes");
    env.Upload("m", "v2", "model version two bytes");
  }
  CampaignDetail Create(const std::string& strategy, std::optional<uint32_t> pct = {},
                        std::optional<uint32_t> batch = {}) {
    auto parsed = store::ParseCampaignStrategy(strategy);
    EXPECT_OK(parsed.status());
    CreateCampaignRequest r{"m", "v2", "f", *parsed, pct, batch, {}, {}};
    auto c = env.campaigns->Create(r);
    EXPECT_OK(c.status());
    return c.ok() ? *c : CampaignDetail{};
  }
  CampaignDetail Get(const std::string& id) { return *env.campaigns->Get(id); }
  size_t Count(const CampaignDetail& c, DeviceRolloutState s) {
    size_t n = 0;
    for (const auto& d : c.devices) n += d.state == s;
    return n;
  }
  bool Assigned(const std::string& device) { return env.Beat(device, {}).assignment.has_value(); }
  void Complete(const std::string& device) {
    env.Report(device, UpdateStage::kCompleted, "m", "v2");
  }

  testing::TestEnv env;
};

TEST_F(CampaignServiceTest, AllAtOnceAssignsEveryDevice) {
  auto c = Create("all-at-once");
  EXPECT_EQ(c.campaign.strategy, store::CampaignStrategy::kAllAtOnce);
  EXPECT_EQ(Count(c, DeviceRolloutState::kPending), 10u);
  auto resp = env.Beat("d3", {});
  ASSERT_TRUE(resp.assignment.has_value());
  EXPECT_EQ(resp.assignment->version, "v2");
  EXPECT_EQ(resp.assignment->campaign_id, c.campaign.id);
}

TEST_F(CampaignServiceTest, CanaryWaitsForTheFirstWaveToComplete) {
  auto c = Create("canary", 20);
  EXPECT_EQ(Count(c, DeviceRolloutState::kPending), 2u);
  EXPECT_EQ(Count(c, DeviceRolloutState::kWaiting), 8u);
  EXPECT_FALSE(Assigned("d5"));
  Complete("d0");
  EXPECT_EQ(Count(Get(c.campaign.id), DeviceRolloutState::kWaiting), 8u);
  Complete("d1");
  auto after = Get(c.campaign.id);
  EXPECT_EQ(Count(after, DeviceRolloutState::kWaiting), 0u);
  EXPECT_TRUE(Assigned("d5"));
}

TEST_F(CampaignServiceTest, CanaryDefaultsToTenPercentAndAtLeastOneDevice) {
  auto c = Create("canary");
  EXPECT_EQ(Count(c, DeviceRolloutState::kPending), 1u);
}

TEST_F(CampaignServiceTest, CanaryFailureHaltsTheCampaign) {
  auto c = Create("canary", 10);
  env.Report("d0", UpdateStage::kFailed, "m", "v2");
  auto after = Get(c.campaign.id);
  EXPECT_EQ(after.campaign.state, CampaignState::kHalted);
  EXPECT_EQ(after.devices[0].error, "boom");
  EXPECT_FALSE(Assigned("d1"));
}

TEST_F(CampaignServiceTest, RollingStartsTheNextBatchWhenThePreviousFinished) {
  auto c = Create("rolling", {}, 3);
  EXPECT_EQ(Count(c, DeviceRolloutState::kPending), 3u);
  Complete("d0");
  env.Report("d1", UpdateStage::kFailed, "m", "v2");
  EXPECT_EQ(Count(Get(c.campaign.id), DeviceRolloutState::kPending), 1u);
  env.Report("d2", UpdateStage::kDownloading, "m", "v2");
  EXPECT_EQ(Count(Get(c.campaign.id), DeviceRolloutState::kWaiting), 7u);
  Complete("d2");
  auto after = Get(c.campaign.id);
  EXPECT_EQ(Count(after, DeviceRolloutState::kPending), 3u);
  EXPECT_EQ(Count(after, DeviceRolloutState::kWaiting), 4u);
}

TEST_F(CampaignServiceTest, CompletesWhenEveryDeviceIsDone) {
  auto c = Create("all_at_once");
  for (int i = 0; i < 10; ++i) Complete("d" + std::to_string(i));
  EXPECT_EQ(Get(c.campaign.id).campaign.state, CampaignState::kCompleted);
}

TEST_F(CampaignServiceTest, EmptyFleetCompletesImmediately) {
  ASSERT_OK(env.fleets->Create("empty", "Empty"));
  auto c = env.campaigns->Create({"m", "v2", "empty", kAll, {}, {}, {}, {}});
  ASSERT_OK(c.status());
  EXPECT_EQ(c->campaign.state, CampaignState::kCompleted);
}

TEST_F(CampaignServiceTest, DeviceReportingTheTargetAsCurrentCompletes) {
  auto c = Create("all_at_once");
  protocol::HeartbeatRequest r;
  r.current_model = "m";
  r.current_model_version = "v2";
  env.Beat("d4", r);
  EXPECT_EQ(Get(c.campaign.id).devices[4].state, DeviceRolloutState::kCompleted);
}

TEST_F(CampaignServiceTest, ProgressIsRecordedWithBytes) {
  auto c = Create("all_at_once");
  protocol::HeartbeatRequest r;
  r.update =
      protocol::UpdateProgress{"m", "v2", UpdateStage::kDownloading, 100, 400, true, "", false};
  env.Beat("d0", r);
  auto d = Get(c.campaign.id).devices[0];
  EXPECT_EQ(d.state, DeviceRolloutState::kDownloading);
  EXPECT_EQ(d.bytes_done, 100u);
  EXPECT_EQ(d.bytes_total, 400u);
}

TEST_F(CampaignServiceTest, FailureCountThresholdHalts) {
  CreateCampaignRequest r{"m", "v2", "f", kAll, {}, {}, 2, {}};
  auto c = *env.campaigns->Create(r);
  env.Report("d0", UpdateStage::kFailed, "m", "v2");
  EXPECT_EQ(Get(c.campaign.id).campaign.state, CampaignState::kRollingOut);
  env.Report("d1", UpdateStage::kRolledBack, "m", "v2");
  EXPECT_EQ(Get(c.campaign.id).campaign.state, CampaignState::kHalted);
}

TEST_F(CampaignServiceTest, FailurePercentThresholdHalts) {
  CreateCampaignRequest r{"m", "v2", "f", kAll, {}, {}, {}, 30};
  auto c = *env.campaigns->Create(r);
  env.Report("d0", UpdateStage::kFailed, "m", "v2");
  env.Report("d1", UpdateStage::kFailed, "m", "v2");
  EXPECT_EQ(Get(c.campaign.id).campaign.state, CampaignState::kRollingOut);
  env.Report("d2", UpdateStage::kFailed, "m", "v2");
  EXPECT_EQ(Get(c.campaign.id).campaign.state, CampaignState::kHalted);
}

TEST_F(CampaignServiceTest, PauseStopsNewAssignmentsAndResumeContinues) {
  auto c = Create("rolling", {}, 2);
  ASSERT_OK(env.campaigns->Act(c.campaign.id, CampaignEvent::kPause).status());
  Complete("d0");
  Complete("d1");
  EXPECT_EQ(Count(Get(c.campaign.id), DeviceRolloutState::kWaiting), 8u);
  auto resumed = env.campaigns->Act(c.campaign.id, CampaignEvent::kResume);
  ASSERT_OK(resumed.status());
  EXPECT_EQ(resumed->campaign.state, CampaignState::kRollingOut);
  EXPECT_EQ(Count(*resumed, DeviceRolloutState::kPending), 2u);
}

TEST_F(CampaignServiceTest, AbortWithdrawsUnfinishedAssignmentsAndRestoresPrevious) {
  auto v1 = env.campaigns->Create({"m", "v1", "f", kAll, {}, {}, {}, {}});
  ASSERT_OK(v1.status());
  env.Report("d0", UpdateStage::kCompleted, "m", "v1");
  auto c = Create("all_at_once");
  Complete("d1");
  auto aborted = env.campaigns->Act(c.campaign.id, CampaignEvent::kAbort);
  ASSERT_OK(aborted.status());
  EXPECT_EQ(aborted->campaign.state, CampaignState::kAborted);
  EXPECT_EQ(aborted->devices[0].state, DeviceRolloutState::kWithdrawn);
  EXPECT_EQ(aborted->devices[1].state, DeviceRolloutState::kCompleted);
  auto d0 = env.Beat("d0", {});
  ASSERT_TRUE(d0.assignment.has_value());
  EXPECT_EQ(d0.assignment->version, "v1");  // back to the previous assignment
  EXPECT_EQ(env.Beat("d1", {}).assignment->version, "v2");
}

TEST_F(CampaignServiceTest, AbortWithoutPreviousAssignmentLeavesNone) {
  auto c = Create("all_at_once");
  ASSERT_OK(env.campaigns->Act(c.campaign.id, CampaignEvent::kAbort).status());
  EXPECT_FALSE(Assigned("d0"));
}

TEST_F(CampaignServiceTest, InvalidTransitionsAreFailedPrecondition) {
  auto c = Create("all_at_once");
  EXPECT_STATUS(env.campaigns->Act(c.campaign.id, CampaignEvent::kResume).status(),
                ErrorCode::kFailedPrecondition);
  ASSERT_OK(env.campaigns->Act(c.campaign.id, CampaignEvent::kAbort).status());
  EXPECT_STATUS(env.campaigns->Act(c.campaign.id, CampaignEvent::kPause).status(),
                ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(env.campaigns->Act(c.campaign.id, CampaignEvent::kAbort).status(),
                ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(env.campaigns->Act("nope", CampaignEvent::kAbort).status(), ErrorCode::kNotFound);
}

TEST_F(CampaignServiceTest, NewerCampaignSupersedesOlderForItsDevices) {
  auto old_c = Create("all_at_once");
  env.Upload("m", "v3", "model version three bytes");
  auto newer = env.campaigns->Create({"m", "v3", "f", kAll, {}, {}, {}, {}});
  ASSERT_OK(newer.status());
  EXPECT_EQ(env.Beat("d0", {}).assignment->version, "v3");
  auto old_after = Get(old_c.campaign.id);
  EXPECT_EQ(Count(old_after, DeviceRolloutState::kSuperseded), 10u);
  EXPECT_EQ(old_after.campaign.state, CampaignState::kCompleted);
}

TEST_F(CampaignServiceTest, CreateValidatesInput) {
  EXPECT_STATUS(env.campaigns->Create({"m", "v9", "f", kCanary, {}, {}, {}, {}}).status(),
                ErrorCode::kNotFound);
  EXPECT_STATUS(env.campaigns->Create({"m", "v2", "nof", kCanary, {}, {}, {}, {}}).status(),
                ErrorCode::kNotFound);
  EXPECT_STATUS(env.campaigns->Create({"m", "v2", "f", kCanary, 0, {}, {}, {}}).status(),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(env.campaigns->Create({"m", "v2", "f", kRolling, {}, 0, {}, {}}).status(),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(env.campaigns->Create({"../x", "v2", "f", kRolling, {}, {}, {}, {}}).status(),
                ErrorCode::kInvalidArgument);
}

TEST_F(CampaignServiceTest, DeletingADeviceWithdrawsItAndRollingAdvances) {
  auto c = Create("rolling", {}, 2);
  ASSERT_OK(env.devices->Delete("d1"));
  Complete("d0");
  auto after = Get(c.campaign.id);
  EXPECT_EQ(after.devices[1].state, DeviceRolloutState::kWithdrawn);
  EXPECT_EQ(after.devices[1].error, "device was deleted");
  EXPECT_EQ(after.devices[2].state, DeviceRolloutState::kPending);
  EXPECT_EQ(after.devices[3].state, DeviceRolloutState::kPending);
}

TEST_F(CampaignServiceTest, DeletingTheLastUnfinishedDeviceCompletesTheCampaign) {
  auto c = Create("all_at_once");
  for (int i = 1; i < 10; ++i) Complete("d" + std::to_string(i));
  EXPECT_EQ(Get(c.campaign.id).campaign.state, CampaignState::kRollingOut);
  ASSERT_OK(env.devices->Delete("d0"));
  EXPECT_EQ(Get(c.campaign.id).campaign.state, CampaignState::kCompleted);
}

// Campaign `old_c` (rolling, batch 1) holds d0; a newer all-at-once campaign on fleet "g" = {d0}.
class SupersedeTest : public CampaignServiceTest {
 protected:
  void SetUp() override {
    CampaignServiceTest::SetUp();
    env.Upload("m", "v3", "model version three bytes");
    ASSERT_OK(env.fleets->Create("g", "g"));
    ASSERT_OK(env.fleets->AddDevice("g", "d0"));
  }
  CampaignDetail Newer() {
    auto c = env.campaigns->Create({"m", "v3", "g", kAll, {}, {}, {}, {}});
    EXPECT_OK(c.status());
    return c.ok() ? *c : CampaignDetail{};
  }
  DeviceRolloutState StateIn(const CampaignDetail& c, size_t i) {
    return Get(c.campaign.id).devices[i].state;
  }
};

TEST_F(SupersedeTest, SupersededDeviceLetsTheOlderCampaignAdvance) {
  auto old_c = Create("canary", 10);
  EXPECT_EQ(Count(old_c, DeviceRolloutState::kWaiting), 9u);
  Newer();
  auto after = Get(old_c.campaign.id);
  EXPECT_EQ(after.devices[0].state, DeviceRolloutState::kSuperseded);
  EXPECT_EQ(Count(after, DeviceRolloutState::kPending), 9u);  // the wave is done: the rest go
}

TEST_F(SupersedeTest, AbortHandsTheDeviceBackToAnActiveCampaign) {
  auto old_c = Create("rolling", {}, 1);
  auto newer = Newer();
  EXPECT_EQ(StateIn(old_c, 0), DeviceRolloutState::kSuperseded);
  ASSERT_OK(env.campaigns->Act(newer.campaign.id, CampaignEvent::kAbort).status());
  EXPECT_EQ(StateIn(old_c, 0), DeviceRolloutState::kPending);  // tracked again
  auto a = env.Beat("d0", {}).assignment;
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->campaign_id, old_c.campaign.id);
  Complete("d0");
  EXPECT_EQ(StateIn(old_c, 0), DeviceRolloutState::kCompleted);
}

TEST_F(SupersedeTest, AbortDoesNotHandBackAnAbortedCampaignsAssignment) {
  auto old_c = Create("rolling", {}, 1);
  auto newer = Newer();
  ASSERT_OK(env.campaigns->Act(old_c.campaign.id, CampaignEvent::kAbort).status());
  ASSERT_OK(env.campaigns->Act(newer.campaign.id, CampaignEvent::kAbort).status());
  EXPECT_FALSE(Assigned("d0"));
  EXPECT_EQ(StateIn(old_c, 0), DeviceRolloutState::kSuperseded);
}

TEST_F(SupersedeTest, AbortDoesNotHandBackAHaltedCampaignsAssignment) {
  CreateCampaignRequest r{"m", "v2", "f", kRolling, {}, 2, 1, {}};
  auto old_c = env.campaigns->Create(r);
  ASSERT_OK(old_c.status());
  auto newer = Newer();
  env.Report("d1", UpdateStage::kFailed, "m", "v2");
  EXPECT_EQ(Get(old_c->campaign.id).campaign.state, CampaignState::kHalted);
  ASSERT_OK(env.campaigns->Act(newer.campaign.id, CampaignEvent::kAbort).status());
  EXPECT_FALSE(Assigned("d0"));
}

TEST_F(CampaignServiceTest, HaltWithdrawsEveryUnfinishedDeviceAndAssignsNoOneAgain) {
  CreateCampaignRequest r{"m", "v2", "f", kAll, {}, {}, 1, {}};
  auto c = env.campaigns->Create(r);
  ASSERT_OK(c.status());
  env.Report("d0", UpdateStage::kDownloading, "m", "v2");
  env.Report("d1", UpdateStage::kFailed, "m", "v2");
  auto halted = Get(c->campaign.id);
  EXPECT_EQ(halted.campaign.state, CampaignState::kHalted);
  EXPECT_EQ(Count(halted, DeviceRolloutState::kWithdrawn), 9u);
  EXPECT_EQ(halted.devices[1].state, DeviceRolloutState::kFailed);
  for (int round = 0; round < 3; ++round) {  // nobody gets v2 again, heartbeat after heartbeat
    for (int i = 0; i < 10; ++i) EXPECT_FALSE(Assigned("d" + std::to_string(i)));
  }
  // A late report of the device that was downloading changes nothing.
  env.Report("d0", UpdateStage::kFailed, "m", "v2");
  EXPECT_EQ(Get(c->campaign.id).devices[0].state, DeviceRolloutState::kWithdrawn);
}

TEST_F(CampaignServiceTest, HaltedCampaignLeftoverAssignmentIsWithdrawnOnHeartbeat) {
  // An assignment a halted campaign still holds (written before halts withdrew everything).
  auto c = Create("all_at_once");
  ASSERT_OK(env.store->campaigns().UpdateState(c.campaign.id, CampaignState::kHalted, 1));
  EXPECT_FALSE(Assigned("d0"));
  EXPECT_EQ(Get(c.campaign.id).devices[0].state, DeviceRolloutState::kWithdrawn);
}

TEST_F(CampaignServiceTest, AllDevicesFailingEndsFailedWithTheFirstCause) {
  auto c = Create("all_at_once");
  for (int i = 0; i < 10; ++i) {
    protocol::HeartbeatRequest r;
    r.update = protocol::UpdateProgress{"m", "v2",  UpdateStage::kRolledBack,          0,
                                        0,   false, "unhealthy #" + std::to_string(i), false};
    env.Beat("d" + std::to_string(i), r);
  }
  auto after = Get(c.campaign.id);
  EXPECT_EQ(after.campaign.state, CampaignState::kFailed);
  EXPECT_EQ(Count(after, DeviceRolloutState::kRolledBack), 10u);
  ASSERT_TRUE(after.first_failure.has_value());
  EXPECT_EQ(after.first_failure->error, "unhealthy #0");
  EXPECT_EQ(after.first_failure->outcome, store::AttemptOutcome::kRolledBack);
  ASSERT_EQ(after.history.size(), 10u);
  EXPECT_EQ(after.history.front().error, "unhealthy #9");  // newest first
}

TEST_F(CampaignServiceTest, FailuresBesideSuccessesEndCompletedWithFailures) {
  auto c = Create("all_at_once");
  env.Report("d0", UpdateStage::kRolledBack, "m", "v2");
  for (int i = 1; i < 10; ++i) Complete("d" + std::to_string(i));
  auto after = Get(c.campaign.id);
  EXPECT_EQ(after.campaign.state, CampaignState::kCompletedWithFailures);
  EXPECT_EQ(after.devices[0].state, DeviceRolloutState::kRolledBack);
}

TEST_F(CampaignServiceTest, ARolledBackDeviceStaysRolledBackAndIsNotReassigned) {
  auto v1 = env.campaigns->Create({"m", "v1", "f", kAll, {}, {}, {}, {}});
  ASSERT_OK(v1.status());
  env.Report("d0", UpdateStage::kCompleted, "m", "v1");
  auto c = Create("all_at_once");
  env.Report("d0", UpdateStage::kRolledBack, "m", "v2");
  // Handed back to v1 (which it completed): it does not retry v2.
  EXPECT_EQ(env.Beat("d0", {}).assignment->version, "v1");
  env.Report("d0", UpdateStage::kDownloading, "m", "v2");
  env.Report("d0", UpdateStage::kFailed, "m", "v2");
  auto d0 = Get(c.campaign.id).devices[0];
  EXPECT_EQ(d0.state, DeviceRolloutState::kRolledBack);
  EXPECT_STATUS(
      NextRolloutState(DeviceRolloutState::kRolledBack, RolloutEvent::kCompleted).status(),
      ErrorCode::kInternal);
}

protocol::FailureReport MakeReport(const std::string& id, const std::string& campaign,
                                   protocol::FailureOutcome outcome, const std::string& error,
                                   bool local = false) {
  protocol::FailureReport f;
  f.id = id;
  f.model_id = "m";
  f.version = "v2";
  f.campaign_id = campaign;
  f.outcome = outcome;
  f.stage = local ? protocol::FailureStage::kActivate : protocol::FailureStage::kHealthCheck;
  f.local = local;
  if (!local) f.exit_status = 1;
  f.error = error;
  f.output = "stderr tail";
  return f;
}

TEST_F(CampaignServiceTest, ReportsAreStoredOnceAndTheFirstCauseIsKept) {
  CreateCampaignRequest req{"m", "v2", "f", kAll, {}, {}, 2, {}};
  auto c = *env.campaigns->Create(req);
  protocol::HeartbeatRequest r;
  r.reports.emplace();
  r.reports->push_back(MakeReport("r1", c.campaign.id, protocol::FailureOutcome::kFallback,
                                  "patch failed: base mismatch"));
  r.reports->push_back(
      MakeReport("r2", c.campaign.id, protocol::FailureOutcome::kRolledBack, "first cause"));
  env.Beat("d0", r);
  env.Beat("d0", r);  // the reply was lost: the agent sends the same reports again
  r.reports->clear();
  r.reports->push_back(
      MakeReport("r3", c.campaign.id, protocol::FailureOutcome::kFailed, "later cause"));
  env.Beat("d0", r);
  auto after = Get(c.campaign.id);
  EXPECT_EQ(after.campaign.state, CampaignState::kRollingOut);  // counted once: 1 < 2
  EXPECT_EQ(after.devices[0].state, DeviceRolloutState::kRolledBack);
  EXPECT_EQ(after.devices[0].error, "first cause");
  ASSERT_EQ(after.history.size(), 3u);
  EXPECT_EQ(after.history[0].error, "later cause");
  EXPECT_EQ(after.history[2].outcome, store::AttemptOutcome::kFallback);
  ASSERT_TRUE(after.first_failure.has_value());
  EXPECT_EQ(after.first_failure->error, "first cause");
  EXPECT_EQ(after.first_failure->exit_status, 1);
  EXPECT_EQ(after.first_failure->output, "stderr tail");
  auto dev = *env.devices->Get("d0");
  ASSERT_EQ(dev.history.size(), 3u);
  EXPECT_EQ(dev.history[1].stage, store::AttemptStage::kHealthCheck);
}

TEST_F(CampaignServiceTest, LocalFaultsAreKeptButDoNotCountTowardTheThreshold) {
  CreateCampaignRequest req{"m", "v2", "f", kAll, {}, {}, 1, {}};
  auto c = *env.campaigns->Create(req);
  env.Report("d0", UpdateStage::kDownloading, "m", "v2");
  protocol::HeartbeatRequest r;
  r.reports.emplace();
  r.reports->push_back(MakeReport("r1", c.campaign.id, protocol::FailureOutcome::kRolledBack,
                                  "activation failed: model dir not writable", true));
  r.update = protocol::UpdateProgress{"m", "v2", UpdateStage::kRolledBack, 0, 0, false, "x", true};
  auto resp = env.Beat("d0", r);
  auto after = Get(c.campaign.id);
  EXPECT_EQ(after.campaign.state, CampaignState::kRollingOut);
  EXPECT_EQ(after.devices[0].state, DeviceRolloutState::kPending);  // it will try again
  EXPECT_EQ(after.devices[0].error, "activation failed: model dir not writable");
  ASSERT_TRUE(resp.assignment.has_value());
  ASSERT_EQ(after.history.size(), 1u);
  EXPECT_TRUE(after.history[0].local);
  // Agents without reports flag it in the update block.
  env.Report("d1", UpdateStage::kDownloading, "m", "v2");
  protocol::HeartbeatRequest old_agent;
  old_agent.update =
      protocol::UpdateProgress{"m", "v2", UpdateStage::kFailed, 0, 0, false, "disk full", true};
  env.Beat("d1", old_agent);
  EXPECT_EQ(Get(c.campaign.id).campaign.state, CampaignState::kRollingOut);
  EXPECT_EQ(Get(c.campaign.id).devices[1].state, DeviceRolloutState::kPending);
}

TEST_F(CampaignServiceTest, ALocalFaultDoesNotHideAFailureInTheSameHeartbeat) {
  CreateCampaignRequest req{"m", "v2", "f", kAll, {}, {}, 1, {}};
  auto c = *env.campaigns->Create(req);
  env.Report("d0", UpdateStage::kDownloading, "m", "v2");
  protocol::HeartbeatRequest r;  // the disk filled, then (after a retry) the health check failed
  r.reports.emplace();
  r.reports->push_back(
      MakeReport("r1", c.campaign.id, protocol::FailureOutcome::kFailed, "disk full", true));
  r.reports->push_back(MakeReport("r2", c.campaign.id, protocol::FailureOutcome::kRolledBack,
                                  "health check exited 3"));
  r.reports->back().exit_status = 3;
  env.Beat("d0", r);
  auto after = Get(c.campaign.id);
  EXPECT_EQ(after.devices[0].state, DeviceRolloutState::kRolledBack);
  EXPECT_EQ(after.devices[0].error, "health check exited 3");
  EXPECT_EQ(after.campaign.state, CampaignState::kHalted);  // counted: threshold 1
  EXPECT_EQ(after.history.size(), 2u);
}

TEST_F(CampaignServiceTest, ALocalFaultWithoutReportsIsInTheHistoryOnce) {
  auto c = Create("all_at_once");
  env.Report("d1", UpdateStage::kDownloading, "m", "v2");
  protocol::HeartbeatRequest old_agent;  // an agent without `reports`
  old_agent.update =
      protocol::UpdateProgress{"m", "v2", UpdateStage::kFailed, 0, 0, false, "disk full", true};
  env.Beat("d1", old_agent);
  env.Beat("d1", old_agent);  // repeated until the next attempt: recorded once
  auto after = Get(c.campaign.id);
  EXPECT_EQ(after.devices[1].state, DeviceRolloutState::kPending);
  ASSERT_EQ(after.history.size(), 1u);
  EXPECT_TRUE(after.history[0].local);
  EXPECT_EQ(after.history[0].error, "disk full");
  EXPECT_EQ(after.history[0].outcome, store::AttemptOutcome::kFailed);
}

TEST_F(CampaignServiceTest, WithReportsAStaleUpdateBlockIsNotAFailure) {
  auto c = Create("all_at_once");
  protocol::HeartbeatRequest r;
  r.reports.emplace();  // an agent that reports attempts; its update block is about an old try
  r.update = protocol::UpdateProgress{"m", "v2", UpdateStage::kFailed, 0, 0, false, "old", false};
  env.Beat("d0", r);
  EXPECT_EQ(Get(c.campaign.id).devices[0].state, DeviceRolloutState::kPending);
  // A report for another campaign does not fail this one either.
  r.reports->push_back(MakeReport("r9", "c-other", protocol::FailureOutcome::kFailed, "x"));
  env.Beat("d0", r);
  EXPECT_EQ(Get(c.campaign.id).devices[0].state, DeviceRolloutState::kPending);
}

TEST_F(CampaignServiceTest, ReferenceFailureReportIsCounted) {
  CreateCampaignRequest req{"m", "v2", "f", kAll, {}, {}, 1, {}};
  auto c = *env.campaigns->Create(req);
  protocol::HeartbeatRequest r;  // what the reference agent sends after a failure
  r.current_model = "m";
  r.current_model_version = "v1";
  r.last_update_result = protocol::LastUpdateResult{true, "health check exited 1: bad"};
  env.Beat("d3", r);
  auto after = Get(c.campaign.id);
  EXPECT_EQ(after.devices[3].state, DeviceRolloutState::kFailed);
  EXPECT_EQ(after.campaign.state, CampaignState::kHalted);
  ASSERT_TRUE(after.first_failure.has_value());
  EXPECT_EQ(after.first_failure->error, "health check exited 1: bad");
  auto d3 = *env.devices->Get("d3");
  EXPECT_EQ(d3.device.last_result, store::UpdateResult::kFailed);
  EXPECT_EQ(d3.device.last_result_error, "health check exited 1: bad");
}

TEST_F(CampaignServiceTest, RepeatedReferenceFailureDoesNotFailTheNextCampaign) {
  auto b = Create("all_at_once");
  protocol::HeartbeatRequest r;  // the reference agent repeats this until an update succeeds
  r.current_model = "m";
  r.current_model_version = "v1";
  r.last_update_result = protocol::LastUpdateResult{true, "health check exited 1: bad"};
  env.Beat("d3", r);
  EXPECT_EQ(Get(b.campaign.id).devices[3].state, DeviceRolloutState::kFailed);
  env.Upload("m", "v3", "model version three bytes");
  CreateCampaignRequest req{"m", "v3", "f", kAll, {}, {}, 1, {}};
  auto c = *env.campaigns->Create(req);
  env.Beat("d3", r);  // the same old report: not about v3
  env.Beat("d3", r);
  auto after = Get(c.campaign.id);
  EXPECT_EQ(after.devices[3].state, DeviceRolloutState::kPending);
  EXPECT_EQ(after.campaign.state, CampaignState::kRollingOut);
  EXPECT_FALSE(after.first_failure.has_value());
  // A new failure (another error) is about v3.
  r.last_update_result = protocol::LastUpdateResult{true, "health check exited 2: worse"};
  env.Beat("d3", r);
  after = Get(c.campaign.id);
  EXPECT_EQ(after.devices[3].state, DeviceRolloutState::kFailed);
  EXPECT_EQ(after.campaign.state, CampaignState::kHalted);
}

// The threshold wins over the final-state rule (docs/api.md "Campaigns").
TEST_F(CampaignServiceTest, ThresholdCrossedByTheLastDeviceEndsHalted) {
  CreateCampaignRequest req{"m", "v2", "f", kAll, {}, {}, 1, {}};
  auto c = *env.campaigns->Create(req);
  for (int i = 0; i < 9; ++i) Complete("d" + std::to_string(i));
  env.Report("d9", UpdateStage::kFailed, "m", "v2");
  auto after = Get(c.campaign.id);
  EXPECT_EQ(Count(after, DeviceRolloutState::kCompleted), 9u);
  EXPECT_EQ(after.devices[9].state, DeviceRolloutState::kFailed);
  EXPECT_EQ(after.campaign.state, CampaignState::kHalted);
}

TEST_F(CampaignServiceTest, ClearingRefusalsReachesTheDeviceUntilAcknowledged) {
  auto c = Create("all_at_once");
  env.Report("d0", UpdateStage::kFailed, "m", "v2");
  Complete("d1");
  auto n = env.campaigns->ClearRefusals(c.campaign.id);
  ASSERT_OK(n.status());
  EXPECT_EQ(*n, 9u);  // every device but the one that completed
  auto resp = env.Beat("d0", {});
  ASSERT_EQ(resp.clear_refusals.size(), 1u);
  EXPECT_EQ(resp.clear_refusals[0].version, "v2");
  EXPECT_EQ(env.Beat("d0", {}).clear_refusals.size(), 1u);  // repeated until acknowledged
  protocol::HeartbeatRequest ack;
  ack.cleared_refusals = {resp.clear_refusals[0].id};
  EXPECT_TRUE(env.Beat("d0", ack).clear_refusals.empty());
  EXPECT_TRUE(env.Beat("d1", {}).clear_refusals.empty());
  EXPECT_STATUS(env.campaigns->ClearRefusals("nope").status(), ErrorCode::kNotFound);
  auto one = env.devices->ClearRefusal("d1", "m", "v7");
  ASSERT_OK(one.status());
  EXPECT_EQ(env.Beat("d1", {}).clear_refusals.at(0).version, "v7");
  EXPECT_STATUS(env.devices->ClearRefusal("zz", "m", "v7").status(), ErrorCode::kNotFound);
  EXPECT_STATUS(env.devices->ClearRefusal("d1", "m", "bad version").status(),
                ErrorCode::kInvalidArgument);
}

TEST_F(CampaignServiceTest, RollingBatchSkipsDevicesAlreadyOnTheTargetInOnePass) {
  for (int i = 0; i < 4; ++i) {
    protocol::HeartbeatRequest hb;
    hb.current_model = "m";
    hb.current_model_version = "v2";
    env.Beat("d" + std::to_string(i), hb);
  }
  auto c = Create("rolling", {}, 2);
  EXPECT_EQ(Count(c, DeviceRolloutState::kCompleted), 4u);
  EXPECT_EQ(Count(c, DeviceRolloutState::kPending), 2u);  // the first batch not yet done
  EXPECT_EQ(c.devices[4].state, DeviceRolloutState::kPending);
  EXPECT_EQ(c.devices[5].state, DeviceRolloutState::kPending);
}

TEST_F(CampaignServiceTest, ImpossibleHeartbeatReportIsIgnoredNotFatal) {
  auto c = Create("all_at_once");
  auto d0 = *env.store->campaigns().GetDevice(c.campaign.id, "d0");
  d0.state = DeviceRolloutState::kWaiting;  // an entry the table gives no way to fail from
  ASSERT_OK(env.store->campaigns().UpdateDevice(d0));
  auto r = env.Report("d0", UpdateStage::kFailed, "m", "v2");  // the heartbeat still succeeds
  EXPECT_TRUE(r.assignment.has_value());
  EXPECT_EQ(Get(c.campaign.id).devices[0].state, DeviceRolloutState::kWaiting);
}

TEST(RolloutTransitions, TableDrivesDeviceStates) {
  struct Case {
    DeviceRolloutState from;
    RolloutEvent event;
    DeviceRolloutState to;
  };
  const Case cases[] = {
      {DeviceRolloutState::kWaiting, RolloutEvent::kAssign, DeviceRolloutState::kPending},
      {DeviceRolloutState::kWaiting, RolloutEvent::kAlreadyOnTarget,
       DeviceRolloutState::kCompleted},
      {DeviceRolloutState::kPending, RolloutEvent::kDownloading, DeviceRolloutState::kDownloading},
      {DeviceRolloutState::kApplying, RolloutEvent::kRolledBack, DeviceRolloutState::kRolledBack},
      {DeviceRolloutState::kDownloading, RolloutEvent::kLocalFault, DeviceRolloutState::kPending},
      {DeviceRolloutState::kDownloading, RolloutEvent::kWithdraw, DeviceRolloutState::kWithdrawn},
      {DeviceRolloutState::kSuperseded, RolloutEvent::kReinstate, DeviceRolloutState::kPending},
  };
  for (const auto& c : cases) {
    auto next = NextRolloutState(c.from, c.event);
    ASSERT_OK(next.status()) << ToString(c.event);
    EXPECT_EQ(*next, c.to) << ToString(c.event);
  }
  EXPECT_STATUS(
      NextRolloutState(DeviceRolloutState::kCompleted, RolloutEvent::kDownloading).status(),
      ErrorCode::kInternal);
  EXPECT_STATUS(NextRolloutState(DeviceRolloutState::kWithdrawn, RolloutEvent::kAssign).status(),
                ErrorCode::kInternal);
  EXPECT_STATUS(NextRolloutState(DeviceRolloutState::kWaiting, RolloutEvent::kFailed).status(),
                ErrorCode::kInternal);
  // Outcomes never flip back.
  for (auto from : {DeviceRolloutState::kFailed, DeviceRolloutState::kRolledBack}) {
    for (int e = 0; e <= static_cast<int>(RolloutEvent::kLocalFault); ++e) {
      auto event = static_cast<RolloutEvent>(e);
      if (event == RolloutEvent::kSuperseded || event == RolloutEvent::kWithdraw) continue;
      EXPECT_FALSE(NextRolloutState(from, event).ok()) << ToString(event);
    }
  }
}

TEST(CampaignTransitions, TableAllowsOnlyListedPairs) {
  EXPECT_EQ(*NextCampaignState(CampaignState::kRollingOut, CampaignEvent::kPause),
            CampaignState::kPaused);
  EXPECT_EQ(*NextCampaignState(CampaignState::kPaused, CampaignEvent::kResume),
            CampaignState::kRollingOut);
  EXPECT_EQ(*NextCampaignState(CampaignState::kHalted, CampaignEvent::kAbort),
            CampaignState::kAborted);
  EXPECT_EQ(*NextCampaignState(CampaignState::kRollingOut, CampaignEvent::kThresholdReached),
            CampaignState::kHalted);
  EXPECT_STATUS(NextCampaignState(CampaignState::kCompleted, CampaignEvent::kAbort).status(),
                ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(NextCampaignState(CampaignState::kPaused, CampaignEvent::kAllDone).status(),
                ErrorCode::kFailedPrecondition);
  EXPECT_EQ(*NextCampaignState(CampaignState::kRollingOut, CampaignEvent::kAllDoneWithFailures),
            CampaignState::kCompletedWithFailures);
  EXPECT_EQ(*NextCampaignState(CampaignState::kRollingOut, CampaignEvent::kAllFailed),
            CampaignState::kFailed);
  for (auto final_state : {CampaignState::kCompletedWithFailures, CampaignState::kFailed}) {
    for (int e = 0; e <= static_cast<int>(CampaignEvent::kAllFailed); ++e) {
      EXPECT_FALSE(NextCampaignState(final_state, static_cast<CampaignEvent>(e)).ok());
    }
  }
}

}  // namespace
}  // namespace oxide::server
