#pragma once

#include <string_view>

#include "base/result.hpp"
#include "store/records.hpp"

namespace oxide::server {

// What can happen to one device inside one campaign. Rollout decisions (Assign, Withdraw,
// supersession) and heartbeat reports are turned into these; the table decides the next state.
enum class RolloutEvent : uint8_t {
  kAssign = 0,           // the campaign hands the device its assignment
  kAlreadyOnTarget = 1,  // assigned, and the device already runs the target
  kDownloading = 2,      // heartbeat: update stage reported by the agent
  kApplying = 3,
  kCompleted = 4,  // heartbeat: stage completed, or the device reports the target as current
  kFailed = 5,
  kRolledBack = 6,
  kSuperseded = 7,  // a newer campaign holds (or took) the device
  kWithdraw = 8,    // abort, halt (not started yet) or the device was deleted
  kReinstate = 9,   // a newer campaign was aborted: the device is handed back
  // The device could not install for a reason of its own (disk full, model dir not writable,
  // health check missing): not a failure of the version; it will try again.
  kLocalFault = 10,
};
std::string_view ToString(RolloutEvent e);

// The one per-device transition table. kInternal ("no transition for ...") when the pair is
// not in the table: callers on the decision path propagate it, heartbeat input logs and
// ignores it.
Result<store::DeviceRolloutState> NextRolloutState(store::DeviceRolloutState from,
                                                   RolloutEvent event);

}  // namespace oxide::server
