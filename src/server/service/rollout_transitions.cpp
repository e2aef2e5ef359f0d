#include "server/service/rollout_transitions.hpp"

#include <string>

namespace oxide::server {
namespace {

using S = store::DeviceRolloutState;
using E = RolloutEvent;

struct Transition {
  S from;
  E event;
  S to;
};

// waiting -> pending -> downloading -> applying -> completed | failed | rolled_back; any
// unfinished state can be superseded or withdrawn. Outcomes never flip back: failed and
// rolled_back are final like completed (the campaign hands the device its previous assignment
// at once, so it does not retry). A local fault sends the device back to pending (it retries on
// its own). A superseded device comes back when the newer campaign is aborted.
constexpr Transition kTable[] = {
    {S::kWaiting, E::kAssign, S::kPending},
    {S::kWaiting, E::kAlreadyOnTarget, S::kCompleted},
    {S::kWaiting, E::kSuperseded, S::kSuperseded},
    {S::kWaiting, E::kWithdraw, S::kWithdrawn},

    {S::kPending, E::kDownloading, S::kDownloading},
    {S::kPending, E::kApplying, S::kApplying},
    {S::kPending, E::kCompleted, S::kCompleted},
    {S::kPending, E::kFailed, S::kFailed},
    {S::kPending, E::kRolledBack, S::kRolledBack},
    {S::kPending, E::kSuperseded, S::kSuperseded},
    {S::kPending, E::kWithdraw, S::kWithdrawn},
    {S::kPending, E::kLocalFault, S::kPending},

    {S::kDownloading, E::kDownloading, S::kDownloading},
    {S::kDownloading, E::kApplying, S::kApplying},
    {S::kDownloading, E::kCompleted, S::kCompleted},
    {S::kDownloading, E::kFailed, S::kFailed},
    {S::kDownloading, E::kRolledBack, S::kRolledBack},
    {S::kDownloading, E::kSuperseded, S::kSuperseded},
    {S::kDownloading, E::kWithdraw, S::kWithdrawn},
    {S::kDownloading, E::kLocalFault, S::kPending},

    {S::kApplying, E::kDownloading, S::kDownloading},
    {S::kApplying, E::kApplying, S::kApplying},
    {S::kApplying, E::kCompleted, S::kCompleted},
    {S::kApplying, E::kFailed, S::kFailed},
    {S::kApplying, E::kRolledBack, S::kRolledBack},
    {S::kApplying, E::kSuperseded, S::kSuperseded},
    {S::kApplying, E::kWithdraw, S::kWithdrawn},
    {S::kApplying, E::kLocalFault, S::kPending},

    {S::kSuperseded, E::kReinstate, S::kPending},
};

}  // namespace

std::string_view ToString(RolloutEvent e) {
  switch (e) {
    case E::kAssign:
      return "assign";
    case E::kAlreadyOnTarget:
      return "already_on_target";
    case E::kDownloading:
      return "downloading";
    case E::kApplying:
      return "applying";
    case E::kCompleted:
      return "completed";
    case E::kFailed:
      return "failed";
    case E::kRolledBack:
      return "rolled_back";
    case E::kSuperseded:
      return "superseded";
    case E::kWithdraw:
      return "withdraw";
    case E::kReinstate:
      return "reinstate";
    case E::kLocalFault:
      return "local_fault";
  }
  return "unknown";
}

Result<store::DeviceRolloutState> NextRolloutState(store::DeviceRolloutState from,
                                                   RolloutEvent event) {
  for (const auto& t : kTable) {
    if (t.from == from && t.event == event) return t.to;
  }
  return Internal("no rollout transition for event '" + std::string(ToString(event)) +
                  "' from state '" + std::string(store::ToString(from)) + "'");
}

}  // namespace oxide::server
