#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/ota_state.hpp"
#include "base/result.hpp"
#include "protocol/heartbeat.hpp"

namespace oxide::agent {

// A model version with its identity.
struct ModelRef {
  std::string version;
  std::string sha256;  // lower-case hex
  uint64_t size_bytes = 0;
  std::string campaign_id;
  // Counter of the signed release this version was verified against (0: unsigned).
  uint64_t release_counter = 0;
  // The assignment's signed release envelope (JSON text, "" none); checked on assignment, not
  // persisted.
  std::string release{};
  // The version's golden check file ("" none; issue #11), fetched with the model, and whether
  // the campaign allows its input/output signature to differ from the version it replaces.
  std::string golden_sha256{};
  uint64_t golden_size = 0;
  bool signature_change_allowed = false;
};

// How the payload of the update in hand is being fetched (persisted for resume).
struct DownloadProgress {
  bool full_only = false;      // patch fallback: request without base headers
  bool via_patch = false;      // the payload in `partial` is a patch
  std::string etag;            // strong validator of the payload, for If-Range
  std::string payload_sha256;  // expected SHA-256 of a full-file payload (server header)
  uint64_t bytes_done = 0;     // payload bytes received (durable ones: the partial file's size)
  uint64_t bytes_total = 0;    // payload size, 0 when unknown
  // Prefix of `partial` known durable (fsynced, then persisted). A resume truncates `partial` to
  // it: bytes past it may be garbage or another payload's after a power loss.
  uint64_t bytes_synced = 0;
  std::string fallback_reason;  // why the patch was given up for a full download (reported)
  // Transfers in a row that got a 2xx answer but not one body byte past the resume offset:
  // the server's copy ends there (a truncated blob), so resuming cannot help.
  uint32_t stalled_attempts = 0;
};

// Backoff after updates that failed for a lasting local reason (a read-only model dir, a full
// disk): persisted, so neither the next assignment nor a restart starts the retries afresh.
struct LocalRetry {
  std::string version;  // the target that failed locally ("" = none)
  std::string sha256;
  uint32_t failures = 0;           // local-fault outcomes of that target in a row
  int64_t not_before_unix_ms = 0;  // no new attempt before this wall-clock time
};

// A running health check's process group, saved when the check starts so that the next start
// can kill what a killed agent left running. start_ticks and boot_id tell it from a later process
// that reuses the id.
struct HealthGroup {
  int64_t pgid = 0;
  uint64_t start_ticks = 0;  // the leader's start time (/proc/<pid>/stat, clock ticks since boot)
  std::string boot_id;       // /proc/sys/kernel/random/boot_id
};

// How the last update ended; reported in heartbeats.
enum class Outcome : uint8_t { kNone = 0, kCommitted = 1, kRolledBack = 2, kFailed = 3 };
std::string_view ToString(Outcome o);
Result<Outcome> ParseOutcome(std::string_view s);

// Everything the agent knows about one model, persisted atomically as versioned JSON at
// `<state-dir>/<model_id>/state.json` after every transition.
struct UpdateRecord {
  static constexpr int kFormatVersion = 1;

  std::string model_id;
  OtaState state = OtaState::kIdle;
  std::optional<ModelRef> installed;  // what the active file is (committed)
  std::optional<ModelRef> target;     // the update in hand
  std::optional<ModelRef> previous;   // what was active when the update started (rollback)
  DownloadProgress download;
  // Poison pill: failed attempts of `poison_version` (download, verify, health all count).
  std::string poison_version;
  uint32_t poison_failures = 0;
  // The update in hand failed for a local reason (disk, I/O, spawn): not counted as poison.
  bool local_fault = false;
  uint32_t local_failures = 0;   // handler errors in a row without progress (kIo, disk full, ...)
  uint32_t health_attempts = 0;  // health checks started for the target (a crash counts too)
  std::optional<HealthGroup> health_group;  // a health check is (or was, at a crash) running
  LocalRetry local_retry;
  Outcome last_outcome = Outcome::kNone;
  std::string last_version;  // the version last_outcome / last_error are about
  // Bounded. After a commit it holds a note for the server (e.g. the full-download fallback)
  // until a heartbeat has carried it.
  std::string last_error;
  bool last_local_fault = false;  // last_outcome was a local fault (not the version's)
  // The campaign whose assignment of the poisoned version was last refused and reported: a
  // later campaign for the same version gets its own refusal report.
  std::string refusal_campaign;
  // The failure of the update in hand, set when it fails: where, and the health check's exit
  // status and output.
  protocol::FailureStage failure_stage = protocol::FailureStage::kUnknown;
  std::optional<int> failure_exit_status;
  std::string failure_output;
  // Failure and fallback reports not yet acknowledged by the server (a heartbeat carrying them
  // got a 200). Persisted, so a crash or an outage loses none; bounded (kMaxPendingReports: the
  // oldest, i.e. the first causes, are kept).
  std::vector<protocol::FailureReport> pending_reports;
  // Highest signed-release counter ever committed for this model: a release with a lower one is
  // a rollback and refused. Raised with the commit, in the same atomic record write.
  uint64_t highest_release_counter = 0;
};

inline constexpr size_t kMaxPendingReports = 32;

std::string EncodeUpdateRecord(const UpdateRecord& r);
// kCorrupt on malformed JSON or missing fields, kUnsupported on another format_version.
Result<UpdateRecord> DecodeUpdateRecord(std::string_view json);

}  // namespace oxide::agent
