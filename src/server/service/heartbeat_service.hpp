#pragma once

#include <string>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "protocol/heartbeat.hpp"
#include "server/service/campaign_service.hpp"
#include "server/service/options.hpp"
#include "store/store.hpp"

namespace oxide::server {

// POST /devices/:id/heartbeat: records liveness and what the device runs, feeds campaign
// progress, and answers with the device's assignment. One store transaction per heartbeat.
class HeartbeatService {
 public:
  HeartbeatService(store::Store& store, const Clock& clock, CampaignService& campaigns,
                   ServiceOptions options)
      : store_(store), clock_(clock), campaigns_(campaigns), options_(options) {}

  // kNotFound for an unknown device (the agent then registers itself), kInvalidArgument for
  // a bad id or oversized fields.
  Result<protocol::HeartbeatResponse> Handle(const std::string& device_id,
                                             const protocol::HeartbeatRequest& req);

 private:
  store::Store& store_;
  const Clock& clock_;
  CampaignService& campaigns_;
  ServiceOptions options_;
};

}  // namespace oxide::server
