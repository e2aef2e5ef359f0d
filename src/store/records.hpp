#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace oxide::store {

// Unix time in milliseconds. 0 means "never".
using TimeMs = int64_t;

// Campaign lifecycle. Persisted as the ToString() names; never rename.
enum class CampaignState : uint8_t {
  kRollingOut = 0,
  kPaused = 1,
  kCompleted = 2,
  kAborted = 3,
  kHalted = 4,  // failure threshold reached (or the canary wave was unhealthy)
  // Every device finished, some failed or rolled back and some completed.
  kCompletedWithFailures = 5,
  kFailed = 6,  // every device finished and none completed: at least one failed
  // require_approval: the canary wave completed healthy; the rest waits for an operator.
  kAwaitingApproval = 7,
};
// Completed (with or without failures), failed or aborted: nothing more will happen. Halted is
// final too but may still be aborted.
bool IsFinal(CampaignState s);
std::string_view ToString(CampaignState s);  // "rolling_out", "paused", ...
Result<CampaignState> ParseCampaignState(std::string_view s);

enum class CampaignStrategy : uint8_t { kAllAtOnce = 0, kCanary = 1, kRolling = 2 };
std::string_view ToString(CampaignStrategy s);  // "all_at_once", "canary", "rolling"
// Also accepts "all-at-once". kInvalidArgument otherwise.
Result<CampaignStrategy> ParseCampaignStrategy(std::string_view s);

// One device's progress inside one campaign.
enum class DeviceRolloutState : uint8_t {
  kWaiting = 0,  // in the campaign, not assigned yet (later canary wave / rolling batch)
  kPending = 1,  // assigned, no progress reported yet
  kDownloading = 2,
  kApplying = 3,
  kCompleted = 4,
  kFailed = 5,
  kRolledBack = 6,
  kWithdrawn = 7,   // the campaign was aborted before the device completed
  kSuperseded = 8,  // a newer campaign took the device over
};
std::string_view ToString(DeviceRolloutState s);
Result<DeviceRolloutState> ParseDeviceRolloutState(std::string_view s);
// Completed, failed, rolled back, withdrawn or superseded: nothing more will happen.
bool IsTerminal(DeviceRolloutState s);
bool IsFailure(DeviceRolloutState s);  // failed or rolled back

// Background patch preparation.
enum class PatchState : uint8_t {
  kPending = 0,
  kReady = 1,
  kFailed = 2,      // build or round-trip check failed: never served
  kNotSmaller = 3,  // built fine but not smaller than the full file: never served
};
std::string_view ToString(PatchState s);
Result<PatchState> ParsePatchState(std::string_view s);

// What the device last said about an update ("last_update_result" of the reference API).
enum class UpdateResult : uint8_t { kNone = 0, kSuccess = 1, kFailed = 2 };
std::string_view ToString(UpdateResult r);  // "none", "success", "failed"
Result<UpdateResult> ParseUpdateResult(std::string_view s);

// How a reported update attempt ended (a patch fallback is reported although the update goes on).
enum class AttemptOutcome : uint8_t {
  kFailed = 0,      // failed before activation; the active model was not touched
  kRolledBack = 1,  // activated, then rolled back (e.g. unhealthy)
  kFallback = 2,    // the patch did not apply; the full file is downloaded instead
  kRefused = 3,     // the device refuses the version (it failed there too often before)
};
std::string_view ToString(AttemptOutcome o);  // "failed", "rolled_back", "fallback", "refused"
Result<AttemptOutcome> ParseAttemptOutcome(std::string_view s);

// Where in the device's update pipeline an attempt ended.
enum class AttemptStage : uint8_t {
  kUnknown = 0,  // not reported (reference agents)
  kDownload = 1,
  kPatch = 2,
  kVerify = 3,
  kBackup = 4,
  kActivate = 5,
  kHealthCheck = 6,
  kPreflight = 7,  // before anything was fetched (e.g. refused, no disk space)
};
std::string_view ToString(AttemptStage s);  // "unknown", "download", ..., "health_check"
Result<AttemptStage> ParseAttemptStage(std::string_view s);

// What an operator token may do: admin everything, viewer GET only. Persisted as the
// ToString() names; never rename.
enum class OperatorRole : uint8_t { kAdmin = 0, kViewer = 1 };
std::string_view ToString(OperatorRole r);  // "admin", "viewer"
Result<OperatorRole> ParseOperatorRole(std::string_view s);

// Whether a device may use its credential. Persisted as the ToString() names.
enum class DeviceAuthState : uint8_t { kPending = 0, kAccepted = 1, kRejected = 2 };
std::string_view ToString(DeviceAuthState s);  // "pending", "accepted", "rejected"
Result<DeviceAuthState> ParseDeviceAuthState(std::string_view s);

// What the device last reported about itself (heartbeat "inventory"). Written only through
// DeviceStore::PutInventory, read with the device.
struct DeviceInventory {
  std::string os;
  std::string os_version;
  std::string arch;
  std::string agent_version;
  std::optional<uint64_t> free_disk_bytes;  // absent: the device did not say
  std::map<std::string, std::string> attributes;
  TimeMs updated_at = 0;  // when it last changed; 0 = never reported

  bool operator==(const DeviceInventory&) const = default;
};

struct DeviceRecord {
  std::string id;
  std::string name;
  std::map<std::string, std::string> tags;
  TimeMs created_at = 0;
  TimeMs last_seen = 0;         // last heartbeat, 0 = never
  std::string reported_status;  // free text from the agent ("online", ...)
  std::string agent_version;
  std::string current_model;  // what the device reports it runs
  std::string current_version;
  std::string current_sha256;  // lower-case hex, may be empty
  uint64_t bytes_served = 0;   // body bytes written to this device
  uint64_t bytes_full = 0;     // what full downloads would have cost
  // Reported by the agent; empty / 0 when unknown.
  std::string platform_os;
  std::string platform_arch;
  uint32_t platform_cpus = 0;
  UpdateResult last_result = UpdateResult::kNone;
  std::string last_result_error;  // with kFailed
  DeviceInventory inventory{};    // filled by reads; Create and Update ignore it
};

struct FleetRecord {
  std::string id;
  std::string name;
  TimeMs created_at = 0;
  std::string description;
  std::map<std::string, std::string> tags;
};

// One failed (or fallen-back) update attempt as a device reported it. Never updated: the history
// keeps every attempt, so the first cause is never overwritten.
struct AttemptRecord {
  int64_t seq = 0;  // assigned by the store; higher is newer
  std::string device_id;
  // The agent's id for the report: (device_id, report_id) is stored once, so a report re-sent
  // after a lost reply is not counted twice. Empty: no deduplication (reference agents).
  std::string report_id;
  std::string campaign_id;  // may be empty
  std::string model_id;
  std::string version;
  AttemptOutcome outcome = AttemptOutcome::kFailed;
  AttemptStage stage = AttemptStage::kUnknown;
  bool local = false;              // a fault of the device (disk, permissions), not of the version
  std::optional<int> exit_status;  // health check exit status, when it ran
  std::string error;
  std::string output;    // tail of the health check's stdout and stderr
  TimeMs at = 0;         // when the server received it
  TimeMs device_at = 0;  // when it happened by the device's clock, 0 unknown
};

// An operator cleared a refused (poison-pilled) version for a device; sent to the agent in
// heartbeat replies until it acknowledges it.
struct ClearanceRecord {
  int64_t id = 0;  // assigned by the store
  std::string device_id;
  std::string model_id;
  std::string version;
  TimeMs created_at = 0;
};

struct ModelVersionRecord {
  std::string model_id;
  std::string version;
  std::string sha256;  // lower-case hex; the blob name
  uint64_t size_bytes = 0;
  std::string format;  // tensor::ModelFormat name
  TimeMs uploaded_at = 0;
  int64_t seq = 0;  // upload order (assigned by the store; a re-upload gets a new one)
  // Graph inputs/outputs (tensor::EncodeSignature JSON); "" for formats without a graph.
  std::string signature = {};
  // How the signature differs from the previous version of the model (DescribeSignatureChange
  // lines joined by '\n'); "" when unchanged or when there is nothing to compare with.
  std::string signature_change = {};
};

// The tensor index of one blob, computed once at upload (parsing a large header is too slow to
// repeat per request). `data` is an opaque encoding owned by the server.
struct TensorIndexRecord {
  std::string sha256;  // the model blob it describes
  std::string format;  // tensor::ModelFormat name
  uint64_t tensor_count = 0;
  std::string data;
};

struct PatchRecord {
  std::string base_sha256;
  std::string target_sha256;
  PatchState state = PatchState::kPending;
  std::string patch_sha256;  // blob name when ready
  uint64_t patch_size = 0;
  std::string strategy;  // delta::Strategy name
  std::string error;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  uint32_t attempts = 0;    // builds started (persisted before each build)
  TimeMs not_before = 0;    // a pending job is retried no earlier than this (backoff)
  std::string lease_owner;  // "" when no replica holds the job
  TimeMs lease_until = 0;   // the lease ends at this time (another replica may claim it after)
};

// What a device is told to run.
struct AssignmentRecord {
  std::string device_id;
  std::string campaign_id;
  std::string model_id;
  std::string version;
  std::string sha256;
  uint64_t size_bytes = 0;
};

// Which devices a campaign reaches besides (or instead of) a fleet: exact matches, all of them
// (AND). `inventory` keys os, os_version, arch and agent_version name those fields; any other
// key names a custom attribute.
struct CampaignTarget {
  std::map<std::string, std::string> tags;
  std::map<std::string, std::string> inventory;

  bool operator==(const CampaignTarget&) const = default;
};

struct CampaignRecord {
  std::string id;
  std::string model_id;
  std::string version;
  std::string target_sha256;
  uint64_t target_size = 0;
  std::string fleet_id;
  CampaignStrategy strategy = CampaignStrategy::kAllAtOnce;
  uint32_t canary_percent = 10;
  uint32_t batch_size = 1;
  uint32_t failure_threshold_count = 0;    // 0 = off
  uint32_t failure_threshold_percent = 0;  // 0 = off
  CampaignState state = CampaignState::kRollingOut;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
  int64_t seq = 0;  // creation order (assigned by the store): higher is newer
  uint64_t bytes_served = 0;
  uint64_t bytes_full = 0;
  std::optional<CampaignTarget> target =
      std::nullopt;               // as given at creation (fleet_id may then be "")
  bool require_approval = false;  // canary: wait for an operator after the first wave
  TimeMs approved_at = 0;         // 0 = not approved (yet)
  // The operator accepted that the version changes the model signature (devices skip the
  // signature check of builtin:inference).
  bool allow_signature_change = false;
};

struct CampaignDeviceRecord {
  std::string campaign_id;
  std::string device_id;
  int64_t ordinal = 0;  // rollout order inside the campaign
  DeviceRolloutState state = DeviceRolloutState::kWaiting;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  std::string error;
  uint64_t bytes_served = 0;
  uint64_t bytes_full = 0;
  TimeMs updated_at = 0;
  // The device's assignment before this campaign took it over; restored on abort.
  std::optional<AssignmentRecord> previous;
};

// An operator's API token. Only its SHA-256 is stored: the token itself is shown once.
struct OperatorTokenRecord {
  std::string id;  // public handle (list, revoke); not a secret
  std::string name;
  OperatorRole role = OperatorRole::kViewer;
  std::string sha256;  // lower-case hex of the token
  TimeMs created_at = 0;
  TimeMs revoked_at = 0;  // 0 = active
  TimeMs last_used = 0;   // 0 = never (updated at most once a minute)
};

// A fleet enrollment token: a device presenting it is accepted at once and joins the fleet.
struct EnrollmentTokenRecord {
  std::string id;
  std::string fleet_id;
  std::string sha256;  // lower-case hex of the token
  TimeMs created_at = 0;
  TimeMs revoked_at = 0;  // 0 = active
};

// A device's credential and acceptance. No record: pending, no credential.
struct DeviceAuthRecord {
  std::string device_id;
  DeviceAuthState state = DeviceAuthState::kPending;
  std::string secret_sha256;  // lower-case hex of the device secret; empty = no credential
  TimeMs updated_at = 0;
};

// One operator action, as recorded in the audit log. Never updated.
struct AuditRecord {
  int64_t id = 0;  // assigned by the store; higher is newer
  TimeMs at = 0;
  std::string actor_id;    // operator token id ("" for the server itself)
  std::string actor_name;  // operator token name
  std::string action;      // server::auth::AuditAction name ("token.create", ...)
  std::string target;      // what it acted on ("device/d1", "campaign/c3", ...)
  std::string remote_address;
  std::string detail;  // small free text (role, version, ...)
};

// ---- list queries (targeting, issue #10) ------------------------------------------------

// Device lists: keyset pages by id, every filter combined (AND).
struct DeviceQuery {
  enum class Seen : uint8_t { kAny = 0, kNever = 1, kAtOrAfter = 2, kBefore = 3 };
  enum class Auth : uint8_t {
    kAny = 0,
    kUnenrolled = 1,
    kPending = 2,
    kAccepted = 3,
    kRejected = 4
  };
  std::string after{};  // ids greater than this ("" = from the start)
  size_t limit = 0;     // 0 = no limit
  // Members initialised so that designated initializers may name any subset of them.
  std::string fleet_id{};                                   // members of this fleet only
  std::vector<std::pair<std::string, std::string>> tags{};  // key = value, each
  std::string text{};  // case-insensitive (ASCII) substring of the id or the name
  Seen seen = Seen::kAny;
  TimeMs seen_at = 0;  // with kAtOrAfter / kBefore (a never-seen device matches neither)
  Auth auth = Auth::kAny;
};

// Campaign lists: keyset pages in creation order (seq).
struct CampaignQuery {
  std::string after{};  // campaigns created after this one ("" = from the first)
  size_t limit = 0;     // 0 = no limit
  std::optional<CampaignState> state = std::nullopt;
};

}  // namespace oxide::store
