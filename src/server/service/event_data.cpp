#include "server/service/event_data.hpp"

#include <nlohmann/json.hpp>

#include "server/service/campaign_summary.hpp"

namespace oxide::server {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

}  // namespace

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
  Json summary = Json::object();
  ForEachSummaryField(SummarizeCampaign(c, devices),
                      [&](const char* name, uint64_t value) { summary[name] = value; });
  return Dump(Json{{"campaign_id", c.id},
                   {"state", ToString(c.state)},
                   {"previous_state", previous_state},
                   {"summary", summary}});
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

}  // namespace oxide::server
