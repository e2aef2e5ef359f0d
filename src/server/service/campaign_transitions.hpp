#pragma once

#include "base/result.hpp"
#include "store/records.hpp"

namespace oxide::server {

// What can happen to a campaign. Operator events come from the API; the others from rollout
// progress.
enum class CampaignEvent : uint8_t {
  kPause = 0,
  kResume = 1,
  kAbort = 2,
  kAllDone = 3,              // every device is in a terminal state, none failed
  kThresholdReached = 4,     // failure threshold hit, or the canary wave was unhealthy
  kAllDoneWithFailures = 5,  // every device is terminal; some failed, some completed
  kAllFailed = 6,            // every device is terminal; some failed, none completed
  kCanaryPassed = 7,         // require_approval: the canary wave completed healthy
  kApprove = 8,              // an operator approved the rest of the rollout
};
std::string_view ToString(CampaignEvent e);

// The one transition table. kFailedPrecondition ("cannot pause a completed campaign") when the
// pair is not in the table.
Result<store::CampaignState> NextCampaignState(store::CampaignState from, CampaignEvent event);

}  // namespace oxide::server
