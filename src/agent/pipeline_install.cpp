// Handlers from a complete payload to a committed or rolled-back model. Each is idempotent: after
// a crash, the state's handler runs again from the top and must reach the same result.
#include "agent/model_check.hpp"
#include "agent/update_pipeline.hpp"
#include "base/sha256.hpp"
#include "delta/patch_applier.hpp"

namespace oxide::agent {

Result<OtaEvent> UpdatePipeline::BuildStaging() {
  const ModelRef& t = *record_.target;
  DownloadProgress& d = record_.download;
  if (!Exists(paths_.partial)) {
    // The payload was consumed before a crash; what it produced is checked next.
    if (Exists(paths_.staging)) return OtaEvent::kStagingReady;
    SetError("downloaded payload is missing");
    return OtaEvent::kStagingFailed;
  }
  if (d.via_patch) {
    Status st = Status::Ok();
    if (!record_.previous) {
      st = FailedPrecondition("got a patch but no model is installed");
    } else {
      auto stats = delta::ApplyPatchFile(paths_.active, paths_.partial, paths_.staging);
      if (!stats.ok()) {
        st = std::move(stats).status();
      } else if (ToHex(stats->header.target_sha256) != t.sha256) {
        st = Corrupt("patch builds " + ToHex(stats->header.target_sha256) + ", not " + t.sha256);
        OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.staging));
      }
    }
    // ApplyPatchFile made staging durable itself; the SyncDir tells the file system seam.
    OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(paths_.dir));
    if (!st.ok()) {
      if (d.full_only) {
        SetError("patch for " + t.version + " failed: " + st.ToString());
        return OtaEvent::kStagingFailed;
      }
      OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.partial));
      d = DownloadProgress{};
      d.full_only = true;
      SetError("patch for " + t.version + " failed (" + st.ToString() +
               "); falling back to a full download");
      return OtaEvent::kPatchRejected;
    }
    Log("rebuilt " + t.version + " from patch");
    OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.partial));
  } else {
    auto sha = Sha256File(paths_.partial);
    if (!sha.ok()) return sha.status();
    if (ToHex(*sha) != t.sha256) {
      OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.partial));
      SetError("downloaded file has SHA-256 " + ToHex(*sha) + ", expected " + t.sha256);
      return OtaEvent::kStagingFailed;
    }
    OXIDE_RETURN_IF_ERROR(deps_.fs.Rename(paths_.partial, paths_.staging));
  }
  OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(paths_.dir));
  return OtaEvent::kStagingReady;
}

Result<OtaEvent> UpdatePipeline::VerifyStaging() {
  const ModelRef& t = *record_.target;
  Status st = VerifyModelFile(paths_.staging, t.sha256, t.size_bytes);
  if (st.code() == ErrorCode::kIo) return st;
  if (!st.ok()) {
    SetError("verification of " + t.version + " failed: " + st.ToString());
    return OtaEvent::kVerifyFailed;
  }
  return OtaEvent::kVerifyOk;
}

Result<OtaEvent> UpdatePipeline::BackUp() {
  OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.backup));
  if (record_.previous) {
    // A hard link costs no space and no copy; the rename in Switch() leaves it pointing at the
    // old model. Copy where links are impossible.
    Status st = deps_.fs.Link(paths_.active, paths_.backup);
    if (st.code() == ErrorCode::kUnsupported) {
      st = CopyFileAtomically(deps_.fs, paths_.active, paths_.backup);
    }
    if (!st.ok()) {
      SetError("backup of " + record_.previous->version + " failed: " + st.ToString());
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
      SetError("activation of " + t.version + " failed: " + st.ToString());
      return OtaEvent::kSwitchFailed;
    }
  } else if (Status st = VerifyModelFile(paths_.active, t.sha256, t.size_bytes); !st.ok()) {
    SetError("activation of " + t.version + " failed: staging missing, " + st.ToString());
    return OtaEvent::kSwitchFailed;
  }
  Log("activated " + t.version);
  return OtaEvent::kSwitched;
}

Result<OtaEvent> UpdatePipeline::CheckHealth() {
  const ModelRef& t = *record_.target;
  HealthCheckRequest req{paths_.active, record_.model_id, t.version, t.sha256, t.size_bytes};
  OXIDE_ASSIGN_OR_RETURN(HealthReport report, deps_.health.Check(req));
  if (!report.healthy) {
    SetError("health check of " + t.version + " failed: " + report.detail);
    return OtaEvent::kUnhealthy;
  }
  Log("health check of " + t.version + " passed: " + report.detail);
  return OtaEvent::kHealthy;
}

Result<OtaEvent> UpdatePipeline::RollBack() {
  if (!record_.previous) {
    // Nothing was installed before: no model is better than a bad one.
    OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.active));
  } else if (Exists(paths_.backup)) {
    OXIDE_RETURN_IF_ERROR(deps_.fs.Rename(paths_.backup, paths_.active));
  } else {
    // The rename happened before a crash; make sure the old model really is back.
    const ModelRef& prev = *record_.previous;
    Status st = VerifyModelFile(paths_.active, prev.sha256, 0);
    if (!st.ok()) return Internal("cannot roll back: backup missing and " + st.ToString());
  }
  OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(options_.model_dir));
  Log(record_.previous ? "rolled back to " + record_.previous->version
                       : "removed the failed model (nothing to roll back to)");
  return OtaEvent::kRestored;
}

Result<OtaEvent> UpdatePipeline::CleanUp() {
  OXIDE_ASSIGN_OR_RETURN(auto names, deps_.fs.ListDir(paths_.dir));
  for (const std::string& name : names) {
    if (name == "state.json" || name == "state.json.broken") continue;
    OXIDE_RETURN_IF_ERROR(deps_.fs.Remove(paths_.dir + "/" + name));
  }
  OXIDE_RETURN_IF_ERROR(deps_.fs.SyncDir(paths_.dir));
  if (record_.state != OtaState::kAborted) record_.last_version = record_.target->version;
  switch (record_.state) {
    case OtaState::kCommitted:
      record_.installed = record_.target;
      if (record_.poison_version == record_.target->version) record_.poison_failures = 0;
      record_.last_outcome = Outcome::kCommitted;
      record_.last_error.clear();
      Log("committed " + record_.target->version);
      break;
    case OtaState::kRolledBack:
      record_.installed = record_.previous;
      record_.last_outcome = Outcome::kRolledBack;
      CountFailure();
      break;
    case OtaState::kFailed:
      record_.last_outcome = Outcome::kFailed;
      CountFailure();
      break;
    default:  // kAborted: superseded, not a failure of that version
      break;
  }
  record_.target.reset();
  record_.previous.reset();
  record_.download = DownloadProgress{};
  return OtaEvent::kCleanedUp;
}

}  // namespace oxide::agent
