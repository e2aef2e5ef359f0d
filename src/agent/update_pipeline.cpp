#include "agent/update_pipeline.hpp"

#include <algorithm>
#include <charconv>

#include "agent/backoff.hpp"
#include "agent/model_at_rest.hpp"
#include "agent/model_check.hpp"
#include "agent/process_group.hpp"
#include "base/file_util.hpp"
#include "base/sha256.hpp"

namespace oxide::agent {

namespace {
constexpr size_t kMaxErrorText = 1024;
constexpr size_t kMaxRecordSize = 1 << 20;
constexpr size_t kMaxCounterFloorFile = 64;
}  // namespace

std::string_view ToString(AssignmentDecision d) {
  switch (d) {
    case AssignmentDecision::kUpToDate:
      return "up_to_date";
    case AssignmentDecision::kStarted:
      return "started";
    case AssignmentDecision::kContinuing:
      return "continuing";
    case AssignmentDecision::kRefused:
      return "refused";
    case AssignmentDecision::kSuperseded:
      return "superseded";
    case AssignmentDecision::kBusy:
      return "busy";
    case AssignmentDecision::kBackingOff:
      return "backing_off";
  }
  return "invalid";
}

ModelPaths ModelPaths::For(const PipelineOptions& o, const std::string& model_id) {
  ModelPaths p;
  p.active = o.model_dir + "/" + model_id;
  p.dir = o.state_dir + "/" + model_id;
  p.record = p.dir + "/state.json";
  p.partial = p.dir + "/partial";
  p.staging = p.dir + "/staging";
  p.backup = p.dir + "/backup";
  p.kept = p.dir + "/kept";
  p.counter_floor = p.dir + "/release-counter";
  p.golden = p.dir + "/golden";
  return p;
}

UpdatePipeline::UpdatePipeline(std::string model_id, PipelineDeps deps, PipelineOptions options)
    : deps_(deps), options_(std::move(options)), paths_(ModelPaths::For(options_, model_id)) {
  record_.model_id = std::move(model_id);
}

Result<std::unique_ptr<UpdatePipeline>> UpdatePipeline::Open(const std::string& model_id,
                                                             PipelineDeps deps,
                                                             PipelineOptions options) {
  std::unique_ptr<UpdatePipeline> p(new UpdatePipeline(model_id, deps, std::move(options)));
  OXIDE_RETURN_IF_ERROR(deps.fs.CreateDirs(p->options_.model_dir));
  OXIDE_RETURN_IF_ERROR(deps.fs.CreateDirs(p->paths_.dir));
  auto text = deps.fs.ReadFile(p->paths_.record, kMaxRecordSize);
  if (!text.ok() && text.status().code() != ErrorCode::kNotFound) return text.status();
  if (text.ok()) {
    auto rec = DecodeUpdateRecord(*text);
    if (rec.ok() && rec->model_id == model_id) {
      p->record_ = std::move(rec).value();
    } else {
      // Never brick the updater on a bad state file (RAUC): keep it for inspection, start fresh.
      p->Log("state file " + p->paths_.record + " unreadable (" + rec.status().ToString() +
             "); starting fresh");
      OXIDE_RETURN_IF_ERROR(deps.fs.Rename(p->paths_.record, p->paths_.record + ".broken"));
    }
  }
  OXIDE_RETURN_IF_ERROR(p->ReadCounterFloor());
  p->KillOrphanedHealthCheck();
  return p;
}

// The agent was killed while a health check ran: the check's processes were re-parented away
// from it and run on. Kill them before anything is retried (the check itself runs again).
void UpdatePipeline::KillOrphanedHealthCheck() {
  if (!record_.health_group) return;
  int killed = KillProcessGroupIfOurs(*record_.health_group);
  if (killed > 0) {
    Log("killed " + std::to_string(killed) + " process(es) of health-check group " +
        std::to_string(record_.health_group->pgid) + " left running by the previous agent");
  }
  record_.health_group.reset();
  Status saved = Persist();  // best effort: a second kill attempt after a crash is harmless
  static_cast<void>(saved);
}

Result<uint64_t> UpdatePipeline::FreeBytes(const std::string& dir) const {
  return options_.free_disk_bytes ? options_.free_disk_bytes(dir) : FreeDiskBytes(dir);
}

// The update in hand ended for a local reason (CleanUp of a local fault): the next attempt of the
// same target waits, doubling per failure up to the cap, and the report says so.
void UpdatePipeline::NoteLocalFault() {
  const ModelRef& t = *record_.target;
  LocalRetry& r = record_.local_retry;
  if (r.version != t.version || r.sha256 != t.sha256) r = LocalRetry{t.version, t.sha256};
  ++r.failures;
  Clock::Duration delay =
      BackoffDelay(r.failures, options_.local_retry_base, options_.local_retry_cap, 1.0);
  int64_t delay_ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
  r.not_before_unix_ms = deps_.clock.UnixMillis() + delay_ms;
  std::string reason = record_.last_error;
  if (!reason.starts_with("local: ")) reason = "local: " + reason;
  std::string suffix = " (local failure " + std::to_string(r.failures) + " of " + t.version +
                       "; next attempt in " + std::to_string(delay_ms / 1000) + " s)";
  if (reason.size() + suffix.size() > kMaxErrorText) reason.resize(kMaxErrorText - suffix.size());
  SetError(reason + suffix);
}

void UpdatePipeline::Log(const std::string& line) const {
  if (options_.log) options_.log(record_.model_id + ": " + line);
}

void UpdatePipeline::SetError(std::string message) {
  if (message.size() > kMaxErrorText) message.resize(kMaxErrorText);
  Log(message);
  record_.last_error = std::move(message);
}

void UpdatePipeline::CountFailure() {
  const std::string& v = record_.target->version;
  if (record_.poison_version != v) {
    record_.poison_version = v;
    record_.poison_failures = 0;
  }
  ++record_.poison_failures;
}

bool UpdatePipeline::Exists(const std::string& path) { return deps_.fs.FileSize(path).ok(); }

bool UpdatePipeline::BeforeActivation() const {
  switch (record_.state) {
    case OtaState::kDownloading:
    case OtaState::kDownloaded:
    case OtaState::kStaged:
    case OtaState::kVerified:
      return true;
    default:
      return false;
  }
}

void UpdatePipeline::Supersede(const std::string& why) {
  if (!BeforeActivation() || superseded_) return;
  Log(why + "; abandoning " + record_.target->version);
  superseded_ = true;
}

Status UpdatePipeline::NoteReported(const std::string& error_text) {
  if (record_.state != OtaState::kIdle || record_.last_outcome != Outcome::kCommitted ||
      error_text.empty() || record_.last_error != error_text) {
    return Status::Ok();
  }
  Log("reported to the control plane: " + error_text);
  record_.last_error.clear();
  return Persist();
}

// What the active file is: the installed model when the record knows it, else an unknown file
// adopted by its hash (factory-installed, or the state file was lost); nullopt when absent.
Result<std::optional<ModelRef>> UpdatePipeline::ActiveModel() {
  auto size = deps_.fs.FileSize(paths_.active);
  if (!size.ok()) {
    if (size.status().code() == ErrorCode::kNotFound) return std::optional<ModelRef>();
    return size.status();
  }
  if (record_.installed) return record_.installed;
  // A plaintext file (installed before --encryption-key-file) is adopted by its plaintext hash;
  // as a patch base it fails to decrypt, so the next update falls back to the full download and
  // installs the model encrypted.
  if (AtRestKey() != nullptr && LooksEncrypted(paths_.active)) {
    auto plain = HashEncryptedModel(paths_.active, *AtRestKey(), options_.should_stop);
    const ErrorCode code = plain.ok() ? ErrorCode::kOk : plain.status().code();
    if (code == ErrorCode::kCorrupt || code == ErrorCode::kFailedPrecondition) {
      // Damaged, or encrypted with another key (the key file was replaced): nothing can use it,
      // and refusing every assignment would refuse the full download that replaces it. Adopted
      // as a model nobody knows (no SHA-256: no patch base, no check on rollback).
      Log("the active model does not decrypt (" + plain.status().ToString() +
          "); the next update downloads the full file");
      return std::optional<ModelRef>(ModelRef{"", "", *size, ""});
    }
    if (!plain.ok()) return std::move(plain).status().WithContext("hashing the active model");
    return std::optional<ModelRef>(ModelRef{"", ToHex(plain->sha256), plain->size, ""});
  }
  auto digest = HashFile(paths_.active, options_.should_stop);
  if (!digest.ok()) return std::move(digest).status().WithContext("hashing the active model");
  return std::optional<ModelRef>(ModelRef{"", ToHex(*digest), *size, ""});
}

// A handler could not finish for a local reason (disk full, I/O error, ...). The error is
// reported (heartbeat) and the handler runs again later; after max_local_failures in a row an
// update that has not touched the active model is given up without counting against the version.
Result<OtaEvent> UpdatePipeline::OnHandlerError(Status st) {
  if (st.code() == ErrorCode::kCancelled && superseded_ && BeforeActivation()) {
    superseded_ = false;
    return OtaEvent::kSuperseded;
  }
  if (st.code() == ErrorCode::kCancelled || st.code() == ErrorCode::kUnavailable) return st;
  ++record_.local_failures;
  SetError("local: " + std::string(ToString(record_.state)) + ": " + st.ToString());
  if (record_.local_failures >= options_.max_local_failures && BeforeActivation()) {
    record_.local_fault = true;
    SetError("local: giving up " + record_.target->version + " after " +
             std::to_string(record_.local_failures) + " local errors: " + st.ToString());
    return OtaEvent::kLocalFault;
  }
  // Best effort: the error is reported from memory either way, and the disk may be the problem.
  Status saved = Persist();
  static_cast<void>(saved);
  return st;
}

// The assignment's release did not verify: reported once per version and reason (each poll
// asks again), never counted against the version (the bytes were not even fetched).
AssignmentDecision UpdatePipeline::RefuseRelease(const ModelRef& a, const Status& why) {
  std::string message = "release refused: " + why.message();
  if (message.size() > kMaxErrorText) message.resize(kMaxErrorText);
  if (record_.last_error == message && record_.last_version == a.version) {
    return AssignmentDecision::kRefused;
  }
  record_.last_outcome = Outcome::kFailed;
  record_.last_version = a.version;
  record_.last_error = std::move(message);
  record_.last_local_fault = false;
  QueueReport(a, protocol::FailureOutcome::kFailed, protocol::FailureStage::kPreflight, false);
  Log(record_.last_error);
  Status saved = Persist();  // best effort: the refusal is repeated at the next poll anyway
  static_cast<void>(saved);
  return AssignmentDecision::kRefused;
}

Status UpdatePipeline::ReadCounterFloor() {
  auto text = deps_.fs.ReadFile(paths_.counter_floor, kMaxCounterFloorFile);
  if (!text.ok()) {
    if (text.status().code() == ErrorCode::kNotFound) return Status::Ok();
    return text.status();
  }
  std::string_view digits = *text;
  while (!digits.empty() && digits.back() == '\n') digits.remove_suffix(1);
  uint64_t floor = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), floor);
  if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
    // Written atomically, so only tampering gets here; state.json's counter still counts.
    Log("release counter file " + paths_.counter_floor + " unreadable; ignoring it");
    return Status::Ok();
  }
  counter_floor_ = floor;
  record_.highest_release_counter = std::max(record_.highest_release_counter, floor);
  return Status::Ok();
}

Status UpdatePipeline::Persist() {
  // The floor first: a crash between the two writes leaves it at least as high as state.json.
  if (record_.highest_release_counter > counter_floor_) {
    OXIDE_RETURN_IF_ERROR(WriteFileAtomically(
        deps_.fs, paths_.counter_floor, std::to_string(record_.highest_release_counter) + "\n"));
    counter_floor_ = record_.highest_release_counter;
  }
  return WriteFileAtomically(deps_.fs, paths_.record, EncodeUpdateRecord(record_));
}

namespace {

// Where an update that fails in `from` failed (for the report).
protocol::FailureStage FailureStageOf(OtaState from, bool via_patch) {
  using protocol::FailureStage;
  switch (from) {
    case OtaState::kDownloading:
      return FailureStage::kDownload;
    case OtaState::kDownloaded:
      return via_patch ? FailureStage::kPatch : FailureStage::kVerify;
    case OtaState::kStaged:
      return FailureStage::kVerify;
    case OtaState::kVerified:
      return FailureStage::kBackup;
    case OtaState::kBackedUp:
      return FailureStage::kActivate;
    case OtaState::kActivated:
      return FailureStage::kHealthCheck;
    default:
      return FailureStage::kUnknown;
  }
}

}  // namespace

Status UpdatePipeline::Apply(OtaEvent event) {
  OXIDE_ASSIGN_OR_RETURN(OtaState next, NextState(record_.state, event));
  Transition t{record_.state, event, next};
  if (next == OtaState::kFailed || next == OtaState::kRollingBack) {
    record_.failure_stage = FailureStageOf(t.from, record_.download.via_patch);
  }
  record_.state = next;
  if (event != OtaEvent::kLocalFault) record_.local_failures = 0;  // progress
  if (Status st = Persist(); !st.ok()) {
    record_.state = t.from;  // memory follows the disk
    return st;
  }
  if (observer_) observer_(t);
  return Status::Ok();
}

Result<AssignmentDecision> UpdatePipeline::OnAssignment(const ModelRef& assigned) {
  ModelRef a = assigned;
  if (record_.state != OtaState::kIdle) {
    const ModelRef& t = *record_.target;
    if (t.version == a.version && t.sha256 == a.sha256) {
      superseded_ = false;  // assigned again: the latest word of the server wins
      if (record_.state == OtaState::kDownloading &&
          (t.golden_sha256 != a.golden_sha256 || t.golden_size != a.golden_size)) {
        // An operator replaced the golden file (e.g. the old one never matched its hash): the
        // download fetches and checks the new one. Once downloaded, the update finishes with the
        // golden file it holds; the replacement applies to the next device that fetches it.
        Log("the golden file of " + a.version + " was replaced");
        record_.target->golden_sha256 = a.golden_sha256;
        record_.target->golden_size = a.golden_size;
        OXIDE_RETURN_IF_ERROR(Persist());
      }
      return AssignmentDecision::kContinuing;
    }
    switch (record_.state) {
      case OtaState::kDownloading:
      case OtaState::kDownloaded:
      case OtaState::kStaged:
      case OtaState::kVerified:
        Log("assignment changed to " + a.version + "; abandoning " + t.version);
        OXIDE_RETURN_IF_ERROR(Apply(OtaEvent::kSuperseded));
        return AssignmentDecision::kSuperseded;
      default:
        return AssignmentDecision::kBusy;
    }
  }
  if (record_.installed && record_.installed->version == a.version &&
      record_.installed->sha256 == a.sha256 && Exists(paths_.active)) {
    return AssignmentDecision::kUpToDate;
  }
  if (record_.poison_version == a.version && record_.poison_failures >= options_.max_attempts) {
    std::string message = "version " + a.version + " refused: failed " +
                          std::to_string(record_.poison_failures) + " times";
    // Reported once per campaign (saved, so the report survives a restart).
    if (record_.last_error != message || record_.refusal_campaign != a.campaign_id) {
      record_.last_outcome = Outcome::kFailed;
      record_.last_version = a.version;
      record_.last_error = std::move(message);
      record_.last_local_fault = false;
      record_.refusal_campaign = a.campaign_id;
      QueueReport(a, protocol::FailureOutcome::kRefused, protocol::FailureStage::kPreflight, false);
      OXIDE_RETURN_IF_ERROR(Persist());
    }
    return AssignmentDecision::kRefused;
  }
  // Signed releases: nothing is fetched, adopted or counted before the release verifies. The
  // hash it vouches for is the target's, so the staged file is checked against it (Verify).
  if (options_.verify_release) {
    auto counter = options_.verify_release(record_.model_id, a, record_.highest_release_counter);
    if (!counter.ok()) return RefuseRelease(a, counter.status());
    a.release_counter = *counter;
  }
  // Rollback and patching need to know what the active file is; an unknown one is adopted.
  auto active = ActiveModel();
  if (!active.ok()) {
    SetError("cannot read the active model: " + active.status().ToString());
    return active.status();
  }
  if (*active && (*active)->version.empty() && (*active)->sha256 == a.sha256) {
    Log("the active file already is " + a.version + "; adopting it as installed");
    record_.installed = a;
    record_.highest_release_counter = std::max(record_.highest_release_counter, a.release_counter);
    record_.last_error.clear();
    OXIDE_RETURN_IF_ERROR(Persist());
    return AssignmentDecision::kUpToDate;
  }
  // A lasting local fault (e.g. a read-only model dir) made the last attempt fail: wait before
  // the next one instead of spinning through download and rollback every poll.
  const bool retrying = record_.local_retry.version == a.version &&
                        record_.local_retry.sha256 == a.sha256 && record_.local_retry.failures > 0;
  if (retrying) {
    int64_t now = deps_.clock.UnixMillis();
    int64_t cap_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(options_.local_retry_cap).count();
    // A wall clock set back must not stretch the wait beyond the cap.
    int64_t& not_before = record_.local_retry.not_before_unix_ms;
    if (not_before - now > cap_ms) not_before = now + cap_ms;
    if (now < not_before) return AssignmentDecision::kBackingOff;
  }
  if (!retrying) {
    // Another target: what was kept for an earlier one is of no use, and takes room (freed
    // before the preflight below counts the free space).
    if (Exists(paths_.kept)) OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.kept));
    record_.local_retry = LocalRetry{};
  }
  // Preflight, before anything is touched: room for the new model (staging; a full download
  // becomes staging by rename, or, encrypted at rest, is encrypted into staging while its
  // plaintext is still in `partial`: both at once). The backup is a hard link (BackUp() checks
  // for room itself when it has to copy), and a patch's size is checked once the server announced
  // it. A model kept verified from a local failure becomes staging as is.
  const bool have_kept = retrying && Exists(paths_.kept);
  uint64_t need = have_kept ? 0 : a.size_bytes;
  if (!have_kept && AtRestKey() != nullptr) need += EncryptedModelSize(a.size_bytes);
  auto free = FreeBytes(paths_.dir);
  if (free.ok() && *free < need) {
    std::string message = "local: not enough disk space for " + a.version + ": need " +
                          std::to_string(need) + " bytes, have " + std::to_string(*free);
    // Said once per episode (each poll asks again until there is room).
    const bool first = !record_.last_error.starts_with("local: not enough disk space");
    if (first) Log(message);
    // The device's fault, never counted against the version; the report says so (local).
    record_.last_outcome = Outcome::kFailed;
    record_.last_version = a.version;
    record_.last_error = std::move(message);
    record_.last_local_fault = true;
    if (first) {
      QueueReport(a, protocol::FailureOutcome::kFailed, protocol::FailureStage::kPreflight, true);
      OXIDE_RETURN_IF_ERROR(Persist());
    }
    return ResourceExhausted(record_.last_error);
  }
  UpdateRecord before = record_;
  record_.target = a;
  record_.previous = *active;
  record_.download = DownloadProgress{};
  record_.last_error.clear();
  record_.local_fault = false;
  record_.local_failures = 0;
  record_.health_attempts = 0;
  record_.failure_stage = protocol::FailureStage::kUnknown;
  record_.failure_exit_status.reset();
  record_.failure_output.clear();
  if (record_.poison_version != a.version) {  // another version: its count starts afresh
    record_.poison_version.clear();
    record_.poison_failures = 0;
  }
  superseded_ = false;
  std::string had = !record_.previous ? " (nothing installed)"
                    : record_.previous->version.empty()
                        ? " (unknown model " + record_.previous->sha256.substr(0, 12) + " active)"
                        : " (installed " + record_.previous->version + ")";
  Log("assigned " + a.version + had);
  if (Status st = Apply(OtaEvent::kAssigned); !st.ok()) {
    record_ = std::move(before);
    return st;
  }
  return AssignmentDecision::kStarted;
}

Result<OtaEvent> UpdatePipeline::RunHandler() {
  switch (record_.state) {
    case OtaState::kDownloading:
      return Download();
    case OtaState::kDownloaded:
      return BuildStaging();
    case OtaState::kStaged:
      return VerifyStaging();
    case OtaState::kVerified:
      return BackUp();
    case OtaState::kBackedUp:
      return Switch();
    case OtaState::kActivated:
      return CheckHealth();
    case OtaState::kRollingBack:
      return RollBack();
    case OtaState::kCommitted:
    case OtaState::kRolledBack:
    case OtaState::kFailed:
    case OtaState::kAborted:
      return CleanUp();
    case OtaState::kIdle:
      break;
  }
  return Internal("no handler for state " + std::string(ToString(record_.state)));
}

Status UpdatePipeline::Run() {
  while (record_.state != OtaState::kIdle) {
    if (options_.should_stop && options_.should_stop()) return Cancelled("agent stopping");
    if (superseded_) {
      superseded_ = false;
      if (BeforeActivation()) {
        OXIDE_RETURN_IF_ERROR(Apply(OtaEvent::kSuperseded));
        continue;
      }
    }
    if (record_.state == OtaState::kVerified && options_.recheck_assignment) {
      options_.recheck_assignment(record_);  // last chance to abandon before the switch
      if (superseded_) continue;
    }
    UpdateRecord before = record_;
    auto event = RunHandler();
    if (!event.ok()) event = OnHandlerError(event.status());
    if (!event.ok()) return event.status();
    Status st = Apply(*event);
    if (!st.ok()) {
      // The transition was not saved: go back to what the disk holds (handlers are idempotent,
      // so the handler simply runs again).
      auto text = deps_.fs.ReadFile(paths_.record, kMaxRecordSize);
      auto saved = text.ok() ? DecodeUpdateRecord(*text) : Result<UpdateRecord>(text.status());
      record_ = saved.ok() ? std::move(saved).value() : std::move(before);
      return st;
    }
    if (*event == OtaEvent::kDownloadInterrupted) return Unavailable(record_.last_error);
  }
  return Status::Ok();
}

}  // namespace oxide::agent
