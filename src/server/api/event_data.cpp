#include "server/api/event_data.hpp"

#include "server/api/internal/json_util.hpp"
#include "server/api/internal/views.hpp"

namespace oxide::server::api {

std::string DeviceChangedData(const store::DeviceRecord& d, std::string_view change,
                              std::string_view status) {
  return Dump(Json{{"device_id", d.id},
                   {"change", change},
                   {"status", status},
                   {"model_id", d.current_model},
                   {"version", d.current_version}});
}

std::string CampaignStateData(const store::CampaignRecord& c,
                              const std::vector<store::CampaignDeviceRecord>& devices,
                              std::string_view previous_state) {
  CampaignDetail detail;
  detail.campaign = c;
  detail.devices = devices;
  return Dump(Json{{"campaign_id", c.id},
                   {"state", ToString(c.state)},
                   {"previous_state", previous_state},
                   {"summary", CampaignSummaryJson(detail)}});
}

std::string CampaignDeviceData(const store::CampaignDeviceRecord& d) {
  return Dump(Json{{"campaign_id", d.campaign_id},
                   {"device_id", d.device_id},
                   {"state", ToString(d.state)},
                   {"bytes_done", d.bytes_done},
                   {"bytes_total", d.bytes_total},
                   {"error", d.error}});
}

std::string PatchData(const store::PatchRecord& p, const PatchEventInfo& info) {
  return Dump(Json{{"model_id", info.model_id},
                   {"base_version", info.base_version},
                   {"target_version", info.target_version},
                   {"base_sha256", p.base_sha256},
                   {"target_sha256", p.target_sha256},
                   {"strategy", p.strategy},
                   {"size_bytes", p.patch_size},
                   {"full_size_bytes", info.full_size_bytes},
                   {"duration_ms", info.duration_ms},
                   {"error", p.error}});
}

}  // namespace oxide::server::api
