// /api/v1/tokens, /api/v1/enroll, /api/v1/devices/:id/{accept,reject,revoke},
// /api/v1/fleets/:id/enrollment-tokens, /api/v1/audit.
#include <charconv>

#include "server/api/errors.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"

namespace oxide::server::api {
namespace {

using store::DeviceAuthState;

Json TokenJson(const store::OperatorTokenRecord& t) {
  return Json{{"id", t.id},
              {"name", t.name},
              {"role", std::string(store::ToString(t.role))},
              {"created_at", TimeJson(t.created_at)},
              {"last_used", TimeJson(t.last_used)},
              {"revoked_at", TimeJson(t.revoked_at)}};
}

Json EnrollmentTokenJson(const store::EnrollmentTokenRecord& t) {
  return Json{{"id", t.id},
              {"fleet_id", t.fleet_id},
              {"created_at", TimeJson(t.created_at)},
              {"revoked_at", TimeJson(t.revoked_at)}};
}

Json AuditJson(const store::AuditRecord& r) {
  return Json{{"id", r.id},
              {"at", TimeJson(r.at)},
              {"actor", {{"token_id", r.actor_id}, {"name", r.actor_name}}},
              {"action", r.action},
              {"target", r.target},
              {"remote_address", r.remote_address},
              {"detail", r.detail}};
}

Response CreateToken(const ApiDeps& d, const Request& req) {
  auto body = ParseJsonObject(req, /*allow_empty=*/false);
  if (!body.ok()) return ErrorResponse(body.status());
  auto name = RequiredString(*body, "name");
  if (!name.ok()) return ErrorResponse(name.status());
  auto role_name = RequiredString(*body, "role");
  if (!role_name.ok()) return ErrorResponse(role_name.status());
  auto role = store::ParseOperatorRole(*role_name);
  if (!role.ok()) return ErrorResponse(InvalidArgument("field 'role' must be admin or viewer"));
  auto issued = d.auth.CreateOperatorToken(*name, *role);
  if (!issued.ok()) return ErrorResponse(issued.status());
  Json out = TokenJson(issued->record);
  out["token"] = issued->token;  // the only time it is shown
  return JsonResponse(201, out);
}

Response Enroll(const ApiDeps& d, const Request& req) {
  auto body = ParseJsonObject(req, /*allow_empty=*/false);
  if (!body.ok()) return ErrorResponse(body.status());
  auto id = RequiredString(*body, "device_id");
  if (!id.ok()) return ErrorResponse(id.status());
  auto secret = RequiredString(*body, "secret");
  if (!secret.ok()) return ErrorResponse(secret.status());
  auto token = OptionalString(*body, "enrollment_token");
  if (!token.ok()) return ErrorResponse(token.status());
  if (body->contains("platform") && !(*body)["platform"].is_object()) {
    return ErrorResponse(InvalidArgument("field 'platform' must be an object"));
  }
  auto state = d.auth.Enroll(*id, *secret, token->value_or(""));
  if (!state.ok() && state.status().code() == ErrorCode::kNotFound) {
    return AccessErrorResponse(401, "unauthenticated", state.status().message());
  }
  if (!state.ok()) return ErrorResponse(state.status());
  switch (*state) {
    case DeviceAuthState::kAccepted:
      return JsonResponse(200, Json{{"status", "accepted"}, {"device_id", *id}});
    case DeviceAuthState::kPending:
      return JsonResponse(202, Json{{"status", "pending"}, {"device_id", *id}});
    case DeviceAuthState::kRejected:
      break;
  }
  return AccessErrorResponse(403, "device_rejected", "device '" + *id + "' was rejected");
}

Response SetDeviceState(const ApiDeps& d, const std::string& id, DeviceAuthState state,
                        bool drop_credential, const char* status) {
  Status st = d.auth.SetDeviceState(id, state, drop_credential);
  if (!st.ok()) return ErrorResponse(st);
  return JsonResponse(200, Json{{"status", status}, {"device_id", id}});
}

Response Audit(const ApiDeps& d, const Request& req) {
  size_t limit = 100;
  std::string_view q = req.query;
  while (!q.empty()) {
    std::string_view pair = q.substr(0, q.find('&'));
    q.remove_prefix(std::min(q.size(), pair.size() + 1));
    if (pair.substr(0, 6) != "limit=") continue;
    std::string_view v = pair.substr(6);
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), limit);
    if (ec != std::errc() || end != v.data() + v.size() || limit == 0) {
      return ErrorResponse(InvalidArgument("limit must be a positive integer"));
    }
  }
  auto list = d.auth.ListAudit(limit);
  if (!list.ok()) return ErrorResponse(list.status());
  Json out = Json::array();
  for (const auto& r : *list) out.push_back(AuditJson(r));
  return JsonResponse(200, out);
}

}  // namespace

void AddAuthRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  const ApiDeps* dp = &d;
  routes->push_back({Method::kPost, "/api/v1/tokens",
                     [dp](const Request& req, const Params&) { return CreateToken(*dp, req); }});
  // Names and roles of every token: admin only, like everything about credentials.
  routes->push_back({Method::kGet, "/api/v1/tokens", [dp](const Request&, const Params&) {
                       auto list = dp->auth.ListOperatorTokens();
                       if (!list.ok()) return ErrorResponse(list.status());
                       Json out = Json::array();
                       for (const auto& t : *list) out.push_back(TokenJson(t));
                       return JsonResponse(200, out);
                     }});
  routes->push_back({Method::kDelete, "/api/v1/tokens/:id", [dp](const Request&, const Params& p) {
                       Status st = dp->auth.RevokeOperatorToken(p[0]);
                       if (!st.ok()) return ErrorResponse(st);
                       return JsonResponse(200, Json{{"status", "revoked"}, {"id", p[0]}});
                     }});

  routes->push_back({Method::kPost, "/api/v1/enroll",
                     [dp](const Request& req, const Params&) { return Enroll(*dp, req); }});
  routes->back().access = Access::kPublic;

  routes->push_back(
      {Method::kPost, "/api/v1/devices/:id/accept", [dp](const Request&, const Params& p) {
         return SetDeviceState(*dp, p[0], DeviceAuthState::kAccepted, false, "accepted");
       }});
  routes->push_back(
      {Method::kPost, "/api/v1/devices/:id/reject", [dp](const Request&, const Params& p) {
         return SetDeviceState(*dp, p[0], DeviceAuthState::kRejected, false, "rejected");
       }});
  routes->push_back(
      {Method::kPost, "/api/v1/devices/:id/revoke", [dp](const Request&, const Params& p) {
         return SetDeviceState(*dp, p[0], DeviceAuthState::kRejected, true, "revoked");
       }});

  routes->push_back({Method::kPost, "/api/v1/fleets/:id/enrollment-tokens",
                     [dp](const Request&, const Params& p) {
                       auto issued = dp->auth.CreateEnrollmentToken(p[0]);
                       if (!issued.ok()) return ErrorResponse(issued.status());
                       Json out = EnrollmentTokenJson(issued->record);
                       out["token"] = issued->token;  // the only time it is shown
                       return JsonResponse(201, out);
                     }});
  routes->push_back(
      {Method::kGet, "/api/v1/fleets/:id/enrollment-tokens", [dp](const Request&, const Params& p) {
         auto list = dp->auth.ListEnrollmentTokens(p[0]);
         if (!list.ok()) return ErrorResponse(list.status());
         Json out = Json::array();
         for (const auto& t : *list) out.push_back(EnrollmentTokenJson(t));
         return JsonResponse(200, out);
       }});
  routes->push_back({Method::kDelete, "/api/v1/fleets/:id/enrollment-tokens/:tid",
                     [dp](const Request&, const Params& p) {
                       Status st = dp->auth.RevokeEnrollmentToken(p[0], p[1]);
                       if (!st.ok()) return ErrorResponse(st);
                       return JsonResponse(200, Json{{"status", "revoked"}, {"id", p[1]}});
                     }});

  routes->push_back({Method::kGet, "/api/v1/audit",
                     [dp](const Request& req, const Params&) { return Audit(*dp, req); }});
}

}  // namespace oxide::server::api
