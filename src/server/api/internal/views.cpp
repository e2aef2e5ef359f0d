#include "server/api/internal/views.hpp"

#include "server/service/campaign_summary.hpp"

namespace oxide::server::api {

Json AssignmentJson(const std::optional<store::AssignmentRecord>& a) {
  if (!a) return nullptr;
  return Json{{"model_id", a->model_id},
              {"version", a->version},
              {"sha256", a->sha256},
              {"size_bytes", a->size_bytes},
              {"campaign_id", a->campaign_id}};
}

Json AttemptJson(const store::AttemptRecord& a) {
  return Json{{"device_id", a.device_id},
              {"campaign_id", a.campaign_id.empty() ? Json(nullptr) : Json(a.campaign_id)},
              {"model_id", a.model_id},
              {"version", a.version},
              {"outcome", std::string(ToString(a.outcome))},
              {"stage", std::string(ToString(a.stage))},
              {"local", a.local},
              {"exit_status", a.exit_status ? Json(*a.exit_status) : Json(nullptr)},
              {"error", a.error},
              {"output", a.output.empty() ? Json(nullptr) : Json(a.output)},
              {"at", TimeJson(a.at)},
              {"device_time", TimeJson(a.device_at)}};
}

Json HistoryJson(const std::vector<store::AttemptRecord>& history) {
  Json out = Json::array();
  for (const auto& a : history) out.push_back(AttemptJson(a));
  return out;
}

// The reference's "last_update_result": "success" | {"failed": {"error": "..."}} | null.
Json LastUpdateResultJson(const store::DeviceRecord& d) {
  switch (d.last_result) {
    case store::UpdateResult::kSuccess:
      return "success";
    case store::UpdateResult::kFailed:
      return Json{{"failed", {{"error", d.last_result_error}}}};
    case store::UpdateResult::kNone:
      break;
  }
  return nullptr;
}

// The device's last inventory (same shape as the heartbeat's, plus updated_at), {} when none.
Json InventoryJson(const store::DeviceInventory& inv) {
  if (inv.updated_at == 0) return Json::object();
  Json attributes = Json::object();
  for (const auto& [k, val] : inv.attributes) attributes[k] = val;
  return Json{{"os", inv.os},
              {"os_version", inv.os_version},
              {"arch", inv.arch},
              {"agent_version", inv.agent_version},
              {"free_disk_bytes", inv.free_disk_bytes ? Json(*inv.free_disk_bytes) : Json(nullptr)},
              {"attributes", attributes},
              {"updated_at", TimeJson(inv.updated_at)}};
}

Json StringMapJson(const std::map<std::string, std::string>& m) {
  Json out = Json::object();
  for (const auto& [k, val] : m) out[k] = val;
  return out;
}

// {"tags":{...},"inventory":{...}} as given at creation, or null.
Json TargetJson(const std::optional<store::CampaignTarget>& t) {
  if (!t) return nullptr;
  return Json{{"tags", StringMapJson(t->tags)}, {"inventory", StringMapJson(t->inventory)}};
}

Json DeviceJson(const DeviceView& v) {
  const auto& d = v.device;
  Json tags = Json::object();
  for (const auto& [k, val] : d.tags) tags[k] = val;
  auto opt = [](const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); };
  return Json{
      {"id", d.id},
      {"name", d.name},
      {"status", std::string(ToString(v.liveness))},
      {"reported_status", opt(d.reported_status)},
      {"agent_version", opt(d.agent_version)},
      {"tags", tags},
      {"current_model", opt(d.current_model)},
      {"current_model_version", opt(d.current_version)},
      {"current_sha256", opt(d.current_sha256)},
      {"assigned_model", v.assignment ? Json(v.assignment->model_id) : Json(nullptr)},
      {"assigned_model_version", v.assignment ? Json(v.assignment->version) : Json(nullptr)},
      {"assignment", AssignmentJson(v.assignment)},
      {"last_heartbeat", TimeJson(d.last_seen)},
      {"created_at", TimeJson(d.created_at)},
      {"bytes_served", d.bytes_served},
      {"bytes_full_equivalent", d.bytes_full},
      {"platform", d.platform_os.empty() && d.platform_arch.empty()
                       ? Json(nullptr)
                       : Json{{"os", d.platform_os},
                              {"arch", d.platform_arch},
                              {"cpu_count", d.platform_cpus}}},
      {"fleet_id", v.fleets.empty() ? Json(nullptr) : Json(v.fleets.front())},
      {"fleets", v.fleets},
      {"last_update_result", LastUpdateResultJson(d)},
      {"inventory", InventoryJson(d.inventory)}};
}

Json DeviceDetailJson(const DeviceView& v) {
  Json j = DeviceJson(v);
  j["history"] = HistoryJson(v.history);
  return j;
}

Json CampaignSummaryJson(const CampaignDetail& c) {
  Json out = Json::object();
  ForEachSummaryField(SummarizeCampaign(c.campaign, c.devices),
                      [&](const char* name, uint64_t value) { out[name] = value; });
  return out;
}

Json CampaignListItemJson(const CampaignDetail& c) {
  Json s = CampaignSummaryJson(c);
  return Json{{"id", c.campaign.id},
              {"model_id", c.campaign.model_id},
              {"target_version", c.campaign.version},
              {"fleet_id", c.campaign.fleet_id},
              {"strategy", std::string(ToString(c.campaign.strategy))},
              {"state", std::string(ToString(c.campaign.state))},
              {"target", TargetJson(c.campaign.target)},
              {"require_approval", c.campaign.require_approval},
              {"allow_signature_change", c.campaign.allow_signature_change},
              {"created_at", TimeJson(c.campaign.created_at)},
              {"total", s["total"]},
              {"complete", s["complete"]},
              {"failed", s["failed"]},
              {"rolled_back", s["rolled_back"]},
              {"withdrawn", s["withdrawn"]},
              {"superseded", s["superseded"]}};
}

Json CampaignDetailJson(const CampaignDetail& c, DeviceService& devices) {
  const auto& r = c.campaign;
  Json summary = CampaignSummaryJson(c);
  Json devs = Json::array();
  for (const auto& d : c.devices) {
    auto view = devices.Get(d.device_id);
    devs.push_back(
        Json{{"device_id", d.device_id},
             {"state", std::string(ToString(d.state))},
             {"status", view.ok() ? Json(std::string(ToString(view->liveness))) : Json(nullptr)},
             {"bytes_done", d.bytes_done},
             {"bytes_total", d.bytes_total},
             {"error", d.error.empty() ? Json(nullptr) : Json(d.error)},
             {"bytes_served", d.bytes_served},
             {"bytes_full_equivalent", d.bytes_full},
             {"updated_at", TimeJson(d.updated_at)}});
  }
  return Json{{"id", r.id},
              {"campaign_id", r.id},
              {"model_id", r.model_id},
              {"target_version", r.version},
              {"target_sha256", r.target_sha256},
              {"target_size", r.target_size},
              {"fleet_id", r.fleet_id},
              {"strategy", std::string(ToString(r.strategy))},
              {"canary_percent", r.canary_percent},
              {"batch_size", r.batch_size},
              {"failure_threshold_count", r.failure_threshold_count},
              {"failure_threshold_percent", r.failure_threshold_percent},
              {"target", TargetJson(r.target)},
              {"require_approval", r.require_approval},
              {"allow_signature_change", r.allow_signature_change},
              {"approved_at", TimeJson(r.approved_at)},
              {"state", std::string(ToString(r.state))},
              {"created_at", TimeJson(r.created_at)},
              {"updated_at", TimeJson(r.updated_at)},
              {"total_devices", c.devices.size()},
              {"summary", summary},
              {"devices", devs},
              {"first_failure", c.first_failure ? AttemptJson(*c.first_failure) : Json(nullptr)},
              {"history", HistoryJson(c.history)},
              {"bandwidth",
               {{"bytes_served", r.bytes_served},
                {"bytes_full_equivalent", r.bytes_full},
                {"bytes_saved_by_delta", summary["bytes_saved"]}}}};
}

}  // namespace oxide::server::api
