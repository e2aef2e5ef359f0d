#include "agent/transitions.hpp"

#include <array>

namespace oxide::agent {

namespace {

using S = OtaState;
using E = OtaEvent;

// clang-format off
constexpr std::array kTable = {
  Transition{S::kIdle,        E::kAssigned,            S::kDownloading},
  Transition{S::kDownloading, E::kDownloadComplete,    S::kDownloaded},
  Transition{S::kDownloading, E::kDownloadInterrupted, S::kDownloading},
  Transition{S::kDownloading, E::kDownloadFailed,      S::kFailed},
  Transition{S::kDownloading, E::kSuperseded,          S::kAborted},
  Transition{S::kDownloading, E::kLocalFault,          S::kFailed},
  Transition{S::kDownloaded,  E::kStagingReady,        S::kStaged},
  Transition{S::kDownloaded,  E::kPatchRejected,       S::kDownloading},
  Transition{S::kDownloaded,  E::kStagingFailed,       S::kFailed},
  Transition{S::kDownloaded,  E::kPayloadLost,         S::kDownloading},
  Transition{S::kDownloaded,  E::kSuperseded,          S::kAborted},
  Transition{S::kDownloaded,  E::kLocalFault,          S::kFailed},
  Transition{S::kStaged,      E::kVerifyOk,            S::kVerified},
  Transition{S::kStaged,      E::kVerifyFailed,        S::kFailed},
  Transition{S::kStaged,      E::kSuperseded,          S::kAborted},
  Transition{S::kStaged,      E::kLocalFault,          S::kFailed},
  Transition{S::kVerified,    E::kBackupDone,          S::kBackedUp},
  Transition{S::kVerified,    E::kBackupFailed,        S::kFailed},
  Transition{S::kVerified,    E::kSuperseded,          S::kAborted},
  Transition{S::kVerified,    E::kLocalFault,          S::kFailed},
  Transition{S::kBackedUp,    E::kSwitched,            S::kActivated},
  Transition{S::kBackedUp,    E::kSwitchFailed,        S::kRollingBack},
  Transition{S::kActivated,   E::kHealthy,             S::kCommitted},
  Transition{S::kActivated,   E::kUnhealthy,           S::kRollingBack},
  Transition{S::kRollingBack, E::kRestored,            S::kRolledBack},
  Transition{S::kCommitted,   E::kCleanedUp,           S::kIdle},
  Transition{S::kRolledBack,  E::kCleanedUp,           S::kIdle},
  Transition{S::kFailed,      E::kCleanedUp,           S::kIdle},
  Transition{S::kAborted,     E::kCleanedUp,           S::kIdle},
};
// clang-format on

}  // namespace

std::span<const Transition> TransitionTable() { return kTable; }

Result<OtaState> NextState(OtaState from, OtaEvent event) {
  for (const Transition& t : kTable) {
    if (t.from == from && t.event == event) return t.to;
  }
  return Internal("no transition from state '" + std::string(ToString(from)) + "' on event '" +
                  std::string(ToString(event)) + "'");
}

std::string TransitionTableMarkdown() {
  std::string out = "| from | event | to |\n|---|---|---|\n";
  for (const Transition& t : kTable) {
    out += "| " + std::string(ToString(t.from)) + " | " + std::string(ToString(t.event)) + " | " +
           std::string(ToString(t.to)) + " |\n";
  }
  return out;
}

}  // namespace oxide::agent
