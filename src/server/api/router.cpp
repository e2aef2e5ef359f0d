#include "server/api/router.hpp"

#include <cstdio>
#include <exception>

#include "server/api/errors.hpp"
#include "server/api/internal/json_util.hpp"

namespace oxide::server::api {
namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

bool MatchPattern(std::string_view pattern, std::string_view path, Params* params) {
  auto ps = Split(pattern);
  auto xs = Split(path);
  if (ps.size() != xs.size()) return false;
  Params out;
  for (size_t i = 0; i < ps.size(); ++i) {
    if (!ps[i].empty() && ps[i][0] == ':') {
      if (xs[i].empty()) return false;
      out.emplace_back(xs[i]);
    } else if (ps[i] != xs[i]) {
      return false;
    }
  }
  *params = std::move(out);
  return true;
}

}  // namespace

Router::Router(ApiDeps deps) : deps_(deps) {
  AddSystemRoutes(deps_, &routes_);
  AddDeviceRoutes(deps_, &routes_);
  AddFleetRoutes(deps_, &routes_);
  AddModelRoutes(deps_, &routes_);
  AddCampaignRoutes(deps_, &routes_);
  AddReleaseRoutes(deps_, &routes_);
}

const Route* Router::Match(Method method, std::string_view path, Params* params,
                           bool* path_matched) const {
  *path_matched = false;
  for (const auto& r : routes_) {
    Params p;
    if (!MatchPattern(r.pattern, path, &p)) continue;
    *path_matched = true;
    if (r.method == method) {
      *params = std::move(p);
      return &r;
    }
  }
  return nullptr;
}

Router::BodyPolicy Router::PolicyFor(Method method, std::string_view path) const {
  Params p;
  bool path_matched = false;
  const Route* r = Match(method, path, &p, &path_matched);
  if (r != nullptr && r->upload) {
    return {true, deps_.limits.max_upload, r->precheck ? r->precheck(p) : Status::Ok(), true};
  }
  // HEAD runs the GET handler.
  if (r == nullptr && method == Method::kHead) r = Match(Method::kGet, path, &p, &path_matched);
  return {false, deps_.limits.max_json_body, Status::Ok(), r != nullptr && r->blocking};
}

Response Router::Handle(const Request& req) const {
  deps_.metrics.requests++;
  Params params;
  bool path_matched = false;
  // HEAD is GET without the body (the net layer keeps Content-Length and sends no body).
  const bool head = req.method == Method::kHead;
  const Route* r = Match(head ? Method::kGet : req.method, req.path, &params, &path_matched);
  if (r == nullptr) {
    if (!path_matched) return ErrorResponse(NotFound("no route for " + req.path));
    // Not an ErrorCode: routing itself, so it is answered here rather than mapped.
    return JsonResponse(405, Json{{"error",
                                   {{"code", "method_not_allowed"},
                                    {"message", std::string(ToString(req.method)) +
                                                    " is not allowed on " + req.path}}}});
  }
  if (!r->upload && req.body.size() > deps_.limits.max_json_body) {
    return TooLargeResponse("request body is larger than " +
                            std::to_string(deps_.limits.max_json_body) + " bytes");
  }
  try {
    Response resp = r->handler(req, params);
    if (head) resp.on_complete = nullptr;  // nothing is sent: no download accounting
    return resp;
  } catch (const std::exception& e) {
    // Handlers do not throw by design; this is the edge's last line of defence.
    return ErrorResponse(Internal(std::string("unexpected exception: ") + e.what()));
  }
}

}  // namespace oxide::server::api
