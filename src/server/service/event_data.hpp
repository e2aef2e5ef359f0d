#pragma once

// The JSON data of each live event (docs/api.md, Events). Lives with the services that publish
// (services never include server/api); a campaign.state summary comes from campaign_summary.hpp,
// the same computation GET /api/v1/campaigns/:id shows. Services hand the text to
// EventBus::Publish, which adds "ts". JSON-free header.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/records.hpp"

namespace oxide::server {

// device.changed: {"device_id","change","status","model_id","version"}. `change` is one of
// registered|enrolled|accepted|rejected|revoked|removed|online|offline|updated|inventory|tags;
// `status` the device's liveness as the device list shows it ("online", "offline", "unknown").
std::string DeviceChangedData(const store::DeviceRecord& d, std::string_view change,
                              std::string_view status);

// campaign.state: {"campaign_id","state","previous_state","summary"}; previous_state is "" on
// creation.
std::string CampaignStateData(const store::CampaignRecord& c,
                              const std::vector<store::CampaignDeviceRecord>& devices,
                              std::string_view previous_state);

// campaign.device: {"campaign_id","device_id","state","bytes_done","bytes_total","error"}.
std::string CampaignDeviceData(const store::CampaignDeviceRecord& d);

// patch.built / patch.failed: {"model_id","base_version","target_version","base_sha256",
// "target_sha256","strategy","size_bytes","full_size_bytes","duration_ms","error"}. The model
// and versions are "" when no stored version has those bytes.
struct PatchEventInfo {
  std::string model_id;
  std::string base_version;
  std::string target_version;
  uint64_t full_size_bytes = 0;  // the target version's size
  int64_t duration_ms = 0;       // this build (0 when none ran: gave up)
};
std::string PatchData(const store::PatchRecord& p, const PatchEventInfo& info);

}  // namespace oxide::server
