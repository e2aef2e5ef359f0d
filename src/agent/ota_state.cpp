#include "agent/ota_state.hpp"

#include <array>
#include <string>

namespace oxide::agent {

namespace {

constexpr std::array<std::string_view, kNumOtaStates> kStateNames = {
    "idle",      "downloading", "downloaded",   "staged",      "verified", "backed_up",
    "activated", "committed",   "rolling_back", "rolled_back", "failed",   "aborted",
};

constexpr std::array<std::string_view, kNumOtaEvents> kEventNames = {
    "assigned",        "download_complete", "download_interrupted",
    "download_failed", "patch_rejected",    "staging_failed",
    "staging_ready",   "verify_ok",         "verify_failed",
    "backup_done",     "backup_failed",     "switched",
    "switch_failed",   "healthy",           "unhealthy",
    "restored",        "cleaned_up",        "superseded",
    "payload_lost",    "local_fault",
};

}  // namespace

std::string_view ToString(OtaState s) {
  auto i = static_cast<size_t>(s);
  return i < kStateNames.size() ? kStateNames[i] : "invalid";
}

std::string_view ToString(OtaEvent e) {
  auto i = static_cast<size_t>(e);
  return i < kEventNames.size() ? kEventNames[i] : "invalid";
}

Result<OtaState> ParseOtaState(std::string_view s) {
  for (size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == s) return static_cast<OtaState>(i);
  }
  return InvalidArgument("unknown OTA state '" + std::string(s) + "'");
}

Result<OtaEvent> ParseOtaEvent(std::string_view s) {
  for (size_t i = 0; i < kEventNames.size(); ++i) {
    if (kEventNames[i] == s) return static_cast<OtaEvent>(i);
  }
  return InvalidArgument("unknown OTA event '" + std::string(s) + "'");
}

}  // namespace oxide::agent
