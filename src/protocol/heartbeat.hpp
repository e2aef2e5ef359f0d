#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

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
};

struct HeartbeatRequest {
  std::optional<std::string> current_model;          // reference field
  std::optional<std::string> current_model_version;  // reference field
  std::string status = "online";
  std::vector<InstalledModel> models;
  std::optional<UpdateProgress> update;
  std::string agent_version;
};

// What the device should run; absent when it has no assignment.
struct Assignment {
  std::string model_id;
  std::string version;
  std::string sha256;
  uint64_t size_bytes = 0;
  std::string campaign_id;
};

struct HeartbeatResponse {
  std::optional<Assignment> assignment;
  uint32_t poll_interval_seconds = 0;  // 0: keep the agent's own setting
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
