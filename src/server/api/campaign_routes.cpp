// /api/v1/campaigns...
#include "server/api/errors.hpp"
#include "server/api/internal/views.hpp"
#include "server/api/router.hpp"

namespace oxide::server::api {
namespace {

Response Create(const ApiDeps& d, const Request& req) {
  auto body = ParseJsonObject(req, false);
  if (!body.ok()) return ErrorResponse(body.status());
  CreateCampaignRequest c;
  auto status = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(c.model_id, RequiredString(*body, "model_id"));
    OXIDE_ASSIGN_OR_RETURN(c.version, RequiredString(*body, "model_version"));
    OXIDE_ASSIGN_OR_RETURN(c.fleet_id, RequiredString(*body, "fleet_id"));
    OXIDE_ASSIGN_OR_RETURN(auto strategy, OptionalString(*body, "strategy"));
    if (strategy) {
      OXIDE_ASSIGN_OR_RETURN(c.strategy, store::ParseCampaignStrategy(*strategy));
    }
    OXIDE_ASSIGN_OR_RETURN(c.canary_percent, OptionalU32(*body, "canary_percent"));
    OXIDE_ASSIGN_OR_RETURN(c.batch_size, OptionalU32(*body, "batch_size"));
    OXIDE_ASSIGN_OR_RETURN(c.failure_threshold_count,
                           OptionalU32(*body, "failure_threshold_count"));
    OXIDE_ASSIGN_OR_RETURN(c.failure_threshold_percent,
                           OptionalU32(*body, "failure_threshold_percent"));
    return Status::Ok();
  }();
  if (!status.ok()) return ErrorResponse(status);
  auto created = d.campaigns.Create(c);
  if (!created.ok()) return ErrorResponse(created.status());
  return JsonResponse(201, CampaignDetailJson(*created, d.devices));
}

Response Act(const ApiDeps& d, const std::string& id, CampaignEvent e) {
  auto c = d.campaigns.Act(id, e);
  if (!c.ok()) return ErrorResponse(c.status());
  return JsonResponse(200, Json{{"id", id}, {"state", std::string(ToString(c->campaign.state))}});
}

}  // namespace

void AddCampaignRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  const ApiDeps* dp = &d;
  routes->push_back({Method::kPost, "/api/v1/campaigns",
                     [dp](const Request& req, const Params&) { return Create(*dp, req); }});
  routes->push_back({Method::kGet, "/api/v1/campaigns", [dp](const Request&, const Params&) {
                       auto list = dp->campaigns.List();
                       if (!list.ok()) return ErrorResponse(list.status());
                       Json out = Json::array();
                       for (const auto& c : *list) out.push_back(CampaignListItemJson(c));
                       return JsonResponse(200, Json{{"campaigns", out}});
                     }});
  routes->back().access = Access::kViewer;
  routes->push_back({Method::kGet, "/api/v1/campaigns/:id", [dp](const Request&, const Params& p) {
                       auto c = dp->campaigns.Get(p[0]);
                       if (!c.ok()) return ErrorResponse(c.status());
                       return JsonResponse(200, CampaignDetailJson(*c, dp->devices));
                     }});
  routes->back().access = Access::kViewer;
  const std::pair<const char*, CampaignEvent> actions[] = {{"pause", CampaignEvent::kPause},
                                                           {"resume", CampaignEvent::kResume},
                                                           {"abort", CampaignEvent::kAbort}};
  for (const auto& [name, event] : actions) {
    CampaignEvent e = event;
    routes->push_back({Method::kPost, std::string("/api/v1/campaigns/:id/") + name,
                       [dp, e](const Request&, const Params& p) { return Act(*dp, p[0], e); }});
  }
  routes->push_back({Method::kPost, "/api/v1/campaigns/:id/clear-refusals",
                     [dp](const Request&, const Params& p) {
                       auto n = dp->campaigns.ClearRefusals(p[0]);
                       if (!n.ok()) return ErrorResponse(n.status());
                       return JsonResponse(200, Json{{"status", "queued"}, {"devices", *n}});
                     }});
}

void AddSystemRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  const ApiDeps* dp = &d;
  routes->push_back(
      {Method::kGet, "/health", [](const Request&, const Params&) {
         return JsonResponse(200, Json{{"status", "healthy"}, {"service", "oxide-control-plane"}});
       }});
  routes->back().access = Access::kPublic;
  // Prometheus text format; the store gauges are counted now (a few COUNT queries).
  routes->push_back({Method::kGet, "/metrics", [dp](const Request&, const Params&) {
                       Response r;
                       r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4");
                       r.body = dp->metrics.Render([dp](ScrapeCounts* c) {
                         return dp->stats != nullptr && dp->stats->Counts(c).ok();
                       });
                       return r;
                     }});
  routes->back().access = Access::kViewer;
}

}  // namespace oxide::server::api
