// /api/v1/campaigns...
#include "server/api/errors.hpp"
#include "server/api/internal/query.hpp"
#include "server/api/internal/views.hpp"
#include "server/api/router.hpp"
#include "server/service/ids.hpp"

namespace oxide::server::api {
namespace {

Response Create(const ApiDeps& d, const Request& req) {
  auto body = ParseJsonObject(req, false);
  if (!body.ok()) return ErrorResponse(body.status());
  CreateCampaignRequest c;
  auto status = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(c.model_id, RequiredString(*body, "model_id"));
    OXIDE_ASSIGN_OR_RETURN(c.version, RequiredString(*body, "model_version"));
    OXIDE_ASSIGN_OR_RETURN(auto fleet, OptionalString(*body, "fleet_id"));
    c.fleet_id = fleet.value_or("");
    if (auto t = body->find("target"); t != body->end() && !t->is_null()) {
      if (!t->is_object()) return InvalidArgument("field 'target' must be an object");
      for (auto it = t->begin(); it != t->end(); ++it) {
        if (it.key() != "tags" && it.key() != "inventory") {
          return InvalidArgument("field 'target' takes 'tags' and 'inventory' only");
        }
      }
      store::CampaignTarget target;
      OXIDE_ASSIGN_OR_RETURN(target.tags, OptionalStringMap(*t, "tags"));
      OXIDE_ASSIGN_OR_RETURN(target.inventory, OptionalStringMap(*t, "inventory"));
      c.target = std::move(target);
    }
    if (auto a = body->find("require_approval"); a != body->end() && !a->is_null()) {
      if (!a->is_boolean()) return InvalidArgument("field 'require_approval' must be a boolean");
      c.require_approval = a->get<bool>();
    }
    if (auto a = body->find("allow_signature_change"); a != body->end() && !a->is_null()) {
      if (!a->is_boolean()) {
        return InvalidArgument("field 'allow_signature_change' must be a boolean");
      }
      c.allow_signature_change = a->get<bool>();
    }
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

Response List(const ApiDeps& d, const Request& req) {
  CampaignFilter f;
  auto parsed = [&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(auto q, QueryParams::Parse(req.query, {"limit", "after", "state"}));
    OXIDE_ASSIGN_OR_RETURN(f.limit, q.Limit(500, 1000));
    OXIDE_ASSIGN_OR_RETURN(auto after, q.One("after"));
    if (after && !IsValidId(*after)) return Corrupt("after must be a campaign id");
    f.after = after.value_or("");
    OXIDE_ASSIGN_OR_RETURN(auto state, q.One("state"));
    if (state) {
      auto s = store::ParseCampaignState(*state);
      if (!s.ok()) return Corrupt("unknown state '" + state->substr(0, 64) + "'");
      f.state = *s;
    }
    return Status::Ok();
  }();
  if (!parsed.ok()) return ErrorResponse(parsed);
  std::string next_after;
  auto list = d.campaigns.List(f, &next_after);
  // An unknown 'after' is a bad parameter, not a missing resource.
  if (list.status().code() == ErrorCode::kNotFound) {
    return ErrorResponse(Corrupt("after: " + list.status().message()));
  }
  if (!list.ok()) return ErrorResponse(list.status());
  Json out = Json::array();
  for (const auto& c : *list) out.push_back(CampaignListItemJson(c));
  return JsonResponse(200,
                      Json{{"campaigns", out},
                           {"next_after", next_after.empty() ? Json(nullptr) : Json(next_after)}});
}

}  // namespace

void AddCampaignRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  const ApiDeps* dp = &d;
  routes->push_back({Method::kPost, "/api/v1/campaigns",
                     [dp](const Request& req, const Params&) { return Create(*dp, req); }});
  routes->push_back({Method::kGet, "/api/v1/campaigns",
                     [dp](const Request& req, const Params&) { return List(*dp, req); }});
  routes->back().access = Access::kViewer;
  routes->push_back({Method::kGet, "/api/v1/campaigns/:id", [dp](const Request&, const Params& p) {
                       auto c = dp->campaigns.Get(p[0]);
                       if (!c.ok()) return ErrorResponse(c.status());
                       return JsonResponse(200, CampaignDetailJson(*c, dp->devices));
                     }});
  routes->back().access = Access::kViewer;
  const std::pair<const char*, CampaignEvent> actions[] = {{"pause", CampaignEvent::kPause},
                                                           {"resume", CampaignEvent::kResume},
                                                           {"abort", CampaignEvent::kAbort},
                                                           // targeting (issue #10)
                                                           {"approve", CampaignEvent::kApprove}};
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
                         if (dp->events != nullptr)
                           c->event_streams = dp->events->subscriber_count();
                         return dp->stats != nullptr && dp->stats->Counts(c).ok();
                       });
                       return r;
                     }});
  routes->back().access = Access::kViewer;
}

}  // namespace oxide::server::api
