#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/health_check.hpp"
#include "agent/transitions.hpp"
#include "agent/update_record.hpp"
#include "base/clock.hpp"
#include "base/file_system.hpp"
#include "base/result.hpp"
#include "http_client/http.hpp"

namespace oxide::crypto {
class EncryptionKey;
}  // namespace oxide::crypto

namespace oxide::agent {

// Services the pipeline uses; all must outlive it.
struct PipelineDeps {
  FileSystem& fs;
  Downloader& downloader;
  HealthChecker& health;
  Clock& clock;  // wall time for the local-failure backoff (persisted as Unix milliseconds)
};

struct PipelineOptions {
  std::string control_plane;  // base URL, no trailing '/'
  std::string device_id;
  std::string device_secret;  // sent as `Authorization: Bearer` with every download; may be empty
  std::string model_dir;      // the active file is <model_dir>/<model_id>
  std::string state_dir;      // per-model files live in <state_dir>/<model_id>/
  uint32_t max_attempts = 3;  // poison pill: failures before a version is refused
  uint32_t max_local_failures = 5;   // local errors in a row before the update is given up
  uint32_t max_health_attempts = 3;  // health checks started (crashes too) before unhealthy
  // fsync the partial download this often: a kill or power loss re-fetches at most this much
  // (1 MiB is about 30 s of an LTE Cat-M1 link).
  uint64_t sync_every_bytes = 1u << 20;
  // Largest zstd window a patch may need (delta::ApplyLimits); more is kResourceExhausted,
  // which falls back to the full download. The agent sets it from --max-window-mb.
  uint64_t max_window_bytes = uint64_t{128} << 20;
  // Updates that failed for a local reason (activation into a read-only dir, disk full) are tried
  // again after local_retry_base·2^(failures-1), at most local_retry_cap, without downloading
  // again what the device already holds verified.
  Clock::Duration local_retry_base = std::chrono::seconds(30);
  Clock::Duration local_retry_cap = std::chrono::hours(1);
  // Transfers in a row that bring no byte past the resume offset before the download is given
  // up as the server's fault (a truncated stored copy); counted against the version.
  uint32_t max_stalled_downloads = 5;
  // Fetch the target's golden file (issue #11) and hand it to the health check. Only
  // builtin:inference reads it (the agent sets this for that check alone): other agents would
  // download up to 64 MiB per update for nothing.
  bool fetch_golden = false;
  // Free bytes on the file system of a directory; empty: FreeDiskBytes (statvfs). Tests fake it.
  std::function<Result<uint64_t>(const std::string& dir)> free_disk_bytes;
  std::function<bool()> should_stop;  // may be empty
  // Installed models are kept encrypted with this key (`--encryption-key-file`; docs/agent.md
  // "Encryption at rest"); null: plain files. `at_rest_key_file` is its path, for health checks.
  std::shared_ptr<const crypto::EncryptionKey> at_rest_key;
  std::string at_rest_key_file;
  // During downloads; may be empty. May call UpdatePipeline::Supersede() (e.g. after a progress
  // heartbeat whose reply no longer assigns the target).
  std::function<void(const UpdateRecord&)> on_progress;
  // Called once per attempt before the active model is touched (leaving `verified`), so the
  // caller can re-check the assignment with the server and call Supersede(); may be empty.
  std::function<void(const UpdateRecord&)> recheck_assignment;
  std::function<void(const std::string&)> log;  // human-readable lines; may be empty
  // Unix ms by the device's clock, stamped on failure reports; may be empty (then 0).
  std::function<int64_t()> now_ms;
  // Signed releases: checks a new assignment (its `release` envelope, model, version, hash,
  // size, expiry) before anything is fetched, given the highest release counter committed for
  // the model; returns the release's counter, or the refusal (crypto/release_verify.hpp). Empty:
  // unsigned releases are accepted (--allow-unsigned-releases).
  std::function<Result<uint64_t>(const std::string& model_id, const ModelRef& assignment,
                                 uint64_t highest_counter)>
      verify_release;
};

// Files of one model. `active` is what the user's application reads; it is only ever replaced
// by rename(2), so it is always a complete file.
struct ModelPaths {
  std::string active;   // <model_dir>/<id>
  std::string dir;      // <state_dir>/<id>
  std::string record;   // dir/state.json    (UpdateRecord, atomically replaced)
  std::string partial;  // dir/partial       (payload being downloaded: patch or full file)
  std::string staging;  // dir/staging       (the rebuilt candidate model)
  std::string backup;   // dir/backup        (the previous active model, for rollback)
  std::string kept;     // dir/kept          (a verified staged model kept across local retries)
  // dir/release-counter: the highest committed release counter (decimal), never lowered. Kept
  // apart from state.json so rollback protection survives a state file that is lost or corrupt.
  std::string counter_floor;
  // dir/golden: the target's golden check file (issue #11), fetched with the model
  std::string golden;
  static ModelPaths For(const PipelineOptions& o, const std::string& model_id);
};

// What OnAssignment did with an assignment.
enum class AssignmentDecision : uint8_t {
  kUpToDate = 0,    // already installed
  kStarted = 1,     // a new update started (state: downloading)
  kContinuing = 2,  // this update is already in hand
  kRefused = 3,     // poison pill: the version failed max_attempts times
  kSuperseded = 4,  // the update in hand was abandoned; call Run(), then assign again
  kBusy = 5,        // an activated update must finish (commit or roll back) first
  kBackingOff = 6,  // it failed for a local reason; the next attempt waits (see LocalRetry)
};
std::string_view ToString(AssignmentDecision d);

// The OTA pipeline of one model: runs the state handlers, asks the transition table for the next
// state, and persists the record atomically after every transition. After a crash at any point,
// Open() + Run() resumes or rolls back; the active file is always a complete, verified model.
// Not thread-safe.
class UpdatePipeline {
 public:
  // Loads <state_dir>/<model_id>/state.json (a missing file is a fresh record; an unreadable one
  // is moved to state.json.broken and replaced by a fresh record). Creates the directories.
  static Result<std::unique_ptr<UpdatePipeline>> Open(const std::string& model_id,
                                                      PipelineDeps deps, PipelineOptions options);

  const UpdateRecord& record() const { return record_; }
  const ModelPaths& paths() const { return paths_; }

  // Considers an assignment from the server. kResourceExhausted when the disk lacks room for the
  // new model (the installed model is not touched; reported as "local: not enough disk space");
  // kIo when the record cannot be saved.
  Result<AssignmentDecision> OnAssignment(const ModelRef& assignment);

  // Runs handlers until the pipeline is idle. Returns early with kUnavailable (download
  // interrupted: resume later), kCancelled (stop requested) or the error of a handler that could
  // not finish (e.g. kIo); the persisted state then still describes the truth.
  Status Run();

  // The server no longer assigns the target (withdrawn or replaced). Before activation the
  // update is abandoned at the next step (a download in progress stops at its next chunk) with
  // the kSuperseded event; once the model is activated the update finishes normally.
  void Supersede(const std::string& why);

  // A heartbeat carrying `error_text` reached the server. A post-commit note (e.g. "committed
  // via full-download fallback: ...") that was carried is cleared. Errors: kIo (record not saved).
  Status NoteReported(const std::string& error_text);

  // The server acknowledged these failure reports (a heartbeat carrying them got a 200): they
  // are not sent again. Unknown ids are ignored. Errors: kIo (record not saved).
  Status AckReports(const std::vector<std::string>& ids);

  // An operator cleared the refusal of `version`: its failure count starts again from zero.
  // Returns whether a refusal (or count) was cleared. Errors: kIo (record not saved).
  Result<bool> ClearRefusal(const std::string& version);

  // Called with every transition taken (tests check table coverage with it).
  void set_transition_observer(std::function<void(const Transition&)> f) {
    observer_ = std::move(f);
  }

 private:
  UpdatePipeline(std::string model_id, PipelineDeps deps, PipelineOptions options);
  Status Apply(OtaEvent event);
  Status Persist();
  // Reads paths_.counter_floor into counter_floor_ and raises the record's counter to it.
  Status ReadCounterFloor();
  Result<OtaEvent> RunHandler();
  void Log(const std::string& line) const;
  void SetError(std::string message);
  void CountFailure();
  // Queues a report about `about` with last_error as its text, for the server (sent with every
  // heartbeat until acknowledged); the caller persists the record.
  void QueueReport(const ModelRef& about, protocol::FailureOutcome outcome,
                   protocol::FailureStage stage, bool local);
  bool Exists(const std::string& path);
  bool BeforeActivation() const;
  Result<OtaEvent> OnHandlerError(Status st);
  AssignmentDecision RefuseRelease(const ModelRef& a, const Status& why);
  Result<std::optional<ModelRef>> ActiveModel();
  Status ApplyPatch();
  Result<OtaEvent> RestartDownload(bool full_only, OtaEvent event);
  void ResetDownloadProgress();
  Result<uint64_t> FreeBytes(const std::string& dir) const;
  void NoteLocalFault();
  Result<bool> ReuseKeptModel();
  void KillOrphanedHealthCheck();
  const crypto::EncryptionKey* AtRestKey() const { return options_.at_rest_key.get(); }

  // Handlers, one per state (pipeline_download.cpp, pipeline_install.cpp).
  Result<OtaEvent> Download();
  // Fetches the target's golden file into paths_.golden (kept when it already holds it);
  // nullopt when done, else the event that ends the download attempt.
  Result<std::optional<OtaEvent>> FetchGolden();
  Result<OtaEvent> BuildStaging();
  Result<OtaEvent> VerifyStaging();
  Result<OtaEvent> BackUp();
  Result<OtaEvent> Switch();
  Result<OtaEvent> CheckHealth();
  Result<OtaEvent> RollBack();
  Result<OtaEvent> CleanUp();

  PipelineDeps deps_;
  PipelineOptions options_;
  ModelPaths paths_;
  UpdateRecord record_;
  uint64_t counter_floor_ = 0;  // what paths_.counter_floor holds
  std::function<void(const Transition&)> observer_;
  bool superseded_ = false;  // see Supersede(); not persisted: the server is asked again
  friend class PayloadSink;
};

}  // namespace oxide::agent
