#include "server/service/heartbeat_service.hpp"

#include <future>
#include <memory>
#include <utility>

#include "server/service/device_service.hpp"
#include "server/service/event_data.hpp"
#include "server/service/ids.hpp"

namespace oxide::server {
namespace {

bool IsLowerHexDigest(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status CheckLength(const char* field, const std::string& v, size_t max) {
  if (v.size() > max) {
    return InvalidArgument(std::string("field '") + field + "' is longer than " +
                           std::to_string(max) + " characters");
  }
  return Status::Ok();
}

// Report ids are the agent's: printable ASCII, bounded.
Status CheckReportId(const std::string& id) {
  if (id.empty() || id.size() > 64) return InvalidArgument("reports[].id must be 1-64 characters");
  for (char c : id) {
    if (c <= 0x20 || c >= 0x7f) return InvalidArgument("reports[].id must be printable ASCII");
  }
  return Status::Ok();
}

// Keeps the last `max` bytes: the end of a health check's output says why it failed.
std::string Tail(const std::string& s, size_t max) {
  return s.size() <= max ? s : s.substr(s.size() - max);
}

Status ValidateReports(const protocol::HeartbeatRequest& req) {
  if (!req.reports) return Status::Ok();
  if (req.reports->size() > HeartbeatService::kMaxReports) {
    return InvalidArgument("at most " + std::to_string(HeartbeatService::kMaxReports) +
                           " entries in 'reports'");
  }
  for (const auto& f : *req.reports) {
    OXIDE_RETURN_IF_ERROR(CheckReportId(f.id));
    OXIDE_RETURN_IF_ERROR(ValidateId("reports[].model_id", f.model_id));
    OXIDE_RETURN_IF_ERROR(ValidateId("reports[].version", f.version));
    if (!f.campaign_id.empty()) {
      OXIDE_RETURN_IF_ERROR(ValidateId("reports[].campaign_id", f.campaign_id));
    }
  }
  if (req.cleared_refusals.size() > 64) return InvalidArgument("at most 64 'cleared_refusals'");
  return Status::Ok();
}

store::AttemptRecord ToAttempt(const std::string& device_id, const protocol::FailureReport& f,
                               const std::optional<store::AssignmentRecord>& a, store::TimeMs now) {
  store::AttemptRecord r;
  r.device_id = device_id;
  r.report_id = f.id;
  r.campaign_id = f.campaign_id;
  if (r.campaign_id.empty() && a && a->model_id == f.model_id && a->version == f.version) {
    r.campaign_id = a->campaign_id;
  }
  r.model_id = f.model_id;
  r.version = f.version;
  // Same names on the wire and in the store (both round-trip tested).
  auto outcome = store::ParseAttemptOutcome(protocol::ToString(f.outcome));
  r.outcome = outcome.ok() ? *outcome : store::AttemptOutcome::kFailed;
  auto stage = store::ParseAttemptStage(protocol::ToString(f.stage));
  r.stage = stage.ok() ? *stage : store::AttemptStage::kUnknown;
  r.local = f.local;
  r.exit_status = f.exit_status;
  r.error = f.error.substr(0, 1024);
  r.output = Tail(f.output, 4096);
  r.at = now;
  r.device_at = f.at_ms;
  return r;
}

}  // namespace

void HeartbeatService::PublishDeviceChange(const store::DeviceRecord& before,
                                           const store::DeviceRecord& after) {
  if (events_ == nullptr) return;
  // Coming (back) online is detected here; going offline by the OfflineSweeper.
  const bool came_online =
      LivenessAt(before, after.last_seen, options_.offline_after_ms) != Liveness::kOnline;
  const bool updated = before.current_model != after.current_model ||
                       before.current_version != after.current_version;
  if (!came_online && !updated) return;
  events_->Publish(EventType::kDeviceChanged,
                   DeviceChangedData(after, came_online ? "online" : "updated", "online"));
}

Status HeartbeatService::Validate(const std::string& device_id,
                                  const protocol::HeartbeatRequest& req) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", device_id));
  OXIDE_RETURN_IF_ERROR(CheckLength("status", req.status, 64));
  OXIDE_RETURN_IF_ERROR(CheckLength("agent_version", req.agent_version, 64));
  OXIDE_RETURN_IF_ERROR(CheckLength("current_model", req.current_model.value_or(""), 128));
  OXIDE_RETURN_IF_ERROR(
      CheckLength("current_model_version", req.current_model_version.value_or(""), 128));
  if (req.models.size() > 64) return InvalidArgument("at most 64 entries in 'models'");
  for (const auto& m : req.models) {
    OXIDE_RETURN_IF_ERROR(ValidateId("models[].model_id", m.model_id));
    OXIDE_RETURN_IF_ERROR(ValidateId("models[].version", m.version));
    OXIDE_RETURN_IF_ERROR(CheckLength("models[].sha256", m.sha256, 128));
  }
  OXIDE_RETURN_IF_ERROR(ValidateReports(req));
  if (req.platform) {
    OXIDE_RETURN_IF_ERROR(CheckLength("platform.os", req.platform->os, 64));
    OXIDE_RETURN_IF_ERROR(CheckLength("platform.arch", req.platform->arch, 64));
  }
  return Status::Ok();
}

Status HeartbeatService::Apply(const std::string& device_id, const protocol::HeartbeatRequest& req,
                               protocol::HeartbeatResponse* resp,
                               std::vector<store::AttemptStage>* new_failures) {
  // Tags are not needed here: one statement less on the busiest path (SQLite).
  OXIDE_ASSIGN_OR_RETURN(store::DeviceRecord d, store_.devices().GetWithoutTags(device_id));
  const store::DeviceRecord before = d;
  d.last_seen = clock_.UnixMillis();
  d.reported_status = req.status;
  if (!req.agent_version.empty()) d.agent_version = req.agent_version;
  std::string model = req.current_model.value_or("");
  std::string version = req.current_model_version.value_or("");
  if (model.empty() && !req.models.empty()) {
    model = req.models.front().model_id;
    version = req.models.front().version;
  }
  std::string sha;
  for (const auto& m : req.models) {
    if (m.model_id == model && m.version == version && IsLowerHexDigest(m.sha256)) {
      sha = m.sha256;
    }
  }
  // A bare (timestamp-only) heartbeat keeps what the device last reported.
  if (req.current_model.has_value() || !req.models.empty()) {
    d.current_model = model;
    d.current_version = version;
    d.current_sha256 = sha;
  }
  if (req.platform) {
    d.platform_os = req.platform->os;
    d.platform_arch = req.platform->arch;
    d.platform_cpus = req.platform->cpu_count;
  }
  // "last_update_result" as the reference shows it: from the reference field, or from
  // how this agent's last update ended.
  // The reference agent repeats its last result in every heartbeat until the next
  // update ends: only a result that differs from the stored one is news.
  bool result_changed = false;
  if (req.last_update_result) {
    const auto result = req.last_update_result->failed ? store::UpdateResult::kFailed
                                                       : store::UpdateResult::kSuccess;
    std::string error = req.last_update_result->error.substr(0, 1024);
    result_changed = result != d.last_result || error != d.last_result_error;
    d.last_result = result;
    d.last_result_error = std::move(error);
  } else if (req.update && req.update->stage == protocol::UpdateStage::kCompleted) {
    d.last_result = store::UpdateResult::kSuccess;
    d.last_result_error.clear();
  } else if (req.update && (req.update->stage == protocol::UpdateStage::kFailed ||
                            req.update->stage == protocol::UpdateStage::kRolledBack)) {
    d.last_result = store::UpdateResult::kFailed;
    d.last_result_error = req.update->error.substr(0, 1024);
  }
  OXIDE_RETURN_IF_ERROR(store_.devices().RecordHeartbeat(d));
  bool inventory_changed = false;
  if (req.inventory) {
    OXIDE_ASSIGN_OR_RETURN(inventory_changed,
                           RecordInventory(store_, d, *req.inventory, d.last_seen));
  }
  PublishDeviceChange(before, d);
  // After "online": a device that comes back with a new inventory reads in that order.
  if (inventory_changed && events_ != nullptr)
    events_->Publish(EventType::kDeviceChanged, DeviceChangedData(d, "inventory", "online"));

  HeartbeatFacts facts;
  facts.update = req.update;
  facts.agent_reports = req.reports.has_value();
  facts.last_update_result = req.last_update_result;
  facts.last_update_result_changed = result_changed;
  // Read once: the reports, the campaign bookkeeping and the answer all start from it.
  OXIDE_ASSIGN_OR_RETURN(std::optional<store::AssignmentRecord> a,
                         store_.assignments().Get(device_id));
  const store::TimeMs now = clock_.UnixMillis();
  if (req.reports) {
    for (const auto& f : *req.reports) {
      store::AttemptRecord r = ToAttempt(device_id, f, a, now);
      OXIDE_ASSIGN_OR_RETURN(bool stored, store_.attempts().Add(r));
      if (stored) {  // a re-sent report counts once
        new_failures->push_back(r.stage);
        facts.attempts.push_back(std::move(r));
      }
    }
  }
  bool campaign_wrote = false;
  OXIDE_RETURN_IF_ERROR(campaigns_.OnHeartbeat(d, facts, a, &campaign_wrote));

  OXIDE_RETURN_IF_ERROR(store_.clearances().Acknowledge(device_id, req.cleared_refusals));
  OXIDE_ASSIGN_OR_RETURN(auto pending, store_.clearances().Pending(device_id));
  for (const auto& c : pending) {
    resp->clear_refusals.push_back(protocol::RefusalClearance{c.id, c.model_id, c.version});
  }
  // The campaign may have handed the device back its previous version or assigned it the next
  // wave's: the answer carries what is stored now.
  if (campaign_wrote) {
    OXIDE_ASSIGN_OR_RETURN(a, store_.assignments().Get(device_id));
  }
  if (a) {
    resp->assignment =
        protocol::Assignment{a->model_id, a->version, a->sha256, a->size_bytes, a->campaign_id, ""};
    // The signed release travels with the assignment; the agent verifies it.
    auto release = store_.releases().Get(a->model_id, a->version);
    if (release.ok()) resp->assignment->release = std::move(release).value();
    if (!release.ok() && release.status().code() != ErrorCode::kNotFound) {
      return release.status();
    }
    // The campaign's override tells the agent's builtin:inference check to accept a
    // version whose signature differs from the one it replaces.
    if (!a->campaign_id.empty()) {
      auto campaign = store_.campaigns().Get(a->campaign_id);
      if (campaign.ok()) {
        resp->assignment->signature_change_allowed = campaign->allow_signature_change;
      } else if (campaign.status().code() != ErrorCode::kNotFound) {
        return campaign.status();
      }
    }
    // The golden check travels too: the agent downloads it with the model (issue #11).
    OXIDE_ASSIGN_OR_RETURN(auto golden, store_.golden().Get(a->model_id, a->version));
    if (golden) {
      resp->assignment->golden_sha256 = golden->sha256;
      resp->assignment->golden_size = golden->size_bytes;
    }
  }
  return Status::Ok();
}

void HeartbeatService::HandleAsync(std::string device_id, protocol::HeartbeatRequest req,
                                   Completion done) {
  if (Status st = Validate(device_id, req); !st.ok()) return done(st);
  struct Pending {
    std::string device_id;
    protocol::HeartbeatRequest req;
    protocol::HeartbeatResponse resp;
    std::vector<store::AttemptStage> new_failures;
  };
  auto p = std::make_shared<Pending>();
  p->device_id = std::move(device_id);
  p->req = std::move(req);
  p->resp.poll_interval_seconds = options_.poll_interval_seconds;
  // Runs as one savepoint of a batch on the committer thread (its events are held until the
  // batch committed); answered from there once the batch's transaction ended.
  group_.Submit([this, p] { return Apply(p->device_id, p->req, &p->resp, &p->new_failures); },
                [this, p, done = std::move(done)](Status st) {
                  if (!st.ok()) return done(st);
                  if (metrics_ != nullptr) {
                    for (auto stage : p->new_failures) metrics_->AgentFailure(stage);
                  }
                  done(std::move(p->resp));
                });
}

Result<protocol::HeartbeatResponse> HeartbeatService::Handle(
    const std::string& device_id, const protocol::HeartbeatRequest& req) {
  std::promise<Result<protocol::HeartbeatResponse>> outcome;
  auto result = outcome.get_future();
  HandleAsync(device_id, req, [&outcome](Result<protocol::HeartbeatResponse> r) {
    outcome.set_value(std::move(r));
  });
  return result.get();
}

}  // namespace oxide::server
