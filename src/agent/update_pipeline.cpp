#include "agent/update_pipeline.hpp"

#include "base/file_util.hpp"

namespace oxide::agent {

namespace {
constexpr size_t kMaxErrorText = 1024;
constexpr size_t kMaxRecordSize = 1 << 20;
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
  return p;
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

Status UpdatePipeline::Persist() {
  return WriteFileAtomically(deps_.fs, paths_.record, EncodeUpdateRecord(record_));
}

Status UpdatePipeline::Apply(OtaEvent event) {
  OXIDE_ASSIGN_OR_RETURN(OtaState next, NextState(record_.state, event));
  Transition t{record_.state, event, next};
  record_.state = next;
  if (Status st = Persist(); !st.ok()) {
    record_.state = t.from;  // memory follows the disk
    return st;
  }
  if (observer_) observer_(t);
  return Status::Ok();
}

Result<AssignmentDecision> UpdatePipeline::OnAssignment(const ModelRef& a) {
  if (record_.state != OtaState::kIdle) {
    const ModelRef& t = *record_.target;
    if (t.version == a.version && t.sha256 == a.sha256) return AssignmentDecision::kContinuing;
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
    if (record_.last_error != message) {  // saved once, so the report survives a restart
      record_.last_outcome = Outcome::kFailed;
      record_.last_version = a.version;
      record_.last_error = std::move(message);
      OXIDE_RETURN_IF_ERROR(Persist());
    }
    return AssignmentDecision::kRefused;
  }
  // Preflight: room for staging + backup, before anything is touched.
  auto active_size = deps_.fs.FileSize(paths_.active);
  uint64_t need = a.size_bytes + (active_size.ok() ? *active_size : 0);
  auto free = FreeDiskBytes(paths_.dir);
  if (free.ok() && *free < need) {
    record_.last_outcome = Outcome::kFailed;
    record_.last_version = a.version;
    record_.last_error = "insufficient disk space for " + a.version + ": need " +
                         std::to_string(need) + " bytes, " + std::to_string(*free) + " free";
    Log(record_.last_error);
    return ResourceExhausted(record_.last_error);
  }
  UpdateRecord before = record_;
  record_.target = a;
  // Rollback and patching need the active file to be what the record says it is.
  record_.previous = active_size.ok() ? record_.installed : std::nullopt;
  record_.download = DownloadProgress{};
  record_.last_error.clear();
  Log("assigned " + a.version +
      (record_.previous ? " (installed " + record_.previous->version + ")"
                        : " (nothing installed)"));
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
    UpdateRecord before = record_;
    auto event = RunHandler();
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
