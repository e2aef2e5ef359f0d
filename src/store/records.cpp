#include "store/records.hpp"

#include <iterator>

namespace oxide::store {
namespace {

template <class E, size_t N>
Result<E> ParseByName(const std::string_view (&names)[N], std::string_view s, const char* what) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return InvalidArgument(std::string("unknown ") + what + " '" + std::string(s) + "'");
}

template <class E, size_t N>
std::string_view NameOf(const std::string_view (&names)[N], E e) {
  auto i = static_cast<size_t>(e);
  return i < N ? names[i] : std::string_view("unknown");
}

constexpr std::string_view kCampaignStates[] = {
    "rolling_out", "paused",           "completed", "aborted", "halted", "completed_with_failures",
    "failed",      "awaiting_approval"};
constexpr std::string_view kStrategies[] = {"all_at_once", "canary", "rolling"};
constexpr std::string_view kRolloutStates[] = {"waiting",     "pending",   "downloading",
                                               "applying",    "completed", "failed",
                                               "rolled_back", "withdrawn", "superseded"};
constexpr std::string_view kPatchStates[] = {"pending", "ready", "failed", "not_smaller"};
constexpr std::string_view kUpdateResults[] = {"none", "success", "failed"};
constexpr std::string_view kAttemptOutcomes[] = {"failed", "rolled_back", "fallback", "refused"};
constexpr std::string_view kOperatorRoles[] = {"admin", "viewer"};
constexpr std::string_view kDeviceAuthStates[] = {"pending", "accepted", "rejected"};
constexpr std::string_view kAttemptStages[] = {"unknown", "download", "patch",        "verify",
                                               "backup",  "activate", "health_check", "preflight"};

}  // namespace

std::string_view ToString(CampaignState s) { return NameOf(kCampaignStates, s); }
Result<CampaignState> ParseCampaignState(std::string_view s) {
  return ParseByName<CampaignState>(kCampaignStates, s, "campaign state");
}

bool IsFinal(CampaignState s) {
  return s == CampaignState::kCompleted || s == CampaignState::kCompletedWithFailures ||
         s == CampaignState::kFailed || s == CampaignState::kAborted;
}

std::string_view ToString(UpdateResult r) { return NameOf(kUpdateResults, r); }
Result<UpdateResult> ParseUpdateResult(std::string_view s) {
  return ParseByName<UpdateResult>(kUpdateResults, s, "update result");
}

std::string_view ToString(AttemptOutcome o) { return NameOf(kAttemptOutcomes, o); }
Result<AttemptOutcome> ParseAttemptOutcome(std::string_view s) {
  return ParseByName<AttemptOutcome>(kAttemptOutcomes, s, "attempt outcome");
}

std::string_view ToString(OperatorRole r) { return NameOf(kOperatorRoles, r); }
Result<OperatorRole> ParseOperatorRole(std::string_view s) {
  return ParseByName<OperatorRole>(kOperatorRoles, s, "role");
}

std::string_view ToString(DeviceAuthState s) { return NameOf(kDeviceAuthStates, s); }
Result<DeviceAuthState> ParseDeviceAuthState(std::string_view s) {
  return ParseByName<DeviceAuthState>(kDeviceAuthStates, s, "device auth state");
}

std::string_view ToString(AttemptStage s) { return NameOf(kAttemptStages, s); }
Result<AttemptStage> ParseAttemptStage(std::string_view s) {
  return ParseByName<AttemptStage>(kAttemptStages, s, "attempt stage");
}

std::string_view ToString(CampaignStrategy s) { return NameOf(kStrategies, s); }
Result<CampaignStrategy> ParseCampaignStrategy(std::string_view s) {
  if (s == "all-at-once") return CampaignStrategy::kAllAtOnce;
  return ParseByName<CampaignStrategy>(kStrategies, s, "strategy");
}

std::string_view ToString(DeviceRolloutState s) { return NameOf(kRolloutStates, s); }
Result<DeviceRolloutState> ParseDeviceRolloutState(std::string_view s) {
  return ParseByName<DeviceRolloutState>(kRolloutStates, s, "device rollout state");
}

bool IsTerminal(DeviceRolloutState s) {
  switch (s) {
    case DeviceRolloutState::kCompleted:
    case DeviceRolloutState::kFailed:
    case DeviceRolloutState::kRolledBack:
    case DeviceRolloutState::kWithdrawn:
    case DeviceRolloutState::kSuperseded:
      return true;
    default:
      return false;
  }
}

bool IsFailure(DeviceRolloutState s) {
  return s == DeviceRolloutState::kFailed || s == DeviceRolloutState::kRolledBack;
}

std::string_view ToString(PatchState s) { return NameOf(kPatchStates, s); }
Result<PatchState> ParsePatchState(std::string_view s) {
  return ParseByName<PatchState>(kPatchStates, s, "patch state");
}

}  // namespace oxide::store
