#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "protocol/heartbeat.hpp"
#include "server/service/campaign_transitions.hpp"
#include "server/service/events.hpp"
#include "server/service/model_service.hpp"
#include "server/service/rollout_transitions.hpp"
#include "store/store.hpp"

namespace oxide::server {

struct CreateCampaignRequest {
  std::string model_id;
  std::string version;
  std::string fleet_id;  // may be empty when `target` is given
  store::CampaignStrategy strategy = store::CampaignStrategy::kAllAtOnce;  // parsed by the route
  std::optional<uint32_t> canary_percent;             // canary: first wave, 1-100 (default 10)
  std::optional<uint32_t> batch_size;                 // rolling: >= 1 (default 5)
  std::optional<uint32_t> failure_threshold_count;    // halt at this many failures (0 = off)
  std::optional<uint32_t> failure_threshold_percent;  // halt at this % failed (0 = off)
  // Targeting (issue #10): the devices (of the fleet, or of every device without one) whose
  // tags and inventory match, evaluated once here (campaign_target.hpp).
  std::optional<store::CampaignTarget> target = std::nullopt;
  bool require_approval = false;  // canary only: wait in awaiting_approval after the first wave
  // The version changes the model signature (ModelVersionRecord::signature_change) and the
  // operator rolls it out anyway; devices are told so (Assignment::signature_change_allowed).
  bool allow_signature_change = false;
};

// One page of the campaign list (GET /api/v1/campaigns).
struct CampaignFilter {
  std::string after;  // a campaign id: the ones created after it
  size_t limit = 500;
  std::optional<store::CampaignState> state = std::nullopt;
};

struct CampaignDetail {
  store::CampaignRecord campaign;
  std::vector<store::CampaignDeviceRecord> devices;  // by rollout order
  // Get() only: the failed attempts (and fallbacks) of this campaign, newest first (bounded),
  // and the oldest failure, whatever came after it.
  std::vector<store::AttemptRecord> history;
  std::optional<store::AttemptRecord> first_failure;
};

// What one heartbeat says about the device's updates (HeartbeatService builds it).
struct HeartbeatFacts {
  std::optional<protocol::UpdateProgress> update;
  // The agent sends failure reports: failures and local faults come from `attempts` only (they
  // name their campaign), never from the `update` block, which may be about an older attempt.
  bool agent_reports = false;
  std::vector<store::AttemptRecord> attempts;                    // newly stored by this heartbeat
  std::optional<protocol::LastUpdateResult> last_update_result;  // reference agents
  // last_update_result differs from the device's stored result: reference agents repeat it in
  // every heartbeat, and only a new one is about the current assignment.
  bool last_update_result_changed = false;
};

// Campaigns: creation, the rollout strategies (which devices are assigned when), operator
// actions (pause/resume/abort) and progress from heartbeats. State changes go through
// NextCampaignState only. Thread-safe; all references must outlive it.
//
// Rollout rules:
//  - all_at_once: every device is assigned at creation.
//  - canary: the first max(1, ceil(n*canary_percent/100)) devices; the rest once all of them
//    completed. A failure in that wave halts the campaign. With require_approval, a healthy wave
//    moves the campaign to awaiting_approval (when devices are left to assign) until an
//    operator approves it (Act(kApprove): rolling_out, the rest assigned).
//  - rolling: batch_size devices at a time; the next batch once none is in flight.
//  - A device that failed or rolled back keeps that outcome and gets its previous assignment
//    back at once (it does not retry this campaign). Local faults (disk full, model dir not
//    writable, health check missing) are not failures: the device stays in flight and retries.
//  - Failures reaching a threshold halt the campaign: no new assignments, and every device
//    that has not finished is withdrawn like on abort, so no device is handed this campaign's
//    assignment again (an activated update still commits or rolls back on the device).
//  - When every device is terminal the campaign ends: completed (no failure),
//    completed_with_failures (some failed, some completed) or failed (none completed). The
//    threshold is checked first: a last failure that reaches it ends the campaign halted.
//  - pause stops new assignments; abort withdraws every assignment not yet completed. The
//    device's previous assignment is restored only when its campaign is still active
//    (rolling out or paused; that campaign then tracks the device again as pending) or the
//    device completed it; otherwise the device is left without an assignment.
//  - A newer campaign supersedes an older one for a device it assigns; the older campaign then
//    advances (it may be waiting for that device).
//  - A deleted device is withdrawn from every campaign it had not finished (OnDeviceDeleted).
// Per-device states change through NextRolloutState only.
class CampaignService {
 public:
  CampaignService(store::Store& store, const Clock& clock, ModelService& models)
      : store_(store), clock_(clock), models_(models) {}

  // events: where campaign.state and campaign.device events go (null: nowhere). Set before use.
  void SetEvents(EventBus* events) { events_ = events; }

  // kInvalidArgument (bad ids, percentages, neither fleet nor target, a target matching no
  // device, require_approval without canary), kNotFound (model version or fleet),
  // kFailedPrecondition (409) for a version whose signature changed without
  // allow_signature_change; the message names the change.
  Result<CampaignDetail> Create(const CreateCampaignRequest& req);
  Result<CampaignDetail> Get(const std::string& id);
  Result<std::vector<CampaignDetail>> List();
  // One page, by creation; `next_after` is set when more campaigns match. kNotFound when
  // `after` names no campaign, kInvalidArgument for a limit outside 1-1000.
  Result<std::vector<CampaignDetail>> List(const CampaignFilter& filter, std::string* next_after);
  // kFailedPrecondition for a transition the table does not allow.
  Result<CampaignDetail> Act(const std::string& id, CampaignEvent event);

  // Queues a refusal clearance for the campaign's version on every device of the campaign that
  // did not complete it; returns how many. kNotFound for an unknown campaign.
  Result<uint64_t> ClearRefusals(const std::string& id);

  // Records what a heartbeat says about the device's assignment `assignment` (the device's
  // stored one, read by the caller in this transaction); `device` was just updated. Sets
  // *wrote when it may have changed campaign state or assignments (the caller then reads the
  // assignment again); left alone otherwise. Must run inside a store transaction
  // (HeartbeatService does).
  Status OnHeartbeat(const store::DeviceRecord& device, const HeartbeatFacts& facts,
                     const std::optional<store::AssignmentRecord>& assignment, bool* wrote);

  // Marks every unfinished campaign entry of a just-deleted device withdrawn and advances the
  // affected campaigns. Must run inside the store transaction that deleted the device.
  Status OnDeviceDeleted(const std::string& device_id);

 private:
  // Each campaign with its per-device rows.
  Result<std::vector<CampaignDetail>> WithDevices(std::vector<store::CampaignRecord> campaigns);
  Status Advance(const std::string& id);
  Status Halt(store::CampaignRecord& c, std::vector<store::CampaignDeviceRecord>& devs);
  Status Assign(const store::CampaignRecord& c, store::CampaignDeviceRecord& d);
  Status Move(store::CampaignDeviceRecord& d, RolloutEvent e, std::string error);
  Status HandBack(const store::CampaignRecord& c, const store::CampaignDeviceRecord& d);
  Status Withdraw(const store::CampaignRecord& c);
  Status Apply(store::CampaignRecord& c, CampaignEvent e);
  // The campaign's devices in rollout order: the fleet's members (or every device) that match
  // the target. kInvalidArgument when a target matches none.
  Result<std::vector<std::string>> Audience(const CreateCampaignRequest& req);
  std::string NewId();
  // events: campaign.state once the transaction committed (summary as committed), and
  // campaign.device; progress-only changes at most once per second per device.
  void PublishState(const std::string& id, store::CampaignState state, std::string_view previous);
  void PublishDevice(const store::CampaignDeviceRecord& d, bool progress_only);

  store::Store& store_;
  const Clock& clock_;
  ModelService& models_;
  EventBus* events_ = nullptr;
  std::mutex progress_mu_;
  std::unordered_map<std::string, Clock::Duration> progress_sent_;  // "campaign/device" → when
};

}  // namespace oxide::server
