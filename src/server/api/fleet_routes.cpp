// /api/v1/fleets...
#include "server/api/errors.hpp"
#include "server/api/internal/views.hpp"
#include "server/api/router.hpp"

namespace oxide::server::api {
namespace {

Json FleetJson(const FleetView& f) {
  Json tags = Json::object();
  for (const auto& [k, v] : f.fleet.tags) tags[k] = v;
  return Json{{"id", f.fleet.id},
              {"name", f.fleet.name},
              {"description", f.fleet.description},
              {"tags", tags},
              {"devices", f.device_ids},
              {"default_strategy", "all_at_once"},
              {"created_at", TimeJson(f.fleet.created_at)}};
}

Response Create(const ApiDeps& d, const Request& req) {
  auto body = ParseJsonObject(req, false);
  if (!body.ok()) return ErrorResponse(body.status());
  auto id = RequiredString(*body, "id");
  if (!id.ok()) return ErrorResponse(id.status());
  auto name = OptionalString(*body, "name");
  if (!name.ok()) return ErrorResponse(name.status());
  auto description = OptionalString(*body, "description");
  if (!description.ok()) return ErrorResponse(description.status());
  auto tags = OptionalStringMap(*body, "tags");
  if (!tags.ok()) return ErrorResponse(tags.status());
  Status st = d.fleets.Create(*id, name->value_or(*id), description->value_or(""), *tags);
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(201, Json{{"status", "created"}, {"id", *id}});
}

Response FleetStatusResponse(const ApiDeps& d, const std::string& id) {
  auto s = d.fleets.StatusOf(id);
  if (!s.ok()) return ErrorResponse(s.status());
  Json devices = Json::array();
  for (const auto& v : s->devices) {
    devices.push_back(Json{{"id", v.device.id},
                           {"status", std::string(ToString(v.liveness))},
                           {"current_model", v.device.current_model},
                           {"current_model_version", v.device.current_version},
                           {"assignment", AssignmentJson(v.assignment)}});
  }
  return JsonResponse(200, Json{{"fleet_id", s->fleet.id},
                                {"fleet_name", s->fleet.name},
                                {"total_devices", s->total},
                                {"online", s->online},
                                {"offline", s->offline},
                                {"error", 0},
                                {"unknown", s->unknown},
                                {"devices", devices}});
}

// Legacy: an all-at-once campaign for the fleet.
Response Deploy(const ApiDeps& d, const Request& req, const std::string& fleet_id) {
  auto body = ParseJsonObject(req, false);
  if (!body.ok()) return ErrorResponse(body.status());
  CreateCampaignRequest c;
  auto model = RequiredString(*body, "model_id");
  if (!model.ok()) return ErrorResponse(model.status());
  auto version = RequiredString(*body, "model_version");
  if (!version.ok()) return ErrorResponse(version.status());
  c.model_id = *model;
  c.version = *version;
  c.fleet_id = fleet_id;
  c.strategy = store::CampaignStrategy::kAllAtOnce;
  auto created = d.campaigns.Create(c);
  if (!created.ok()) return ErrorResponse(created.status());
  return JsonResponse(200, Json{{"status", "deployed"},
                                {"campaign_id", created->campaign.id},
                                {"total_devices", created->devices.size()},
                                {"successful", created->devices.size()},
                                {"failed", 0}});
}

}  // namespace

void AddFleetRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  const ApiDeps* dp = &d;
  routes->push_back({Method::kPost, "/api/v1/fleets",
                     [dp](const Request& req, const Params&) { return Create(*dp, req); }});
  routes->push_back({Method::kGet, "/api/v1/fleets", [dp](const Request&, const Params&) {
                       auto list = dp->fleets.List();
                       if (!list.ok()) return ErrorResponse(list.status());
                       Json out = Json::array();
                       for (const auto& f : *list) out.push_back(FleetJson(f));
                       return JsonResponse(200, out);
                     }});
  routes->back().access = Access::kViewer;
  routes->push_back({Method::kGet, "/api/v1/fleets/:id", [dp](const Request&, const Params& p) {
                       auto f = dp->fleets.Get(p[0]);
                       if (!f.ok()) return ErrorResponse(f.status());
                       return JsonResponse(200, FleetJson(*f));
                     }});
  routes->back().access = Access::kViewer;
  routes->push_back(
      {Method::kPost, "/api/v1/fleets/:id/devices/:did", [dp](const Request&, const Params& p) {
         Status st = dp->fleets.AddDevice(p[0], p[1]);
         if (!st.ok()) return ErrorResponse(st);
         return JsonResponse(200, Json{{"status", "added"}});
       }});
  routes->push_back(
      {Method::kDelete, "/api/v1/fleets/:id/devices/:did", [dp](const Request&, const Params& p) {
         Status st = dp->fleets.RemoveDevice(p[0], p[1]);
         if (!st.ok()) return ErrorResponse(st);
         return JsonResponse(200, Json{{"status", "removed"}});
       }});
  routes->push_back(
      {Method::kGet, "/api/v1/fleets/:id/status",
       [dp](const Request&, const Params& p) { return FleetStatusResponse(*dp, p[0]); }});
  routes->back().access = Access::kViewer;
  routes->push_back({Method::kPost, "/api/v1/fleets/:id/deploy",
                     [dp](const Request& req, const Params& p) { return Deploy(*dp, req, p[0]); }});
}

}  // namespace oxide::server::api
