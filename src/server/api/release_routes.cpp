// Signed releases: /api/v1/models/:id/versions/:ver/release and the key set chain /api/v1/keys
// (docs/api.md, docs/format/release-metadata.md).
#include "server/api/errors.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"
#include "server/service/ids.hpp"
#include "server/service/release_service.hpp"

namespace oxide::server::api {
namespace {

// Stored envelopes are compact JSON written by the service; served as they are.
Response StoredJson(const Result<std::string>& text) {
  if (!text.ok()) return ErrorResponse(text.status());
  Json j = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return ErrorResponse(Internal("stored release JSON does not parse"));
  return JsonResponse(200, j);
}

Status CheckIds(const Params& p) {
  OXIDE_RETURN_IF_ERROR(ValidateId("model id", p[0]));
  return ValidateId("version", p[1]);
}

}  // namespace

void AddReleaseRoutes(const ApiDeps& d, std::vector<Route>* routes) {
  ReleaseService* releases = d.releases;
  if (releases == nullptr) return;
  routes->push_back({Method::kPut, "/api/v1/models/:id/versions/:ver/release",
                     [releases](const Request& req, const Params& p) {
                       if (Status st = CheckIds(p); !st.ok()) return ErrorResponse(st);
                       Status st = releases->Put(p[0], p[1], req.body);
                       if (!st.ok()) return ErrorResponse(st);
                       return StoredJson(releases->Get(p[0], p[1]));
                     }});
  routes->push_back({Method::kGet, "/api/v1/models/:id/versions/:ver/release",
                     [releases](const Request&, const Params& p) {
                       if (Status st = CheckIds(p); !st.ok()) return ErrorResponse(st);
                       return StoredJson(releases->Get(p[0], p[1]));
                     }});
  // A device reads the release of what it may download; operators read any.
  routes->back().access = Access::kDevice;
  const ApiDeps* dp = &d;
  routes->back().device_check = [dp](const auth::Principal& who, const Params& p) {
    return dp->auth.DeviceMayDownload(who.id, p[0], p[1]);
  };
  routes->push_back({Method::kPut, "/api/v1/keys", [releases](const Request& req, const Params&) {
                       auto version = releases->AppendKeySet(req.body);
                       if (!version.ok()) return ErrorResponse(version.status());
                       return JsonResponse(201, Json{{"status", "created"}, {"version", *version}});
                     }});
  routes->push_back({Method::kGet, "/api/v1/keys", [releases](const Request&, const Params&) {
                       return StoredJson(releases->KeyChainJson());
                     }});
  routes->back().access = Access::kDevice;  // public keys: any device or operator
}

}  // namespace oxide::server::api
