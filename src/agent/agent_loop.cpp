#include "agent/agent_loop.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "base/sha256.hpp"
#include "protocol/ids.hpp"

namespace oxide::agent {

namespace {

protocol::UpdateStage StageOf(const UpdateRecord& r) {
  using protocol::UpdateStage;
  switch (r.state) {
    case OtaState::kIdle:
      break;
    case OtaState::kDownloading:
      return UpdateStage::kDownloading;
    case OtaState::kCommitted:
      return UpdateStage::kCompleted;
    case OtaState::kRolledBack:
      return UpdateStage::kRolledBack;
    case OtaState::kFailed:
      return UpdateStage::kFailed;
    default:
      return UpdateStage::kApplying;
  }
  switch (r.last_outcome) {
    case Outcome::kNone:
      return UpdateStage::kIdle;
    case Outcome::kCommitted:
      return UpdateStage::kCompleted;
    case Outcome::kRolledBack:
      return UpdateStage::kRolledBack;
    case Outcome::kFailed:
      return UpdateStage::kFailed;
  }
  return UpdateStage::kIdle;
}

// What the device is, reported in every heartbeat ("platform" of the reference's Device).
protocol::Platform ThisPlatform() {
  protocol::Platform p;
  struct utsname u {};
  if (::uname(&u) == 0) {
    p.os = u.sysname;
    for (char& c : p.os) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    p.arch = u.machine;
  }
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  p.cpu_count = cpus > 0 ? static_cast<uint32_t>(cpus) : 0;
  return p;
}

}  // namespace

bool IsSafeId(const std::string& id) { return protocol::IsValidId(id); }

bool IsSafeModelId(const std::string& id) { return IsSafeId(id) && id.front() != '.'; }

AgentLoop::AgentLoop(AgentDeps deps, AgentOptions options)
    : deps_(deps),
      options_(std::move(options)),
      interval_(options_.poll_interval),
      rng_(std::random_device{}()),
      platform_(ThisPlatform()) {
  options_.pipeline.on_progress = [this](const UpdateRecord& r) { OnProgress(r); };
  if (!options_.pipeline.now_ms) {
    options_.pipeline.now_ms = [this] { return deps_.clock.UnixMillis(); };
  }
  options_.pipeline.recheck_assignment = [this](const UpdateRecord& r) { RecheckAssignment(r); };
  if (options_.trust != nullptr) {
    options_.pipeline.verify_release = [this](const std::string& model_id, const ModelRef& a,
                                              uint64_t highest) {
      return VerifyRelease(model_id, a, highest);
    };
  }
}

Result<uint64_t> AgentLoop::VerifyRelease(const std::string& model_id, const ModelRef& a,
                                          uint64_t highest_counter) {
  ReleaseTrust& trust = *options_.trust;
  const int64_t now = deps_.clock.UnixMillis() / 1000;
  auto verified = trust.Verify(model_id, a, highest_counter, now);
  if (verified.ok() || a.release.empty()) return verified;
  // The release may be signed by a key rotated in since the last check: follow the control
  // plane's key chain (each step verified by the keys already trusted), then check once more.
  auto moved = FollowKeyChain();
  if (!moved.ok() || !*moved) return verified;
  return trust.Verify(model_id, a, highest_counter, now);
}

Result<bool> AgentLoop::FollowKeyChain() {
  ReleaseTrust& trust = *options_.trust;
  auto chain = FetchKeyChain(deps_.downloader, options_.pipeline.control_plane,
                             options_.pipeline.device_id, options_.pipeline.device_secret);
  if (!chain.ok()) {
    Log("cannot fetch the release key chain: " + chain.status().ToString());
    return std::move(chain).status();
  }
  const uint64_t before = trust.keys().version;
  auto applied = trust.Advance(*chain);
  if (!applied.ok()) Log("release key chain refused: " + applied.status().message());
  if (trust.keys().version != before) {
    Log("now trusting release key set v" + std::to_string(trust.keys().version));
    return true;
  }
  if (!applied.ok()) return std::move(applied).status();
  return false;
}

void AgentLoop::FollowKeyChainIfDue() {
  if (options_.trust == nullptr) return;
  const Clock::Duration now = deps_.clock.Now();
  if (key_chain_followed_ && now < next_key_chain_) return;
  key_chain_followed_ = true;
  auto moved = FollowKeyChain();
  if (moved.ok()) {
    key_chain_failures_ = 0;
    next_key_chain_ = now + options_.key_chain_interval;
  } else {
    ++key_chain_failures_;
    next_key_chain_ = now + BackoffDelay(key_chain_failures_, options_.poll_interval,
                                         options_.key_chain_interval, 1.0);
  }
}

void AgentLoop::Log(const std::string& line) const {
  if (options_.pipeline.log) options_.pipeline.log(line);
}

Result<UpdatePipeline*> AgentLoop::PipelineFor(const std::string& model_id) {
  auto it = pipelines_.find(model_id);
  if (it != pipelines_.end()) return it->second.get();
  OXIDE_ASSIGN_OR_RETURN(
      auto p,
      UpdatePipeline::Open(model_id, {deps_.fs, deps_.downloader, deps_.health, deps_.clock},
                           options_.pipeline));
  UpdatePipeline* raw = p.get();
  pipelines_.emplace(model_id, std::move(p));
  return raw;
}

Status AgentLoop::Recover() {
  std::error_code ec;
  std::filesystem::directory_iterator it(options_.pipeline.state_dir, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    std::string id = it->path().filename().string();
    std::error_code entry_ec;
    if (!it->is_directory(entry_ec) || !IsSafeModelId(id)) continue;
    if (!std::filesystem::exists(it->path() / "state.json", entry_ec)) continue;
    OXIDE_ASSIGN_OR_RETURN(UpdatePipeline * p, PipelineFor(id));
    if (p->record().state != OtaState::kIdle) {
      Log(id + ": resuming update in state " + std::string(ToString(p->record().state)));
      focus_ = id;
    } else if (focus_.empty()) {
      focus_ = id;
    }
  }
  // Settle what needs no network first (a rollback or commit cut short by a crash).
  Status st = RunPipelines();
  if (st.code() == ErrorCode::kCancelled) return st;
  return Status::Ok();
}

protocol::HeartbeatRequest AgentLoop::BuildHeartbeat() const {
  protocol::HeartbeatRequest req;
  req.agent_version = std::string(kAgentVersion);
  bool busy = false;
  for (const auto& [id, p] : pipelines_) {
    const UpdateRecord& r = p->record();
    busy = busy || r.state != OtaState::kIdle;
    if (!r.installed) continue;
    req.models.push_back({id, r.installed->version, r.installed->sha256});
    if (!req.current_model) {
      req.current_model = id;
      req.current_model_version = r.installed->version;
    }
  }
  req.status = busy ? "updating" : "online";
  auto it = pipelines_.find(focus_);
  if (it != pipelines_.end()) {
    const UpdateRecord& r = it->second->record();
    protocol::UpdateProgress u;
    u.model_id = r.model_id;
    u.stage = StageOf(r);
    u.version = r.target ? r.target->version : r.last_version;
    u.bytes_done = r.download.bytes_done;
    u.bytes_total = r.download.bytes_total;
    u.via_patch = r.download.via_patch;
    u.error = r.last_error;
    u.local_fault = r.state == OtaState::kIdle && r.last_local_fault;
    if (u.stage != protocol::UpdateStage::kIdle || !u.error.empty()) req.update = u;
  }
  req.platform = platform_;
  // Every failure goes to the server as a report until one heartbeat carrying it got a 200.
  req.reports.emplace();
  for (const auto& [id, p] : pipelines_) {
    for (const auto& f : p->record().pending_reports) {
      if (req.reports->size() < kReportsPerHeartbeat) req.reports->push_back(f);
    }
  }
  req.cleared_refusals = unacked_clearances_;
  return req;
}

void AgentLoop::OnReplied(const protocol::HeartbeatRequest& sent,
                          const protocol::HeartbeatResponse& reply) {
  if (sent.reports && !sent.reports->empty()) {
    std::vector<std::string> ids;
    for (const auto& f : *sent.reports) ids.push_back(f.id);
    for (auto& [id, p] : pipelines_) {
      Status st = p->AckReports(ids);
      if (!st.ok()) Log(id + ": " + st.ToString());
    }
  }
  // Acknowledged by this heartbeat: the server has dropped them.
  std::erase_if(unacked_clearances_, [&](int64_t id) {
    return std::find(sent.cleared_refusals.begin(), sent.cleared_refusals.end(), id) !=
           sent.cleared_refusals.end();
  });
  for (const auto& c : reply.clear_refusals) {
    if (std::find(unacked_clearances_.begin(), unacked_clearances_.end(), c.id) !=
        unacked_clearances_.end()) {
      continue;  // applied already; the acknowledgement goes with the next heartbeat
    }
    if (IsSafeModelId(c.model_id) && IsSafeId(c.version)) {
      auto p = PipelineFor(c.model_id);
      if (p.ok()) {
        auto cleared = (*p)->ClearRefusal(c.version);
        if (!cleared.ok()) {
          Log(c.model_id + ": " + cleared.status().ToString());
          continue;  // not saved: applied (and acknowledged) with a later reply
        }
        refused_logged_.erase(c.model_id + "@" + c.version);
      }
    }
    unacked_clearances_.push_back(c.id);
  }
}

void AgentLoop::OnProgress(const UpdateRecord& r) {
  if (options_.on_progress) options_.on_progress(r);
  // Progress heartbeats during a long download: at most one per poll interval.
  if (in_progress_heartbeat_ || deps_.clock.Now() - last_heartbeat_ < interval_) return;
  in_progress_heartbeat_ = true;
  last_heartbeat_ = deps_.clock.Now();
  focus_ = r.model_id;
  auto reply = SendHeartbeat(/*quick=*/true);
  if (reply.ok()) {
    CheckStillAssigned(*reply);
  } else {
    Log("progress heartbeat failed: " + reply.status().ToString());
  }
  in_progress_heartbeat_ = false;
}

void AgentLoop::RecheckAssignment(const UpdateRecord& r) {
  if (in_progress_heartbeat_) return;
  in_progress_heartbeat_ = true;
  focus_ = r.model_id;
  auto reply = SendHeartbeat();
  if (reply.ok()) {
    CheckStillAssigned(*reply);
  } else {
    // Offline: go on with what the server said last (the update was assigned, and is healthy-
    // checked and rolled back like any other).
    Log("assignment re-check failed: " + reply.status().ToString());
  }
  in_progress_heartbeat_ = false;
}

void AgentLoop::CheckStillAssigned(const protocol::HeartbeatResponse& reply) {
  for (auto& [id, p] : pipelines_) {
    const UpdateRecord& r = p->record();
    if (r.state == OtaState::kIdle || !r.target) continue;
    if (!reply.assignment) {
      p->Supersede("assignment withdrawn");
    } else if (reply.assignment->model_id == id &&
               (reply.assignment->version != r.target->version ||
                reply.assignment->sha256 != r.target->sha256)) {
      p->Supersede("assignment changed to " + reply.assignment->version);
    }
  }
}

Result<protocol::HeartbeatResponse> AgentLoop::SendHeartbeat(bool quick) {
  protocol::HeartbeatRequest req = BuildHeartbeat();
  if (options_.inventory != nullptr) req.inventory = options_.inventory->Next();
  ControlPlane& control =
      quick && deps_.quick_control != nullptr ? *deps_.quick_control : deps_.control;
  auto reply = control.Heartbeat(req);
  last_heartbeat_ = deps_.clock.Now();
  if (reply.ok() && req.inventory) options_.inventory->Acknowledged(*req.inventory);
  if (reply.ok()) OnReplied(req, *reply);
  if (reply.ok() && req.update && !req.update->error.empty()) {
    auto it = pipelines_.find(req.update->model_id);
    if (it != pipelines_.end()) {
      Status st = it->second->NoteReported(req.update->error);
      if (!st.ok()) Log(req.update->model_id + ": " + st.ToString());
    }
  }
  return reply;
}

uint64_t AgentLoop::BytesDone() const {
  uint64_t sum = 0;
  for (const auto& [id, p] : pipelines_) sum += p->record().download.bytes_done;
  return sum;
}

Status AgentLoop::HandleAssignment(const protocol::Assignment& a) {
  if (!IsSafeModelId(a.model_id) || !IsSafeId(a.version) || !DigestFromHex(a.sha256).ok()) {
    Log("rejecting unsafe assignment '" + a.model_id + "@" + a.version + "'");
    return Status::Ok();
  }
  OXIDE_ASSIGN_OR_RETURN(UpdatePipeline * p, PipelineFor(a.model_id));
  ModelRef ref{a.version, a.sha256, a.size_bytes, a.campaign_id};
  ref.release = a.release;
  ref.golden_sha256 = a.golden_sha256;
  ref.golden_size = a.golden_size;
  ref.signature_change_allowed = a.signature_change_allowed;
  for (int round = 0; round < 2; ++round) {
    auto decision = p->OnAssignment(ref);
    if (!decision.ok()) {
      focus_ = a.model_id;
      return decision.status().code() == ErrorCode::kResourceExhausted ? Status::Ok()
                                                                       : decision.status();
    }
    if (*decision == AssignmentDecision::kStarted || *decision == AssignmentDecision::kBackingOff) {
      focus_ = a.model_id;  // the heartbeat reports it (a backoff: the local fault and the wait)
    }
    if (*decision == AssignmentDecision::kRefused) {
      focus_ = a.model_id;
      if (refused_logged_.insert(a.model_id + "@" + a.version).second) {
        Log(a.model_id + ": " + p->record().last_error);
      }
    }
    if (*decision != AssignmentDecision::kSuperseded) break;
    OXIDE_RETURN_IF_ERROR(p->Run());  // clean up the abandoned update, then start the new one
  }
  return Status::Ok();
}

Status AgentLoop::RunPipelines() {
  Status first = Status::Ok();
  for (auto& [id, p] : pipelines_) {
    if (p->record().state == OtaState::kIdle) continue;
    focus_ = id;
    Status st = p->Run();
    if (st.code() == ErrorCode::kCancelled) return st;
    if (!st.ok()) {
      Log(id + ": " + st.ToString());
      if (first.ok()) first = st;
    }
  }
  return first;
}

Status AgentLoop::Tick() {
  auto reply = SendHeartbeat();
  if (!reply.ok()) return reply.status();
  CheckStillAssigned(*reply);
  // The key chain before any release is checked against it (TUF updates the root first).
  FollowKeyChainIfDue();
  if (reply->poll_interval_seconds > 0) {
    interval_ = std::max<Clock::Duration>(std::chrono::seconds(reply->poll_interval_seconds),
                                          std::chrono::seconds(1));
  }
  if (reply->assignment) OXIDE_RETURN_IF_ERROR(HandleAssignment(*reply->assignment));
  bool had_work = std::any_of(pipelines_.begin(), pipelines_.end(), [](const auto& kv) {
    return kv.second->record().state != OtaState::kIdle;
  });
  Status st = RunPipelines();
  if (had_work && st.code() != ErrorCode::kCancelled) {
    // Report how the update ended right away instead of one poll interval later.
    auto report = SendHeartbeat();
    if (!report.ok()) Log("heartbeat failed: " + report.status().ToString());
  }
  return st;
}

Status AgentLoop::Run() {
  uint32_t failures = 0;
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  for (;;) {
    if (options_.pipeline.should_stop && options_.pipeline.should_stop()) {
      return Cancelled("stopping");
    }
    uint64_t bytes_before = BytesDone();
    Status st = Tick();
    if (st.code() == ErrorCode::kCancelled) return st;
    if (options_.once) return st;
    Clock::Duration delay = interval_;
    // A download that moved forward is making progress on a flaky link: retry it promptly.
    if (st.ok() || BytesDone() > bytes_before) {
      failures = 0;
      last_failure_.clear();
    } else {
      ++failures;
      delay = BackoffDelay(failures, interval_, options_.max_backoff, jitter(rng_));
      // The same failure again (waiting for an operator to accept the device, a server that
      // stays down) is logged once, not once per poll.
      if (st.ToString() != last_failure_) {
        Log("retrying in " +
            std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()) +
            " ms: " + st.ToString());
      }
      last_failure_ = st.ToString();
    }
    if (!deps_.clock.SleepFor(delay)) return Cancelled("stopping");
  }
}

}  // namespace oxide::agent
