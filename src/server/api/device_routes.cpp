// /api/v1/devices...
#include "protocol/heartbeat.hpp"
#include "server/api/errors.hpp"
#include "server/api/internal/views.hpp"
#include "server/api/router.hpp"
#include "server/auth/token.hpp"

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
  auto resp = d.heartbeats.Handle(id, *hb);
  if (!resp.ok()) return ErrorResponse(resp.status());
  d.metrics.Heartbeat();
  Response r;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = protocol::ToJson(*resp);
  return r;
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

}  // namespace

void AddDeviceRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  const ApiDeps* dp = &d;
  routes->push_back({Method::kPost, "/api/v1/devices",
                     [dp](const Request& req, const Params&) { return Register(*dp, req); }});
  routes->push_back({Method::kGet, "/api/v1/devices", [dp](const Request&, const Params&) {
                       auto list = dp->devices.List();
                       if (!list.ok()) return ErrorResponse(list.status());
                       Json out = Json::array();
                       for (const auto& v : *list) {
                         out.push_back(WithAuthState(*dp, v.device.id, DeviceJson(v)));
                       }
                       return JsonResponse(200, out);
                     }});
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
  routes->push_back(
      {Method::kPost, "/api/v1/devices/:id/clear-refusal",
       [dp](const Request& req, const Params& p) { return ClearRefusal(*dp, req, p[0]); }});
}

}  // namespace oxide::server::api
