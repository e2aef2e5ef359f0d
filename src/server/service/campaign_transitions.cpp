#include "server/service/campaign_transitions.hpp"

#include <string>

namespace oxide::server {
namespace {

using S = store::CampaignState;
using E = CampaignEvent;

struct Transition {
  S from;
  E event;
  S to;
};

// rolling_out <-> paused, then completed, completed_with_failures, failed, aborted or halted;
// rolling_out -> awaiting_approval -> rolling_out once for a canary that requires approval.
// Final: completed, completed_with_failures, failed, aborted; halted can still be aborted.
// A campaign with a failed or rolled-back device never ends as plain `completed`.
constexpr Transition kTable[] = {
    {S::kRollingOut, E::kPause, S::kPaused},
    {S::kPaused, E::kResume, S::kRollingOut},
    {S::kRollingOut, E::kAbort, S::kAborted},
    {S::kPaused, E::kAbort, S::kAborted},
    {S::kHalted, E::kAbort, S::kAborted},
    {S::kRollingOut, E::kAllDone, S::kCompleted},
    {S::kRollingOut, E::kAllDoneWithFailures, S::kCompletedWithFailures},
    {S::kRollingOut, E::kAllFailed, S::kFailed},
    {S::kRollingOut, E::kThresholdReached, S::kHalted},
    // Approval (canary with require_approval): the wave passed, an operator lets the rest go.
    {S::kRollingOut, E::kCanaryPassed, S::kAwaitingApproval},
    {S::kAwaitingApproval, E::kApprove, S::kRollingOut},
    {S::kAwaitingApproval, E::kAbort, S::kAborted},
};

}  // namespace

std::string_view ToString(CampaignEvent e) {
  switch (e) {
    case E::kPause:
      return "pause";
    case E::kResume:
      return "resume";
    case E::kAbort:
      return "abort";
    case E::kAllDone:
      return "all_done";
    case E::kThresholdReached:
      return "threshold_reached";
    case E::kAllDoneWithFailures:
      return "all_done_with_failures";
    case E::kAllFailed:
      return "all_failed";
    case E::kCanaryPassed:
      return "canary_passed";
    case E::kApprove:
      return "approve";
  }
  return "unknown";
}

Result<store::CampaignState> NextCampaignState(store::CampaignState from, CampaignEvent event) {
  for (const auto& t : kTable) {
    if (t.from == from && t.event == event) return t.to;
  }
  return FailedPrecondition("cannot " + std::string(ToString(event)) + " a campaign that is " +
                            std::string(store::ToString(from)));
}

}  // namespace oxide::server
