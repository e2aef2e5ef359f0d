#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "protocol/inventory.hpp"

namespace oxide::protocol {

// Wire contract between `oxide agent` and `oxide serve` for POST /api/v1/devices/:id/heartbeat.
// Field names extend the reference Oxide's HeartbeatRequest (current_model, current_model_version,
// status, last_update_result), so old agents keep working; every field is optional on the wire.

// Where the update in hand stands, as the agent reports it. Persisted by the server: values are
// stable strings ("downloading", ...), parsed once at the edge.
enum class UpdateStage : uint8_t {
  kIdle = 0,
  kDownloading = 1,
  kApplying = 2,
  kCompleted = 3,
  kFailed = 4,
  kRolledBack = 5,
};
std::string_view ToString(UpdateStage s);
Result<UpdateStage> ParseUpdateStage(std::string_view s);

// How a reported update attempt ended (names shared with the server's history).
enum class FailureOutcome : uint8_t {
  kFailed = 0,      // failed before activation; the active model was not touched
  kRolledBack = 1,  // activated, then rolled back
  kFallback = 2,    // the patch did not apply; the full file is downloaded instead (update goes on)
  kRefused = 3,     // the version failed here --max-attempts times: the agent refuses it
};
std::string_view ToString(FailureOutcome o);  // "failed", "rolled_back", "fallback", "refused"
Result<FailureOutcome> ParseFailureOutcome(std::string_view s);

// Where in the agent's pipeline the attempt ended.
enum class FailureStage : uint8_t {
  kUnknown = 0,
  kDownload = 1,
  kPatch = 2,
  kVerify = 3,
  kBackup = 4,
  kActivate = 5,
  kHealthCheck = 6,
  kPreflight = 7,  // before anything was fetched (refused, no disk space)
};
std::string_view ToString(FailureStage s);  // "unknown", "download", ..., "health_check"
Result<FailureStage> ParseFailureStage(std::string_view s);

// One failed attempt (or patch fallback), sent until a heartbeat carrying it got a 200. The
// server stores each (device, id) once, so re-sending after a lost reply is harmless.
struct FailureReport {
  std::string id;  // unique per device, at most 64 characters
  std::string model_id;
  std::string version;
  std::string campaign_id;  // from the assignment; may be empty
  FailureOutcome outcome = FailureOutcome::kFailed;
  FailureStage stage = FailureStage::kUnknown;
  bool local = false;              // the device's fault (disk, permissions, missing tool)
  std::optional<int> exit_status;  // health check exit status, when it ran to an exit
  std::string error;               // what happened, bounded
  std::string output;              // tail of the health check's stdout and stderr, bounded
  int64_t at_ms = 0;               // when, by the device's clock (Unix ms); 0 unknown
};

struct Platform {
  std::string os;    // "linux"
  std::string arch;  // "x86_64", "aarch64", ...
  uint32_t cpu_count = 0;
};

struct InstalledModel {
  std::string model_id;
  std::string version;
  std::string sha256;  // lower-case hex
};

struct UpdateProgress {
  std::string model_id;
  std::string version;  // the version being installed
  UpdateStage stage = UpdateStage::kIdle;
  uint64_t bytes_done = 0;   // bytes received for this update so far
  uint64_t bytes_total = 0;  // size of what is being downloaded (patch or full), 0 if unknown
  bool via_patch = false;    // true when the update is rebuilt from a patch
  std::string error;         // last error text (failed / rolled_back); bounded by the agent
  // failed / rolled_back for a reason local to the device: not a failure of the version.
  bool local_fault = false;
};

// The reference agent's failure report: "last_update_result": "success" | {"failed":{"error"}}.
struct LastUpdateResult {
  bool failed = false;
  std::string error;
};

struct HeartbeatRequest {
  std::optional<std::string> current_model;          // reference field
  std::optional<std::string> current_model_version;  // reference field
  std::string status = "online";
  std::vector<InstalledModel> models;
  std::optional<UpdateProgress> update;
  std::string agent_version;
  std::optional<Platform> platform;
  // Absent: an agent that does not report attempts (the server then records failures from the
  // `update` block). Present (possibly empty): every failure arrives here.
  std::optional<std::vector<FailureReport>> reports;
  std::vector<int64_t> cleared_refusals;  // ids of RefusalClearances the agent has applied
  std::optional<LastUpdateResult> last_update_result;  // reference field
  // Sent on the agent's first heartbeat and when it changed; absent: unchanged.
  std::optional<Inventory> inventory;
};

// What the device should run; absent when it has no assignment.
struct Assignment {
  std::string model_id;
  std::string version;
  std::string sha256;
  uint64_t size_bytes = 0;
  std::string campaign_id;
  // The version's signed release (DSSE envelope, docs/format/release-metadata.md) as compact
  // JSON text, carried as the object "release"; empty when the version has none. Not checked
  // here: the agent verifies it (crypto/release_verify.hpp).
  std::string release;
  // The operator allowed this version's input/output signature to differ from the version it
  // replaces (campaign override); otherwise a model-aware health check refuses a changed one.
  bool signature_change_allowed = false;
  // The version's golden check file (inference/golden.hpp), fetched from
  // /api/v1/models/{id}/versions/{ver}/golden; empty when it has none.
  std::string golden_sha256 = {};
  uint64_t golden_size = 0;
};

// An operator cleared the refusal of `version`: the agent resets its failure count for it and
// acknowledges the id in `cleared_refusals`; the server repeats it until then.
struct RefusalClearance {
  int64_t id = 0;
  std::string model_id;
  std::string version;
};

struct HeartbeatResponse {
  std::optional<Assignment> assignment;
  uint32_t poll_interval_seconds = 0;  // 0: keep the agent's own setting
  std::vector<RefusalClearance> clear_refusals;
};

std::string ToJson(const HeartbeatRequest& r);
// kInvalidArgument with a readable message on malformed JSON or wrong types. An empty body is a
// timestamp-only heartbeat (all fields absent).
Result<HeartbeatRequest> ParseHeartbeatRequest(std::string_view body);

// Response JSON carries the reference fields too: {"status":"ok","assigned_model",
// "assigned_model_version", "assignment":{...}|null, "poll_interval_seconds"}.
std::string ToJson(const HeartbeatResponse& r);
Result<HeartbeatResponse> ParseHeartbeatResponse(std::string_view body);

}  // namespace oxide::protocol
