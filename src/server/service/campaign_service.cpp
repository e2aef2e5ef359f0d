#include "server/service/campaign_service.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "base/log.hpp"
#include "server/service/campaign_target.hpp"
#include "server/service/event_data.hpp"
#include "server/service/ids.hpp"

namespace oxide::server {
namespace {

using store::DeviceRolloutState;

bool InFlight(DeviceRolloutState s) {
  return s == DeviceRolloutState::kPending || s == DeviceRolloutState::kDownloading ||
         s == DeviceRolloutState::kApplying;
}

// kIdle carries progress only.
std::optional<RolloutEvent> EventFor(protocol::UpdateStage stage) {
  switch (stage) {
    case protocol::UpdateStage::kIdle:
      return std::nullopt;
    case protocol::UpdateStage::kDownloading:
      return RolloutEvent::kDownloading;
    case protocol::UpdateStage::kApplying:
      return RolloutEvent::kApplying;
    case protocol::UpdateStage::kCompleted:
      return RolloutEvent::kCompleted;
    case protocol::UpdateStage::kFailed:
      return RolloutEvent::kFailed;
    case protocol::UpdateStage::kRolledBack:
      return RolloutEvent::kRolledBack;
  }
  return std::nullopt;
}

constexpr size_t kHistoryLimit = 100;

bool RunsTarget(const store::DeviceRecord& d, const store::AssignmentRecord& a) {
  if (!d.current_sha256.empty()) return d.current_sha256 == a.sha256;
  return d.current_model == a.model_id && d.current_version == a.version;
}

}  // namespace

std::string CampaignService::NewId() {
  std::random_device rd;
  char buf[32];
  std::snprintf(buf, sizeof(buf), "c-%08x%08x", rd(), rd());
  return buf;
}

Result<CampaignDetail> CampaignService::Create(const CreateCampaignRequest& req) {
  OXIDE_RETURN_IF_ERROR(ValidateId("model_id", req.model_id));
  OXIDE_RETURN_IF_ERROR(ValidateId("model_version", req.version));
  if (!req.fleet_id.empty() || !req.target) {
    OXIDE_RETURN_IF_ERROR(ValidateId("fleet_id", req.fleet_id));
  }
  if (req.target) OXIDE_RETURN_IF_ERROR(ValidateTarget(*req.target));
  if (req.require_approval && req.strategy != store::CampaignStrategy::kCanary) {
    return InvalidArgument("require_approval needs strategy 'canary'");
  }
  store::CampaignRecord c;
  c.strategy = req.strategy;
  c.canary_percent = req.canary_percent.value_or(10);
  if (c.canary_percent < 1 || c.canary_percent > 100) {
    return InvalidArgument("canary_percent must be between 1 and 100");
  }
  c.batch_size = req.batch_size.value_or(5);
  if (c.batch_size < 1) return InvalidArgument("batch_size must be at least 1");
  c.failure_threshold_count = req.failure_threshold_count.value_or(0);
  c.failure_threshold_percent = req.failure_threshold_percent.value_or(0);
  if (c.failure_threshold_percent > 100) {
    return InvalidArgument("failure_threshold_percent must be between 0 and 100");
  }
  c.id = NewId();
  c.model_id = req.model_id;
  c.version = req.version;
  c.fleet_id = req.fleet_id;
  c.target = req.target;
  c.require_approval = req.require_approval;
  c.allow_signature_change = req.allow_signature_change;
  c.state = store::CampaignState::kRollingOut;
  c.created_at = c.updated_at = clock_.UnixMillis();
  EventScope events(events_);
  if (Status tx = store_.InTransaction([&]() -> Status {
        OXIDE_ASSIGN_OR_RETURN(auto target, store_.models().Get(req.model_id, req.version));
        if (!target.signature_change.empty() && !req.allow_signature_change) {
          std::string change;
          for (char ch : target.signature_change) {
            if (ch == '\n') {
              change += "; ";
            } else {
              change += ch;
            }
          }
          return FailedPrecondition("version " + req.version + " changes the model signature: " +
                                    change + "; pass allow_signature_change to roll it out");
        }
        c.target_sha256 = target.sha256;
        c.target_size = target.size_bytes;
        OXIDE_ASSIGN_OR_RETURN(auto members, Audience(req));
        std::vector<store::CampaignDeviceRecord> devices;
        for (size_t i = 0; i < members.size(); ++i) {
          store::CampaignDeviceRecord d;
          d.campaign_id = c.id;
          d.device_id = members[i];
          d.ordinal = static_cast<int64_t>(i);
          d.updated_at = c.created_at;
          devices.push_back(std::move(d));
          // Prepare patches from what the fleet runs now, before anyone asks.
          auto dev = store_.devices().Get(members[i]);
          if (dev.ok() && !dev->current_sha256.empty()) {
            OXIDE_RETURN_IF_ERROR(
                models_.EnsurePatch(dev->current_sha256, c.target_sha256).status());
          }
        }
        OXIDE_RETURN_IF_ERROR(store_.campaigns().Create(c, devices).status());
        PublishState(c.id, c.state, "");
        return Advance(c.id);
      });
      !tx.ok())
    return tx;
  events.Commit();
  log::Info("campaign created", {{"campaign", c.id},
                                 {"target", c.target ? "yes" : "no"},
                                 {"model", c.model_id},
                                 {"version", c.version},
                                 {"fleet", c.fleet_id},
                                 {"strategy", store::ToString(c.strategy)}});
  return Get(c.id);
}

Result<CampaignDetail> CampaignService::Get(const std::string& id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("campaign id", id));
  CampaignDetail d;
  OXIDE_ASSIGN_OR_RETURN(d.campaign, store_.campaigns().Get(id));
  OXIDE_ASSIGN_OR_RETURN(d.devices, store_.campaigns().ListDevices(id));
  OXIDE_ASSIGN_OR_RETURN(d.history, store_.attempts().ListForCampaign(id, kHistoryLimit));
  OXIDE_ASSIGN_OR_RETURN(d.first_failure, store_.attempts().FirstFailureOfCampaign(id));
  return d;
}

Result<uint64_t> CampaignService::ClearRefusals(const std::string& id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("campaign id", id));
  uint64_t n = 0;
  if (Status tx = store_.InTransaction([&]() -> Status {
        OXIDE_ASSIGN_OR_RETURN(auto c, store_.campaigns().Get(id));
        OXIDE_ASSIGN_OR_RETURN(auto devs, store_.campaigns().ListDevices(id));
        for (const auto& d : devs) {
          if (d.state == DeviceRolloutState::kCompleted) continue;
          auto dev = store_.devices().Get(d.device_id);
          if (dev.status().code() == ErrorCode::kNotFound) continue;  // deleted since
          OXIDE_RETURN_IF_ERROR(dev.status());
          OXIDE_RETURN_IF_ERROR(store_.clearances()
                                    .Add(store::ClearanceRecord{0, d.device_id, c.model_id,
                                                                c.version, clock_.UnixMillis()})
                                    .status());
          ++n;
        }
        return Status::Ok();
      });
      !tx.ok())
    return tx;
  return n;
}

Result<std::vector<CampaignDetail>> CampaignService::WithDevices(
    std::vector<store::CampaignRecord> campaigns) {
  std::vector<CampaignDetail> out;
  for (auto& c : campaigns) {
    CampaignDetail d;
    OXIDE_ASSIGN_OR_RETURN(d.devices, store_.campaigns().ListDevices(c.id));
    d.campaign = std::move(c);
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<CampaignDetail>> CampaignService::List() {
  OXIDE_ASSIGN_OR_RETURN(auto campaigns, store_.campaigns().List());
  return WithDevices(std::move(campaigns));
}

Result<std::vector<CampaignDetail>> CampaignService::List(const CampaignFilter& filter,
                                                          std::string* next_after) {
  if (filter.limit < 1 || filter.limit > 1000) {
    return InvalidArgument("limit must be between 1 and 1000");
  }
  if (!filter.after.empty()) OXIDE_RETURN_IF_ERROR(ValidateId("after", filter.after));
  store::CampaignQuery q{filter.after, filter.limit + 1, filter.state};
  OXIDE_ASSIGN_OR_RETURN(auto campaigns, store_.campaigns().Query(q));
  next_after->clear();
  if (campaigns.size() > filter.limit) {
    campaigns.resize(filter.limit);
    *next_after = campaigns.back().id;
  }
  return WithDevices(std::move(campaigns));
}

Result<CampaignDetail> CampaignService::Act(const std::string& id, CampaignEvent event) {
  OXIDE_RETURN_IF_ERROR(ValidateId("campaign id", id));
  EventScope events(events_);
  if (Status tx = store_.InTransaction([&]() -> Status {
        OXIDE_ASSIGN_OR_RETURN(auto c, store_.campaigns().Get(id));
        OXIDE_RETURN_IF_ERROR(Apply(c, event));
        if (event == CampaignEvent::kAbort) return Withdraw(c);
        if (event == CampaignEvent::kResume) return Advance(id);
        if (event == CampaignEvent::kApprove) {
          // Stored with the state: a restart after approval never asks again.
          OXIDE_RETURN_IF_ERROR(store_.campaigns().MarkApproved(id, clock_.UnixMillis()));
          return Advance(id);
        }
        return Status::Ok();
      });
      !tx.ok())
    return tx;
  events.Commit();
  return Get(id);
}

Status CampaignService::Apply(store::CampaignRecord& c, CampaignEvent e) {
  OXIDE_ASSIGN_OR_RETURN(auto next, NextCampaignState(c.state, e));
  OXIDE_RETURN_IF_ERROR(store_.campaigns().UpdateState(c.id, next, clock_.UnixMillis()));
  PublishState(c.id, next, store::ToString(c.state));  // every row of the table publishes
  log::Write(next == store::CampaignState::kHalted ? log::Level::kWarn : log::Level::kInfo,
             "campaign " + std::string(store::ToString(next)),
             {{"campaign", c.id},
              {"from", store::ToString(c.state)},
              {"event", ToString(e)},
              {"model", c.model_id},
              {"version", c.version}});
  c.state = next;
  return Status::Ok();
}

Status CampaignService::Advance(const std::string& id) {
  OXIDE_ASSIGN_OR_RETURN(auto c, store_.campaigns().Get(id));
  if (c.state != store::CampaignState::kRollingOut) return Status::Ok();
  OXIDE_ASSIGN_OR_RETURN(auto devs, store_.campaigns().ListDevices(c.id));
  const uint64_t total = devs.size();
  uint64_t failed = 0;
  uint64_t in_flight = 0;
  for (const auto& d : devs) {
    failed += IsFailure(d.state) ? 1 : 0;
    in_flight += InFlight(d.state) ? 1 : 0;
  }
  if ((c.failure_threshold_count > 0 && failed >= c.failure_threshold_count) ||
      (c.failure_threshold_percent > 0 && failed > 0 &&
       failed * 100 >= uint64_t{c.failure_threshold_percent} * total)) {
    return Halt(c, devs);
  }
  // One pass over the waiting devices. Assign() may finish a device at once (it already runs
  // the target, was deleted, or a newer campaign holds it), which frees its slot.
  auto assign_range = [&](size_t from, size_t to, uint64_t batch) -> Status {
    uint64_t in_batch = 0;
    uint64_t batch_in_flight = 0;
    for (size_t i = from; i < to; ++i) {
      if (devs[i].state != DeviceRolloutState::kWaiting) continue;
      if (batch > 0 && in_batch == batch) {
        if (batch_in_flight > 0) break;  // rolling: the next batch once this one is done
        in_batch = batch_in_flight = 0;
      }
      OXIDE_RETURN_IF_ERROR(Assign(c, devs[i]));
      ++in_batch;
      batch_in_flight += InFlight(devs[i].state) ? 1 : 0;
    }
    return Status::Ok();
  };
  switch (c.strategy) {
    case store::CampaignStrategy::kAllAtOnce:
      OXIDE_RETURN_IF_ERROR(assign_range(0, devs.size(), 0));
      break;
    case store::CampaignStrategy::kCanary: {
      size_t wave =
          std::min<size_t>(devs.size(), std::max<size_t>(1, (total * c.canary_percent + 99) / 100));
      OXIDE_RETURN_IF_ERROR(assign_range(0, wave, 0));
      bool wave_done = true, wave_healthy = true;
      for (size_t i = 0; i < wave; ++i) {
        wave_done = wave_done && IsTerminal(devs[i].state);
        wave_healthy = wave_healthy && !IsFailure(devs[i].state);
      }
      if (!wave_done) break;
      if (!wave_healthy) return Halt(c, devs);
      const bool rest_waiting =
          std::any_of(devs.begin() + static_cast<std::ptrdiff_t>(wave), devs.end(),
                      [](const auto& d) { return d.state == DeviceRolloutState::kWaiting; });
      if (c.require_approval && c.approved_at == 0 && rest_waiting) {
        return Apply(c, CampaignEvent::kCanaryPassed);  // awaiting_approval, until approved
      }
      OXIDE_RETURN_IF_ERROR(assign_range(wave, devs.size(), 0));
      break;
    }
    case store::CampaignStrategy::kRolling:
      if (in_flight > 0) break;
      OXIDE_RETURN_IF_ERROR(assign_range(0, devs.size(), c.batch_size));
      break;
  }
  if (std::all_of(devs.begin(), devs.end(), [](const auto& d) { return IsTerminal(d.state); })) {
    // The final state says what happened: plain `completed` only without a failure.
    uint64_t completed = 0, failures = 0;
    for (const auto& d : devs) {
      completed += d.state == DeviceRolloutState::kCompleted ? 1 : 0;
      failures += IsFailure(d.state) ? 1 : 0;
    }
    CampaignEvent e = failures == 0    ? CampaignEvent::kAllDone
                      : completed == 0 ? CampaignEvent::kAllFailed
                                       : CampaignEvent::kAllDoneWithFailures;
    return Apply(c, e);
  }
  return Status::Ok();
}

Status CampaignService::Halt(store::CampaignRecord& c,
                             std::vector<store::CampaignDeviceRecord>& devs) {
  OXIDE_RETURN_IF_ERROR(Apply(c, CampaignEvent::kThresholdReached));
  // No device receives this campaign's assignment again: every unfinished one is withdrawn (a
  // download in flight is abandoned by the agent; an activated model commits or rolls back).
  for (auto& d : devs) {
    if (!InFlight(d.state)) continue;
    OXIDE_RETURN_IF_ERROR(HandBack(c, d));
    OXIDE_RETURN_IF_ERROR(Move(d, RolloutEvent::kWithdraw, "campaign halted"));
  }
  return Status::Ok();
}

Status CampaignService::Move(store::CampaignDeviceRecord& d, RolloutEvent e, std::string error) {
  const DeviceRolloutState from = d.state;
  OXIDE_ASSIGN_OR_RETURN(d.state, NextRolloutState(d.state, e));
  if (log::Enabled(log::Level::kDebug)) {
    std::vector<log::Field> fields = {{"campaign", d.campaign_id},
                                      {"device", d.device_id},
                                      {"from", store::ToString(from)},
                                      {"to", store::ToString(d.state)}};
    if (!error.empty()) fields.emplace_back("error", error);
    log::Write(log::Level::kDebug, "campaign device", fields);
  }
  d.error = std::move(error);
  d.updated_at = clock_.UnixMillis();
  OXIDE_RETURN_IF_ERROR(store_.campaigns().UpdateDevice(d));
  PublishDevice(d, false);
  return Status::Ok();
}

void CampaignService::PublishState(const std::string& id, store::CampaignState state,
                                   std::string_view previous) {
  if (events_ == nullptr) return;
  events_->PublishAfterCommit(
      EventType::kCampaignState, [this, id, state, prev = std::string(previous)] {
        store::CampaignRecord c;
        c.id = id;
        auto stored = store_.campaigns().Get(id);
        if (stored.ok()) c = *stored;
        auto devices = store_.campaigns().ListDevices(id);
        c.state = state;  // this transition's state, even when a later one followed
        return CampaignStateData(
            c, devices.ok() ? *devices : std::vector<store::CampaignDeviceRecord>{}, prev);
      });
}

void CampaignService::PublishDevice(const store::CampaignDeviceRecord& d, bool progress_only) {
  if (events_ == nullptr) return;
  const std::string key = d.campaign_id + "/" + d.device_id;
  {
    std::lock_guard<std::mutex> lock(progress_mu_);
    const Clock::Duration now = clock_.Now();
    auto it = progress_sent_.find(key);
    if (progress_only && it != progress_sent_.end() && now - it->second < std::chrono::seconds(1)) {
      return;
    }
    if (IsTerminal(d.state)) {
      if (it != progress_sent_.end()) progress_sent_.erase(it);
    } else {
      if (progress_sent_.size() > 100'000) progress_sent_.clear();  // bounded, whatever happens
      progress_sent_[key] = now;
    }
  }
  events_->Publish(EventType::kCampaignDevice, CampaignDeviceData(d));
}

Status CampaignService::Assign(const store::CampaignRecord& c, store::CampaignDeviceRecord& d) {
  auto dev = store_.devices().Get(d.device_id);
  if (dev.status().code() == ErrorCode::kNotFound) {
    return Move(d, RolloutEvent::kWithdraw, "device was deleted");
  }
  OXIDE_RETURN_IF_ERROR(dev.status());
  OXIDE_ASSIGN_OR_RETURN(auto current, store_.assignments().Get(d.device_id));
  if (current && current->campaign_id != c.id) {
    auto other = store_.campaigns().Get(current->campaign_id);
    if (other.ok() && other->seq > c.seq) {
      return Move(d, RolloutEvent::kSuperseded, "superseded by campaign " + other->id);
    }
    if (other.ok()) {
      auto od = store_.campaigns().GetDevice(other->id, d.device_id);
      if (od.ok() && !IsTerminal(od->state)) {
        OXIDE_RETURN_IF_ERROR(
            Move(*od, RolloutEvent::kSuperseded, "superseded by campaign " + c.id));
        // The older campaign may be waiting for this device (canary wave, rolling batch).
        // Bounded: Advance(older) only ever supersedes campaigns older still.
        OXIDE_RETURN_IF_ERROR(Advance(other->id));
      }
    }
    d.previous = current;
  }
  store::AssignmentRecord a{d.device_id,     c.id,         c.model_id, c.version,
                            c.target_sha256, c.target_size};
  OXIDE_RETURN_IF_ERROR(store_.assignments().Put(a));
  return Move(d, RunsTarget(*dev, a) ? RolloutEvent::kAlreadyOnTarget : RolloutEvent::kAssign, "");
}

Status CampaignService::HandBack(const store::CampaignRecord& c,
                                 const store::CampaignDeviceRecord& d) {
  OXIDE_ASSIGN_OR_RETURN(auto current, store_.assignments().Get(d.device_id));
  if (!current || current->campaign_id != c.id) return Status::Ok();
  if (d.previous) {
    auto prev_c = store_.campaigns().Get(d.previous->campaign_id);
    auto prev_d = store_.campaigns().GetDevice(d.previous->campaign_id, d.device_id);
    if (prev_c.ok() && prev_d.ok()) {
      const bool active = prev_c->state == store::CampaignState::kRollingOut ||
                          prev_c->state == store::CampaignState::kPaused;
      const bool finished = prev_d->state == DeviceRolloutState::kCompleted;
      if (active || finished) {
        if (prev_d->state == DeviceRolloutState::kSuperseded) {
          OXIDE_RETURN_IF_ERROR(Move(*prev_d, RolloutEvent::kReinstate, ""));
        }
        store::AssignmentRecord prev = *d.previous;
        prev.device_id = d.device_id;
        return store_.assignments().Put(prev);
      }
    }
  }
  return store_.assignments().Delete(d.device_id);
}

Status CampaignService::Withdraw(const store::CampaignRecord& c) {
  OXIDE_ASSIGN_OR_RETURN(auto devs, store_.campaigns().ListDevices(c.id));
  for (auto& d : devs) {
    if (d.state == DeviceRolloutState::kCompleted || d.state == DeviceRolloutState::kSuperseded ||
        d.state == DeviceRolloutState::kWithdrawn) {
      continue;
    }
    OXIDE_RETURN_IF_ERROR(HandBack(c, d));
    // Failed and rolled-back entries keep their state (history); the rest are withdrawn.
    if (!IsTerminal(d.state)) {
      OXIDE_RETURN_IF_ERROR(Move(d, RolloutEvent::kWithdraw, "campaign aborted"));
    }
  }
  return Status::Ok();
}

Status CampaignService::OnDeviceDeleted(const std::string& device_id) {
  OXIDE_ASSIGN_OR_RETURN(auto entries, store_.campaigns().ListForDevice(device_id));
  std::vector<std::string> affected;
  for (auto& d : entries) {
    if (IsTerminal(d.state)) continue;
    OXIDE_RETURN_IF_ERROR(Move(d, RolloutEvent::kWithdraw, "device was deleted"));
    affected.push_back(d.campaign_id);
  }
  for (const auto& id : affected) OXIDE_RETURN_IF_ERROR(Advance(id));
  return Status::Ok();
}

namespace {

// The attempt of this heartbeat about the assignment `a`, if any: the oldest new one that names
// the assignment's campaign (or no campaign, for the same model and version), a real failure
// before any local fault (a full disk, then a failed health check after the retry: the failure
// is what happened to this version).
const store::AttemptRecord* AttemptFor(const HeartbeatFacts& facts,
                                       const store::AssignmentRecord& a) {
  const store::AttemptRecord* local = nullptr;
  for (const auto& at : facts.attempts) {
    if (at.outcome == store::AttemptOutcome::kFallback) continue;
    bool same_campaign = at.campaign_id.empty()
                             ? at.model_id == a.model_id && at.version == a.version
                             : at.campaign_id == a.campaign_id;
    if (!same_campaign) continue;
    if (!at.local) return &at;
    if (local == nullptr) local = &at;
  }
  return local;
}

}  // namespace

Status CampaignService::OnHeartbeat(const store::DeviceRecord& device, const HeartbeatFacts& facts,
                                    const std::optional<store::AssignmentRecord>& a, bool* wrote) {
  const auto& update = facts.update;
  if (!a) return Status::Ok();
  auto found = store_.campaigns().GetDevice(a->campaign_id, device.id);
  if (found.status().code() == ErrorCode::kNotFound) return Status::Ok();
  OXIDE_RETURN_IF_ERROR(found.status());
  store::CampaignDeviceRecord d = std::move(found).value();
  OXIDE_ASSIGN_OR_RETURN(auto c, store_.campaigns().Get(a->campaign_id));
  if (d.state != DeviceRolloutState::kCompleted &&
      (c.state == store::CampaignState::kHalted || c.state == store::CampaignState::kAborted ||
       IsFailure(d.state))) {
    // A stopped campaign, or a device that failed it, never hands the device this assignment
    // again (also for entries written before halting withdrew everything).
    *wrote = true;
    OXIDE_RETURN_IF_ERROR(HandBack(c, d));
    if (!IsTerminal(d.state)) {
      OXIDE_RETURN_IF_ERROR(
          Move(d, RolloutEvent::kWithdraw, "campaign " + std::string(ToString(c.state))));
    }
    return Status::Ok();
  }
  if (IsTerminal(d.state)) return Status::Ok();
  const store::CampaignDeviceRecord before = d;
  std::optional<RolloutEvent> event;
  // An agent without reports: its failure (or local fault) goes into the history here.
  bool synthesize = false;
  bool local = false;
  const store::AttemptRecord* attempt = AttemptFor(facts, *a);
  if (RunsTarget(device, *a)) {
    event = RolloutEvent::kCompleted;
    d.error.clear();
  } else if (attempt != nullptr) {
    event = attempt->local                                           ? RolloutEvent::kLocalFault
            : attempt->outcome == store::AttemptOutcome::kRolledBack ? RolloutEvent::kRolledBack
                                                                     : RolloutEvent::kFailed;
    d.error = attempt->error.substr(0, 1024);
  } else if (update && update->model_id == a->model_id && update->version == a->version) {
    event = EventFor(update->stage);
    d.bytes_done = update->bytes_done;
    d.bytes_total = update->bytes_total;
    const bool failure = event == RolloutEvent::kFailed || event == RolloutEvent::kRolledBack;
    if (failure && facts.agent_reports) {
      event.reset();  // the report decides (this block may describe an older attempt)
    } else {
      d.error = update->error.substr(0, 1024);
      if (failure && update->local_fault) {
        event = RolloutEvent::kLocalFault;
        synthesize = local = true;
      } else if (failure) {
        synthesize = true;
      }
    }
  } else if (facts.last_update_result && facts.last_update_result->failed &&
             facts.last_update_result_changed && !facts.agent_reports) {
    // The reference agent's failure report names no version: a new one is about the
    // assignment (a repeated one is about whatever failed before).
    event = RolloutEvent::kFailed;
    d.error = facts.last_update_result->error.substr(0, 1024);
    synthesize = true;
  }
  if (event) {
    auto next = NextRolloutState(d.state, *event);
    if (next.ok()) {
      d.state = *next;
    } else {  // device input: an impossible report is logged and ignored, never fatal
      log::Warn("ignored an impossible progress report",
                {{"device", device.id}, {"error", next.status().ToString()}});
      d = before;
      synthesize = false;
    }
  }
  if (!IsTerminal(d.state) && !device.current_sha256.empty()) {
    // On-demand preparation for whatever base this device really has.
    auto existing = store_.patches().Get(device.current_sha256, a->sha256);
    if (existing.status().code() == ErrorCode::kNotFound) {
      OXIDE_RETURN_IF_ERROR(models_.EnsurePatch(device.current_sha256, a->sha256).status());
    }
  }
  if (d.state == before.state && d.bytes_done == before.bytes_done &&
      d.bytes_total == before.bytes_total && d.error == before.error) {
    return Status::Ok();
  }
  *wrote = true;
  d.updated_at = clock_.UnixMillis();
  OXIDE_RETURN_IF_ERROR(store_.campaigns().UpdateDevice(d));
  PublishDevice(d, d.state == before.state);
  if (d.state != before.state) {
    std::vector<log::Field> fields = {{"campaign", d.campaign_id},
                                      {"device", device.id},
                                      {"from", store::ToString(before.state)},
                                      {"to", store::ToString(d.state)}};
    if (!d.error.empty()) fields.emplace_back("error", d.error);
    log::Write(IsFailure(d.state) ? log::Level::kWarn : log::Level::kInfo, "campaign device",
               fields);
  }
  // Reached only when the device's entry changed: a block repeated by later heartbeats is
  // recorded once.
  if (synthesize && (local || IsFailure(d.state))) {
    store::AttemptRecord at;
    at.device_id = device.id;
    at.campaign_id = c.id;
    at.model_id = a->model_id;
    at.version = a->version;
    at.local = local;
    const bool rolled_back = local ? update->stage == protocol::UpdateStage::kRolledBack
                                   : d.state == DeviceRolloutState::kRolledBack;
    at.outcome = rolled_back ? store::AttemptOutcome::kRolledBack : store::AttemptOutcome::kFailed;
    at.error = d.error;
    at.at = d.updated_at;
    OXIDE_RETURN_IF_ERROR(store_.attempts().Add(at).status());
  }
  if (IsFailure(d.state)) {
    // The device told us this version does not work there: it gets its previous assignment
    // back now instead of retrying (and failing) again.
    OXIDE_RETURN_IF_ERROR(HandBack(c, d));
  }
  return d.state == before.state ? Status::Ok() : Advance(d.campaign_id);
}

}  // namespace oxide::server
