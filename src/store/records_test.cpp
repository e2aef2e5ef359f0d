#include "store/records.hpp"

#include <gtest/gtest.h>

#include "testing/status_matchers.hpp"

namespace oxide::store {
namespace {

TEST(Records, CampaignStateRoundTrips) {
  for (auto s : {CampaignState::kRollingOut, CampaignState::kPaused, CampaignState::kCompleted,
                 CampaignState::kAborted, CampaignState::kHalted}) {
    EXPECT_EQ(*ParseCampaignState(ToString(s)), s);
  }
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

}  // namespace
}  // namespace oxide::store
