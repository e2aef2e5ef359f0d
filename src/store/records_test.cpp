#include "store/records.hpp"

#include <gtest/gtest.h>

#include "testing/status_matchers.hpp"

namespace oxide::store {
namespace {

TEST(Records, CampaignStateRoundTrips) {
  for (int i = 0; i <= static_cast<int>(CampaignState::kAwaitingApproval); ++i) {
    auto s = static_cast<CampaignState>(i);
    EXPECT_EQ(*ParseCampaignState(ToString(s)), s);
  }
  EXPECT_EQ(ToString(CampaignState::kCompletedWithFailures), "completed_with_failures");
  EXPECT_EQ(ToString(CampaignState::kFailed), "failed");
  EXPECT_TRUE(IsFinal(CampaignState::kFailed));
  EXPECT_FALSE(IsFinal(CampaignState::kHalted));
  EXPECT_EQ(ToString(CampaignState::kAwaitingApproval), "awaiting_approval");
  EXPECT_FALSE(IsFinal(CampaignState::kAwaitingApproval));
  EXPECT_STATUS(ParseCampaignState("RollingOut").status(), ErrorCode::kInvalidArgument);
}

TEST(Records, StrategyRoundTripsAndAcceptsDashedAllAtOnce) {
  for (auto s :
       {CampaignStrategy::kAllAtOnce, CampaignStrategy::kCanary, CampaignStrategy::kRolling}) {
    EXPECT_EQ(*ParseCampaignStrategy(ToString(s)), s);
  }
  EXPECT_EQ(*ParseCampaignStrategy("all-at-once"), CampaignStrategy::kAllAtOnce);
  EXPECT_STATUS(ParseCampaignStrategy("yolo").status(), ErrorCode::kInvalidArgument);
}

TEST(Records, RolloutAndPatchStatesRoundTrip) {
  for (int i = 0; i <= 8; ++i) {
    auto s = static_cast<DeviceRolloutState>(i);
    EXPECT_EQ(*ParseDeviceRolloutState(ToString(s)), s);
  }
  for (int i = 0; i <= 3; ++i) {
    auto s = static_cast<PatchState>(i);
    EXPECT_EQ(*ParsePatchState(ToString(s)), s);
  }
  EXPECT_TRUE(IsTerminal(DeviceRolloutState::kSuperseded));
  EXPECT_FALSE(IsTerminal(DeviceRolloutState::kDownloading));
  EXPECT_TRUE(IsFailure(DeviceRolloutState::kRolledBack));
}

TEST(Records, AttemptAndResultEnumsRoundTrip) {
  for (int i = 0; i <= 2; ++i) {
    auto r = static_cast<UpdateResult>(i);
    EXPECT_EQ(*ParseUpdateResult(ToString(r)), r);
  }
  for (int i = 0; i <= 3; ++i) {
    auto o = static_cast<AttemptOutcome>(i);
    EXPECT_EQ(*ParseAttemptOutcome(ToString(o)), o);
  }
  for (int i = 0; i <= 7; ++i) {
    auto s = static_cast<AttemptStage>(i);
    EXPECT_EQ(*ParseAttemptStage(ToString(s)), s);
  }
  EXPECT_EQ(ToString(AttemptStage::kHealthCheck), "health_check");
  EXPECT_STATUS(ParseAttemptOutcome("oops").status(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace oxide::store
