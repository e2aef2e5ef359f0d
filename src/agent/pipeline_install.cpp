// Handlers from a complete payload to a committed or rolled-back model. Each is idempotent: after
// a crash, the state's handler runs again from the top and must reach the same result.
#include <functional>
#include <optional>
#include <vector>

#include "agent/model_at_rest.hpp"
#include "agent/model_check.hpp"
#include "agent/process_group.hpp"
#include "agent/update_pipeline.hpp"
#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "crypto/aes_gcm_stream.hpp"
#include "delta/base_source.hpp"
#include "delta/patch_applier.hpp"
#include "delta/patch_header.hpp"

namespace oxide::agent {

namespace {

// Target bytes into an AtomicFileWriter, asking `stop` every kStopCheckBlock bytes.
class StoppableFileSink final : public delta::ByteSink {
 public:
  StoppableFileSink(AtomicFileWriter& out, const std::function<bool()>& stop)
      : out_(out), stop_(stop) {}
  Status Write(const uint8_t* data, size_t n) override {
    unchecked_ += n;
    if (unchecked_ >= kStopCheckBlock) {
      unchecked_ = 0;
      if (stop_ && stop_()) return Cancelled("patching stopped: agent stopping");
    }
    return out_.Append(data, n);
  }

 private:
  AtomicFileWriter& out_;
  const std::function<bool()>& stop_;
  uint64_t unchecked_ = 0;
};

// Encrypts what the applier writes before it reaches `inner` (models encrypted at rest): the
// rebuilt plaintext exists only in memory, one chunk at a time.
class EncryptingSink final : public delta::ByteSink {
 public:
  static Result<std::unique_ptr<EncryptingSink>> Create(delta::ByteSink& inner,
                                                        const crypto::EncryptionKey& key) {
    OXIDE_ASSIGN_OR_RETURN(
        auto enc, crypto::Encryptor::Create(
                      key, [&inner](const uint8_t* p, size_t n) { return inner.Write(p, n); }));
    return std::unique_ptr<EncryptingSink>(new EncryptingSink(std::move(enc)));
  }
  Status Write(const uint8_t* data, size_t n) override { return enc_->Update(data, n); }
  Status Finish() { return enc_->Finish(); }

 private:
  explicit EncryptingSink(std::unique_ptr<crypto::Encryptor> enc) : enc_(std::move(enc)) {}
  std::unique_ptr<crypto::Encryptor> enc_;
};

// delta::ApplyPatchFile, fed block by block so that a stop request is honoured within a block
// (the base is hashed here, stoppably, instead of on the applier's thread). `base_path` ""
// is the empty base (a patch that rebuilds the model from nothing). Returns the header.
Result<delta::PatchHeader> ApplyPatchStoppable(const std::string& base_path,
                                               const std::string& patch_path,
                                               const std::string& out_path,
                                               uint64_t max_window_bytes,
                                               const std::function<bool()>& stop,
                                               const crypto::EncryptionKey* at_rest_key) {
  Digest base_sha = Sha256::Of(std::string_view());
  std::unique_ptr<delta::BaseSource> base;
  if (base_path.empty()) {
    base = delta::BaseSource::Empty();
  } else if (at_rest_key != nullptr) {
    // Encrypted at rest: the base is hashed through the Decryptor (every chunk and its length
    // authenticated) before the applier reads chunks of it at random.
    OXIDE_ASSIGN_OR_RETURN(base_sha, HashFile(base_path, stop, at_rest_key));
    OXIDE_ASSIGN_OR_RETURN(base, OpenEncryptedBase(base_path, *at_rest_key));
  } else {
    OXIDE_ASSIGN_OR_RETURN(base_sha, HashFile(base_path, stop, at_rest_key));
    OXIDE_ASSIGN_OR_RETURN(base, delta::BaseSource::FromFile(base_path));
  }
  OXIDE_ASSIGN_OR_RETURN(auto patch, ReadableFile::Open(patch_path));
  OXIDE_ASSIGN_OR_RETURN(auto out, AtomicFileWriter::Create(out_path));
  StoppableFileSink file_sink(*out, stop);
  std::unique_ptr<EncryptingSink> encrypting;
  if (at_rest_key != nullptr) {
    OXIDE_ASSIGN_OR_RETURN(encrypting, EncryptingSink::Create(file_sink, *at_rest_key));
  }
  delta::ByteSink& sink = encrypting ? static_cast<delta::ByteSink&>(*encrypting) : file_sink;
  delta::ApplyLimits limits;
  limits.base_verified = true;
  limits.max_window_bytes = max_window_bytes;
  auto applier = delta::PatchApplier::Create(base.get(), &sink, limits);
  std::vector<uint8_t> buf(1 << 20);
  bool base_checked = false;
  for (uint64_t off = 0;;) {
    if (stop && stop()) return Cancelled("patching stopped: agent stopping");
    OXIDE_ASSIGN_OR_RETURN(size_t n, patch->ReadAt(off, buf.data(), buf.size()));
    if (n == 0) break;
    OXIDE_RETURN_IF_ERROR(applier->Feed(buf.data(), n));
    off += n;
    if (!base_checked && applier->header() != nullptr) {
      base_checked = true;
      if (applier->header()->base_sha256 != base_sha) {
        return FailedPrecondition(
            "patch is for base " + ToHex(applier->header()->base_sha256) + ", applied to " +
            (base_path.empty() ? "the empty base" : "the active model") + " " + ToHex(base_sha));
      }
    }
  }
  OXIDE_RETURN_IF_ERROR(applier->Finish().status());
  if (encrypting) OXIDE_RETURN_IF_ERROR(encrypting->Finish());
  OXIDE_RETURN_IF_ERROR(out->Commit());
  return *applier->header();
}

// Checks that `path` holds the model `sha256` as it was before the update. The file says whether
// it is encrypted, not the key setting: a rollback restores a model that may predate
// --encryption-key-file, or one encrypted before the key was removed. nullopt when it cannot be
// checked at all: encrypted while the agent has no key, or adopted undecryptable (no SHA-256).
std::optional<Status> CheckRestored(const std::string& path, const std::string& sha256,
                                    const crypto::EncryptionKey* key,
                                    const std::function<bool()>& stop) {
  const bool encrypted = LooksEncrypted(path);
  if (sha256.empty() || (encrypted && key == nullptr)) return std::nullopt;
  return VerifyModelFile(path, sha256, 0, stop, encrypted ? key : nullptr);
}

// A crash while staging was being written (a patch applied, a download encrypted) left its temp
// file, as large as the model: removed before another one is written beside it.
Status RemoveStagingTemps(FileSystem& fs, const ModelPaths& paths) {
  const std::string prefix = paths.staging.substr(paths.dir.size() + 1) + ".tmp.";
  OXIDE_ASSIGN_OR_RETURN(auto names, fs.ListDir(paths.dir));
  for (const std::string& name : names) {
    if (name.starts_with(prefix)) OXIDE_RETURN_IF_ERROR(fs.Remove(paths.dir + "/" + name));
  }
  return Status::Ok();
}

// Whether the patch at `path` names the empty base (SHA-256 of zero bytes) in its header. A
// header that does not parse is not: applying it then fails as usual (and falls back).
Result<bool> PatchIsFromEmptyBase(const std::string& path) {
  OXIDE_ASSIGN_OR_RETURN(auto file, ReadableFile::Open(path));
  std::string head(delta::kPatchHeaderSize, '\0');
  OXIDE_ASSIGN_OR_RETURN(size_t n, file->ReadAt(0, head.data(), head.size()));
  auto header = delta::ParsePatchHeader(std::string_view(head).substr(0, n));
  return header.ok() && header->base_sha256 == Sha256::Of(std::string_view());
}

}  // namespace

// Rebuilds staging from the patch in `partial`; staging is written atomically and only when the
// target SHA-256 matched.
Status UpdatePipeline::ApplyPatch() {
  const ModelRef& t = *record_.target;
  // A patch against the empty base (first install, or no patch from the model this device
  // runs) needs no model at all; any other needs the active one.
  OXIDE_ASSIGN_OR_RETURN(bool from_empty, PatchIsFromEmptyBase(paths_.partial));
  if (!from_empty && !record_.previous) {
    return FailedPrecondition("got a patch but no model is installed");
  }
  auto header = ApplyPatchStoppable(from_empty ? std::string() : paths_.active, paths_.partial,
                                    paths_.staging, options_.max_window_bytes, options_.should_stop,
                                    AtRestKey());
  if (!header.ok()) return std::move(header).status();
  if (ToHex(header->target_sha256) != t.sha256) {
    OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.staging));
    return Corrupt("patch builds " + ToHex(header->target_sha256) + ", not " + t.sha256);
  }
  return Status::Ok();
}

// Drops the payload and goes back to downloading (`full_only`: without base headers).
Result<OtaEvent> UpdatePipeline::RestartDownload(bool full_only, OtaEvent event) {
  OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.partial));
  OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(paths_.dir));
  record_.download.full_only = full_only;
  ResetDownloadProgress();
  return event;
}

Result<OtaEvent> UpdatePipeline::BuildStaging() {
  const ModelRef& t = *record_.target;
  DownloadProgress& d = record_.download;
  if (!Exists(paths_.partial)) {
    // The payload was consumed before a crash; what it produced is checked next.
    if (Exists(paths_.staging)) return OtaEvent::kStagingReady;
    // Or it was dropped for the full-download fallback, or lost: fetch it again, never fail.
    if (d.via_patch) {
      if (d.fallback_reason.empty()) d.fallback_reason = "the downloaded patch was lost";
      Log("patch payload gone; continuing with the full download");
      return RestartDownload(true, OtaEvent::kPatchRejected);
    }
    SetError("downloaded payload of " + t.version + " is missing; downloading it again");
    return RestartDownload(d.full_only, OtaEvent::kPayloadLost);
  }
  OXIDE_RETURN_IF_ERROR(RemoveStagingTemps(deps_.fs, paths_));
  if (d.via_patch) {
    if (!d.full_only) {
      Status st = ApplyPatch();
      if (st.code() == ErrorCode::kCancelled) return st;  // stopping: not the patch's fault
      // The applier made staging durable itself; the SyncDir tells the file system seam.
      OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(paths_.dir));
      if (st.ok()) {
        Log("rebuilt " + t.version + " from patch");
        OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.partial));
        OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(paths_.dir));
        return OtaEvent::kStagingReady;
      }
      SetError("patch for " + t.version + " failed (" + st.ToString() +
               "); falling back to a full download");
      d.full_only = true;
      d.fallback_reason = st.ToString();
      QueueReport(t, protocol::FailureOutcome::kFallback, protocol::FailureStage::kPatch, false);
      // The decision is durable before the patch is dropped: a crash in between must still
      // end in the full download, not in "payload missing".
      OXIDE_RETURN_IF_ERROR(Persist());
    }
    // full_only with a patch in hand: the fallback was decided (and saved) before a crash.
    return RestartDownload(true, OtaEvent::kPatchRejected);
  }
  auto sha = HashFile(paths_.partial, options_.should_stop);
  if (!sha.ok()) return std::move(sha).status().WithContext("hashing the download");
  if (ToHex(*sha) != t.sha256) {
    OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.partial));
    // Counted against the version like any remote failure, so a blob the server keeps serving
    // wrong ends in a refusal the campaign shows, not in endless downloads.
    SetError("download verify failed: expected " + t.sha256 + " got " + ToHex(*sha) + " (" +
             t.version + ")");
    return OtaEvent::kStagingFailed;
  }
  if (AtRestKey() != nullptr) {
    // The verified download becomes an encrypted staging file (durable before the plaintext
    // goes); a crash in between redoes this from the still-present partial.
    Status st = EncryptModel(paths_.partial, paths_.staging, *AtRestKey());
    if (!st.ok()) return std::move(st).WithContext("encrypting the download");
    OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.partial));
  } else {
    OXIDE_RETURN_IF_ERROR(deps_.fs.Rename(paths_.partial, paths_.staging));
  }
  OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(paths_.dir));
  return OtaEvent::kStagingReady;
}

Result<OtaEvent> UpdatePipeline::VerifyStaging() {
  const ModelRef& t = *record_.target;
  Status st =
      VerifyModelFile(paths_.staging, t.sha256, t.size_bytes, options_.should_stop, AtRestKey());
  // Unreadable or missing staging is a local problem (reported, retried), not a bad version.
  if (st.code() == ErrorCode::kIo || st.code() == ErrorCode::kNotFound ||
      st.code() == ErrorCode::kCancelled) {
    return st;
  }
  if (st.code() == ErrorCode::kFailedPrecondition && AtRestKey() != nullptr) {
    // Encrypted with another key: the key file was replaced since staging was written. The
    // device's doing, not the version's (the staged copy is dropped at the next attempt).
    record_.local_fault = true;
    SetError("local: staging of " + t.version +
             " does not decrypt with the current key: " + st.ToString());
    return OtaEvent::kVerifyFailed;
  }
  if (!st.ok()) {
    SetError("verification of " + t.version + " failed: " + st.ToString());
    return OtaEvent::kVerifyFailed;
  }
  return OtaEvent::kVerifyOk;
}

Result<OtaEvent> UpdatePipeline::BackUp() {
  OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.backup));
  // Whatever file is active now is preserved, known to the record or not: the update must never
  // leave the device with less than it had.
  bool active = Exists(paths_.active);
  if (active && !record_.previous) {  // appeared since the assignment: adopt it
    OXIDE_ASSIGN_OR_RETURN(record_.previous, ActiveModel());
  }
  if (!active && record_.previous) {
    Log("active model " + record_.previous->version + " vanished; nothing to back up");
    record_.previous.reset();
  }
  if (active) {
    // A hard link costs no space and no copy; the rename in Switch() leaves it pointing at the
    // old model. Copy where links are impossible.
    Status st = deps_.fs.Link(paths_.active, paths_.backup);
    if (st.code() == ErrorCode::kUnsupported) {
      // Only a copy needs room (the preflight assumed a link).
      auto size = deps_.fs.FileSize(paths_.active);
      auto free = FreeBytes(paths_.dir);
      if (size.ok() && free.ok() && *free < *size) {
        st = ResourceExhausted("local: not enough disk space for the backup copy: need " +
                               std::to_string(*size) + " bytes, have " + std::to_string(*free));
      } else {
        st = CopyFileAtomically(deps_.fs, paths_.active, paths_.backup, options_.should_stop);
      }
    }
    if (st.code() == ErrorCode::kCancelled) return st;
    if (!st.ok()) {
      record_.local_fault = true;  // the disk's fault, not the version's
      SetError("backup of the active model failed: " + st.ToString());
      return OtaEvent::kBackupFailed;
    }
  }
  OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(paths_.dir));
  return OtaEvent::kBackupDone;
}

Result<OtaEvent> UpdatePipeline::Switch() {
  const ModelRef& t = *record_.target;
  if (Exists(paths_.staging)) {
    Status st = deps_.fs.Rename(paths_.staging, paths_.active);
    if (st.ok()) st = deps_.fs.SyncDir(options_.model_dir);
    if (!st.ok()) {
      record_.local_fault = true;
      SetError("activation of " + t.version + " failed: " + st.ToString());
      return OtaEvent::kSwitchFailed;
    }
  } else if (Status st = VerifyModelFile(paths_.active, t.sha256, t.size_bytes,
                                         options_.should_stop, AtRestKey());
             !st.ok()) {
    if (st.code() == ErrorCode::kCancelled) return st;
    record_.local_fault = true;
    SetError("activation of " + t.version + " failed: staging missing, " + st.ToString());
    return OtaEvent::kSwitchFailed;
  }
  Log("activated " + t.version);
  return OtaEvent::kSwitched;
}

Result<OtaEvent> UpdatePipeline::CheckHealth() {
  const ModelRef& t = *record_.target;
  if (record_.health_attempts >= options_.max_health_attempts) {
    // Each attempt is saved before it starts: a model that takes the device down during its
    // check ends here instead of being checked (and crashing) forever.
    SetError("health check of " + t.version + " did not finish in " +
             std::to_string(record_.health_attempts) +
             " attempts (the device may have crashed during it)");
    return OtaEvent::kUnhealthy;
  }
  ++record_.health_attempts;
  OXIDE_RETURN_IF_ERROR(Persist());
  HealthCheckRequest req{paths_.active, record_.model_id, t.version, t.sha256, t.size_bytes, {}};
  req.at_rest_key = AtRestKey();
  req.at_rest_key_file = options_.at_rest_key_file;
  if (options_.fetch_golden && !t.golden_sha256.empty()) {
    req.golden_path = paths_.golden;
    req.golden_sha256 = t.golden_sha256;  // re-checked: the file may have been damaged since
  }
  if (record_.previous && Exists(paths_.backup)) req.previous_model_path = paths_.backup;
  req.signature_change_allowed = t.signature_change_allowed;
  req.on_started = [this](int pgid) {
    // Saved before the check can outlive us: a killed agent's next start kills the group.
    auto group = DescribeProcessGroup(pgid);
    if (!group.ok()) return;  // already gone
    record_.health_group = *group;
    Status saved = Persist();  // best effort: the check runs either way
    static_cast<void>(saved);
  };
  auto report = deps_.health.Check(req);
  record_.health_group.reset();  // the checker killed and reaped the group; saved with the event
  if (!report.ok()) {
    if (report.status().code() == ErrorCode::kCancelled) {
      --record_.health_attempts;  // we stopped it: not the model's fault
      Status saved = Persist();   // best effort: at worst the attempt counts
      static_cast<void>(saved);
    }
    return report.status();
  }
  record_.failure_exit_status = report->exit_status;
  record_.failure_output = report->output;
  if (report->local_fault) {
    record_.local_fault = true;
    SetError("health check could not run (" + t.version + "): " + report->detail);
    return OtaEvent::kUnhealthy;
  }
  if (!report->healthy) {
    SetError("health check of " + t.version + " failed: " + report->detail);
    return OtaEvent::kUnhealthy;
  }
  Log("health check of " + t.version + " passed: " + report->detail);
  return OtaEvent::kHealthy;
}

Result<OtaEvent> UpdatePipeline::RollBack() {
  if (Exists(paths_.backup)) {
    Status st = deps_.fs.Rename(paths_.backup, paths_.active);
    if (!st.ok()) {
      // A model dir that refuses the rename (read-only) refused the switch too: the old model
      // may still be active, and then there is nothing to restore.
      if (!record_.previous) return st;
      auto same =
          CheckRestored(paths_.active, record_.previous->sha256, AtRestKey(), options_.should_stop);
      if (same && same->code() == ErrorCode::kCancelled) return *same;
      if (!same || !same->ok()) return st;
      Log("the previous model is still active (" + st.ToString() + ")");
    }
  } else if (record_.previous) {
    // The rename happened before a crash; make sure the old model really is back.
    const ModelRef& prev = *record_.previous;
    auto st = CheckRestored(paths_.active, prev.sha256, AtRestKey(), options_.should_stop);
    if (!st) {
      // Only the rename can have put an unreadable or foreign-key model there: this agent writes
      // none (a key change between the backup and now does not change the backup).
      Log("the restored model cannot be checked (encrypted without a key, or undecryptable "
          "before the update); it is the backup renamed before the restart");
    } else if (st->code() == ErrorCode::kCancelled) {
      return *st;
    } else if (!st->ok()) {
      return Internal("cannot roll back: backup missing and " + st->ToString());
    }
  } else {
    // No file existed before the update (BackUp() records any that did in `previous`): no
    // model is better than a bad one.
    OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.active));
  }
  OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(options_.model_dir));
  Log(!record_.previous                   ? "removed the failed model (nothing to roll back to)"
      : record_.previous->version.empty() ? "restored the model that was active before (" +
                                                record_.previous->sha256.substr(0, 12) + ")"
                                          : "rolled back to " + record_.previous->version);
  return OtaEvent::kRestored;
}

Result<OtaEvent> UpdatePipeline::CleanUp() {
  // After a local fault the staged model (complete and verified, or checked again before use)
  // is kept for the next attempt: a lasting local problem must not cost a download per retry.
  bool keep = record_.local_fault && record_.state != OtaState::kAborted;
  if (keep && Exists(paths_.staging)) {
    // Best effort: without it the next attempt simply downloads again.
    Status st = deps_.fs.Rename(paths_.staging, paths_.kept);
    if (!st.ok()) Log("could not keep the staged model: " + st.ToString());
  }
  OXIDE_ASSIGN_OR_RETURN(auto names, deps_.fs.ListDir(paths_.dir));
  for (const std::string& name : names) {
    if (name == "state.json" || name == "state.json.broken" || name == "release-counter") continue;
    if (keep && name == "kept") continue;
    OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.dir + "/" + name));
  }
  OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(paths_.dir));
  if (record_.state != OtaState::kAborted) record_.last_version = record_.target->version;
  switch (record_.state) {
    case OtaState::kCommitted:
      record_.installed = record_.target;
      record_.highest_release_counter =
          std::max(record_.highest_release_counter, record_.target->release_counter);
      if (record_.poison_version == record_.target->version) record_.poison_failures = 0;
      record_.local_retry = LocalRetry{};
      record_.last_outcome = Outcome::kCommitted;
      // A note for the server, kept until a heartbeat carried it (NoteReported).
      record_.last_error.clear();
      if (record_.download.full_only && !record_.download.fallback_reason.empty()) {
        SetError("committed via full-download fallback: " + record_.download.fallback_reason);
      }
      Log("committed " + record_.target->version);
      break;
    case OtaState::kRolledBack:
      record_.installed = record_.previous;
      record_.last_outcome = Outcome::kRolledBack;
      if (!record_.local_fault) CountFailure();
      QueueReport(*record_.target, protocol::FailureOutcome::kRolledBack, record_.failure_stage,
                  record_.local_fault);
      break;
    case OtaState::kFailed:
      record_.last_outcome = Outcome::kFailed;
      if (!record_.local_fault) CountFailure();
      QueueReport(*record_.target, protocol::FailureOutcome::kFailed, record_.failure_stage,
                  record_.local_fault);
      break;
    default:  // kAborted: superseded, not a failure of that version
      break;
  }
  if (record_.local_fault) {
    Log("local failure: not counted against " + record_.target->version);
    if (record_.state != OtaState::kAborted) NoteLocalFault();
  }
  record_.last_local_fault = record_.state != OtaState::kCommitted && record_.local_fault;
  record_.target.reset();
  record_.previous.reset();
  record_.download = DownloadProgress{};
  record_.local_fault = false;
  record_.local_failures = 0;
  record_.health_attempts = 0;
  return OtaEvent::kCleanedUp;
}

}  // namespace oxide::agent
