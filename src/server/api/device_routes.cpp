// /api/v1/devices...
#include "protocol/heartbeat.hpp"
#include "server/api/errors.hpp"
#include "server/api/internal/query.hpp"
#include "server/api/internal/views.hpp"
#include "server/api/router.hpp"
#include "server/auth/token.hpp"
#include "server/service/ids.hpp"

namespace oxide::server::api {
namespace {

// "auth_state": unenrolled (registered, no credential yet), pending (enrolled, waiting for an
// operator), accepted or rejected. "credential_fingerprint": what the agent logs when it
// enrolls, for the operator to compare before accepting (null: no credential).
Json WithAuthState(const ApiDeps& d, const std::string& id, Json j) {
  auto a = d.auth.DeviceAuth(id);
  if (!a.ok()) return j;
  const bool enrolled = !a->secret_sha256.empty();
  j["auth_state"] = !enrolled && a->state == store::DeviceAuthState::kPending
                        ? std::string("unenrolled")
                        : std::string(store::ToString(a->state));
  j["credential_fingerprint"] =
      enrolled ? Json(auth::FingerprintOfHash(a->secret_sha256)) : Json(nullptr);
  return j;
}

Response Register(const ApiDeps& d, const Request& req) {
  auto body = ParseJsonObject(req, /*allow_empty=*/false);
  if (!body.ok()) return ErrorResponse(body.status());
  auto id = RequiredString(*body, "id");
  if (!id.ok()) return ErrorResponse(id.status());
  auto name = OptionalString(*body, "name");
  if (!name.ok()) return ErrorResponse(name.status());
  auto tags = OptionalStringMap(*body, "tags");
  if (!tags.ok()) return ErrorResponse(tags.status());
  auto created = d.devices.Register(*id, name->value_or(*id), *tags);
  if (!created.ok()) return ErrorResponse(created.status());
  return JsonResponse(*created ? 201 : 200,
                      Json{{"status", *created ? "registered" : "updated"}, {"id", *id}});
}

Response Heartbeat(const ApiDeps& d, const Request& req, const std::string& id) {
  std::string ct = req.Header("content-type");
  bool has_body = req.body.find_first_not_of(" \t\r\n") != std::string::npos;
  if (has_body && !IsJsonContentType(ct)) {
    return ErrorResponse(Unsupported("Content-Type must be application/json"));
  }
  // The busiest route keeps the same depth and element limits as every JSON body.
  if (has_body) {
    if (Status shape = CheckJsonShape(req.body); !shape.ok()) return ErrorResponse(shape);
  }
  if (has_body && !Json::accept(req.body)) {
    return ErrorResponse(Corrupt("heartbeat body is not valid JSON"));
  }
  auto hb = protocol::ParseHeartbeatRequest(req.body);
  if (!hb.ok()) return ErrorResponse(hb.status());
  // Answered once the group commit stored it; the I/O thread goes back to its loop meanwhile.
  Response deferred;
  deferred.deferred = [&d, id, hb = std::move(hb).value()](Response::Reply reply) mutable {
    d.heartbeats.HandleAsync(
        id, std::move(hb),
        [&d, reply = std::move(reply)](Result<protocol::HeartbeatResponse> resp) {
          if (!resp.ok()) return reply(ErrorResponse(resp.status()));
          d.metrics.Heartbeat();
          Response r;
          r.headers.emplace_back("Content-Type", "application/json");
          r.body = protocol::ToJson(*resp);
          reply(std::move(r));
        });
  };
  return deferred;
}

Response ClearRefusal(const ApiDeps& d, const Request& req, const std::string& id) {
  auto body = ParseJsonObject(req, /*allow_empty=*/false);
  if (!body.ok()) return ErrorResponse(body.status());
  auto model = RequiredString(*body, "model_id");
  if (!model.ok()) return ErrorResponse(model.status());
  auto version = RequiredString(*body, "version");
  if (!version.ok()) return ErrorResponse(version.status());
  auto c = d.devices.ClearRefusal(id, *model, *version);
  if (!c.ok()) return ErrorResponse(c.status());
  return JsonResponse(200, Json{{"status", "queued"},
                                {"id", c->id},
                                {"device_id", id},
                                {"model_id", c->model_id},
                                {"version", c->version}});
}

// ?status= names a liveness (online, offline, unknown) or an auth state (unenrolled, pending,
// accepted, rejected): the two columns an operator looks for.
Status ParseStatusFilter(const std::string& s, DeviceFilter* f) {
  using A = store::DeviceQuery::Auth;
  const std::pair<const char*, Liveness> liveness[] = {{"online", Liveness::kOnline},
                                                       {"offline", Liveness::kOffline},
                                                       {"unknown", Liveness::kUnknown}};
  for (const auto& [name, l] : liveness) {
    if (s == name) {
      f->liveness = l;
      return Status::Ok();
    }
  }
  const std::pair<const char*, A> auth[] = {{"unenrolled", A::kUnenrolled},
                                            {"pending", A::kPending},
                                            {"accepted", A::kAccepted},
                                            {"rejected", A::kRejected}};
  for (const auto& [name, a] : auth) {
    if (s == name) {
      f->auth = a;
      return Status::Ok();
    }
  }
  return Corrupt(
      "status must be one of online, offline, unknown, unenrolled, pending, "
      "accepted, rejected");
}

Result<DeviceFilter> ParseDeviceFilter(const Request& req) {
  OXIDE_ASSIGN_OR_RETURN(
      auto q, QueryParams::Parse(req.query, {"limit", "after", "status", "fleet", "tag", "q"}));
  DeviceFilter f;
  OXIDE_ASSIGN_OR_RETURN(f.limit, q.Limit(500, 1000));
  OXIDE_ASSIGN_OR_RETURN(auto after, q.One("after"));
  f.after = after.value_or("");
  OXIDE_ASSIGN_OR_RETURN(auto status, q.One("status"));
  if (status) OXIDE_RETURN_IF_ERROR(ParseStatusFilter(*status, &f));
  OXIDE_ASSIGN_OR_RETURN(auto fleet, q.One("fleet"));
  if (fleet) {
    if (!IsValidId(*fleet)) return Corrupt("fleet must be a valid fleet id");
    f.fleet_id = *fleet;
  }
  auto tags = q.All("tag");
  if (tags.size() > 16) return Corrupt("at most 16 tag filters");
  for (const auto& t : tags) {
    size_t colon = t.find(':');
    if (colon == std::string::npos || colon == 0) return Corrupt("tag must be key:value");
    f.tags.emplace_back(t.substr(0, colon), t.substr(colon + 1));
  }
  OXIDE_ASSIGN_OR_RETURN(auto text, q.One("q"));
  f.text = text.value_or("");
  if (f.text.size() > 128) return Corrupt("q must be at most 128 characters");
  return f;
}

Response ListDevices(const ApiDeps& d, const Request& req) {
  auto filter = ParseDeviceFilter(req);
  if (!filter.ok()) return ErrorResponse(filter.status());
  auto page = d.devices.List(*filter);
  if (!page.ok()) return ErrorResponse(page.status());
  Json out = Json::array();
  for (const auto& v : page->devices) out.push_back(WithAuthState(d, v.device.id, DeviceJson(v)));
  Response r = JsonResponse(200, out);
  // The body stays an array (as the reference's): the next page is announced in a header.
  if (!page->next_after.empty()) r.headers.emplace_back("X-Next-After", page->next_after);
  return r;
}

// PUT /devices/:id/tags: the body is the new tag object; it replaces every tag.
Response SetTags(const ApiDeps& d, const Request& req, const std::string& id) {
  auto body = ParseJsonObject(req, /*allow_empty=*/false);
  if (!body.ok()) return ErrorResponse(body.status());
  std::map<std::string, std::string> tags;
  for (auto it = body->begin(); it != body->end(); ++it) {
    if (!it->is_string()) {
      return ErrorResponse(
          InvalidArgument("tag '" + it.key().substr(0, 128) + "' must be a string"));
    }
    tags[it.key()] = it->get<std::string>();
  }
  auto v = d.devices.SetTags(id, tags);
  if (!v.ok()) return ErrorResponse(v.status());
  return JsonResponse(200, WithAuthState(d, id, DeviceJson(*v)));
}

}  // namespace

void AddDeviceRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  const ApiDeps* dp = &d;
  routes->push_back({Method::kPost, "/api/v1/devices",
                     [dp](const Request& req, const Params&) { return Register(*dp, req); }});
  routes->push_back({Method::kGet, "/api/v1/devices",
                     [dp](const Request& req, const Params&) { return ListDevices(*dp, req); }});
  routes->back().access = Access::kViewer;
  routes->push_back({Method::kGet, "/api/v1/devices/:id", [dp](const Request&, const Params& p) {
                       auto v = dp->devices.Get(p[0]);
                       if (!v.ok()) return ErrorResponse(v.status());
                       return JsonResponse(200, WithAuthState(*dp, p[0], DeviceDetailJson(*v)));
                     }});
  routes->back().access = Access::kViewer;
  routes->push_back({Method::kDelete, "/api/v1/devices/:id", [dp](const Request&, const Params& p) {
                       Status st = dp->devices.Delete(p[0]);
                       if (!st.ok()) return ErrorResponse(st);
                       return JsonResponse(200, Json{{"status", "unregistered"}, {"id", p[0]}});
                     }});
  routes->push_back(
      {Method::kPost, "/api/v1/devices/:id/heartbeat",
       [dp](const Request& req, const Params& p) { return Heartbeat(*dp, req, p[0]); }});
  routes->back().access = Access::kDevice;
  routes->back().device_check = [](const auth::Principal& who, const Params& p) {
    if (who.id != p[0]) {
      return FailedPrecondition("device '" + who.id + "' may heartbeat only as itself");
    }
    return Status::Ok();
  };
  // Targeting (issue #10): tags are edited by operators.
  routes->push_back(
      {Method::kPut, "/api/v1/devices/:id/tags",
       [dp](const Request& req, const Params& p) { return SetTags(*dp, req, p[0]); }});
  routes->push_back(
      {Method::kPost, "/api/v1/devices/:id/clear-refusal",
       [dp](const Request& req, const Params& p) { return ClearRefusal(*dp, req, p[0]); }});
}

}  // namespace oxide::server::api
