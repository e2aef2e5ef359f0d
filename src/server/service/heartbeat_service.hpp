#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "protocol/heartbeat.hpp"
#include "server/metrics.hpp"
#include "server/service/campaign_service.hpp"
#include "server/service/events.hpp"
#include "server/service/group_commit.hpp"
#include "server/service/options.hpp"
#include "store/store.hpp"

namespace oxide::server {

// POST /devices/:id/heartbeat: records liveness, platform and what the device runs, stores the
// failure reports it carries (each (device, report id) once, so a re-sent report is harmless),
// feeds campaign progress, takes the acknowledgements of refusal clearances, and answers with
// the device's assignment and the clearances still pending. Concurrent heartbeats share one
// store transaction (GroupCommit), each in its own savepoint; a heartbeat is answered once that
// transaction committed.
class HeartbeatService {
 public:
  static constexpr size_t kMaxReports = 32;

  HeartbeatService(store::Store& store, const Clock& clock, CampaignService& campaigns,
                   ServiceOptions options)
      : store_(store),
        clock_(clock),
        campaigns_(campaigns),
        options_(options),
        group_(store, nullptr) {}

  // events: device.changed (online, updated) and, through the campaigns, campaign events of a
  // heartbeat go there once its transaction committed (null: nowhere). Set before use.
  void SetEvents(EventBus* events) {
    events_ = events;
    group_.SetEvents(events);
  }

  // kNotFound for an unknown device (the agent then registers itself), kInvalidArgument for
  // a bad id or oversized fields, kUnavailable when too many heartbeats wait to be stored.
  using Completion = std::function<void(Result<protocol::HeartbeatResponse>)>;
  // Validates, hands the heartbeat to the group committer and returns without waiting; done is
  // called exactly once: at once for a refused request, else on the committer thread after
  // the transaction holding the heartbeat ended (answer only then: it is durable).
  void HandleAsync(std::string device_id, protocol::HeartbeatRequest req, Completion done);
  // HandleAsync, waiting for the outcome (tests, tools).
  Result<protocol::HeartbeatResponse> Handle(const std::string& device_id,
                                             const protocol::HeartbeatRequest& req);

  // Counts each newly stored failure report (after the commit). Null: none. Set before use.
  void SetMetrics(Metrics* metrics) { metrics_ = metrics; }

  const GroupCommit& group_commit() const { return group_; }
  GroupCommit& group_commit() { return group_; }

 private:
  static Status Validate(const std::string& device_id, const protocol::HeartbeatRequest& req);
  // The store work of one heartbeat (a savepoint of a group-committed transaction).
  Status Apply(const std::string& device_id, const protocol::HeartbeatRequest& req,
               protocol::HeartbeatResponse* resp, std::vector<store::AttemptStage>* new_failures);
  void PublishDeviceChange(const store::DeviceRecord& before, const store::DeviceRecord& after);

  store::Store& store_;
  const Clock& clock_;
  CampaignService& campaigns_;
  ServiceOptions options_;
  Metrics* metrics_ = nullptr;
  EventBus* events_ = nullptr;
  GroupCommit group_;
};

}  // namespace oxide::server
