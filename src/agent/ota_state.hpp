#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.hpp"

namespace oxide::agent {

// Where one model's over-the-air update stands. Each state names what has been achieved; its
// handler (update_pipeline.cpp) performs the next step and returns an OtaEvent, and the one
// transition table (transitions.cpp) picks the next state. Persisted in the state file by name;
// the numbers are stable too (they are never written, but never renumber them).
enum class OtaState : uint8_t {
  kIdle = 0,         // no update in hand
  kDownloading = 1,  // fetching the payload (patch or full file) into `partial`, resumable
  kDownloaded = 2,   // payload complete and synced; next: rebuild/move it into `staging`
  kStaged = 3,       // a complete candidate model sits in `staging`; next: verify it
  kVerified = 4,     // staging matches the assignment; next: preserve the active model
  kBackedUp = 5,     // the active model is preserved in `backup`; next: atomic switch
  kActivated = 6,    // staging was renamed over the active path; next: health check
  kCommitted = 7,    // healthy: the new model stays; next: clean up
  kRollingBack = 8,  // restoring `backup` over the active path
  kRolledBack = 9,   // the old model is active again; next: clean up, count the failure
  kFailed = 10,      // failed before activation (active untouched); next: clean up, count
  kAborted = 11,     // superseded by another assignment; next: clean up, no count
};

// Inputs to the table: what a handler (or the poll loop, for kAssigned/kSuperseded) observed.
enum class OtaEvent : uint8_t {
  kAssigned = 0,             // the server assigned a version this device should install
  kDownloadComplete = 1,     // payload fully received and synced
  kDownloadInterrupted = 2,  // transient transfer failure; resume later from the partial file
  kDownloadFailed = 3,       // permanent: 4xx, unusable response
  kPatchRejected = 4,        // the patch did not rebuild the target: fetch the full file once
  kStagingFailed = 5,        // full file hash mismatch, or the fallback patch failed too
  kStagingReady = 6,
  kVerifyOk = 7,
  kVerifyFailed = 8,
  kBackupDone = 9,
  kBackupFailed = 10,
  kSwitched = 11,
  kSwitchFailed = 12,
  kHealthy = 13,
  kUnhealthy = 14,
  kRestored = 15,
  kCleanedUp = 16,
  kSuperseded = 17,   // the assignment changed or was withdrawn before activation
  kPayloadLost = 18,  // the downloaded payload vanished (crash): download it again
  kLocalFault = 19,   // local errors (disk, I/O) repeated too often: give up, not counted
};

std::string_view ToString(OtaState s);               // "idle", "downloading", ... (lower_snake)
std::string_view ToString(OtaEvent e);               // "assigned", "download_complete", ...
Result<OtaState> ParseOtaState(std::string_view s);  // kInvalidArgument when unknown
Result<OtaEvent> ParseOtaEvent(std::string_view s);  // kInvalidArgument when unknown

inline constexpr int kNumOtaStates = 12;
inline constexpr int kNumOtaEvents = 20;

}  // namespace oxide::agent
