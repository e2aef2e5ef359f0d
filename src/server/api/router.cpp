#include "server/api/router.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <future>

#include "server/api/errors.hpp"
#include "server/api/events_route.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/api/web_routes.hpp"

namespace oxide::server::api {
namespace {

// The next '/'-separated segment of s from *pos on, advancing *pos past it (and its '/');
// *pos > s.size() once the last segment was taken.
std::string_view NextSegment(std::string_view s, size_t* pos) {
  size_t end = s.find('/', *pos);
  if (end == std::string_view::npos) end = s.size();
  std::string_view seg = s.substr(*pos, end - *pos);
  *pos = end + 1;
  return seg;
}

// Walks both strings segment by segment without allocating: every request is matched against
// the route table (twice: body policy, then dispatch), so this is on the path of every request.
bool MatchPattern(std::string_view pattern, std::string_view path, Params* params) {
  size_t pp = 0;
  size_t xp = 0;
  size_t captures = 0;
  while (pp <= pattern.size() && xp <= path.size()) {
    std::string_view p = NextSegment(pattern, &pp);
    std::string_view x = NextSegment(path, &xp);
    if (!p.empty() && p[0] == ':') {
      if (x.empty()) return false;
      ++captures;
    } else if (p != x) {
      return false;
    }
  }
  if (pp <= pattern.size() || xp <= path.size()) return false;  // different segment counts
  Params out;
  out.reserve(captures);
  pp = xp = 0;
  while (pp <= pattern.size()) {
    std::string_view p = NextSegment(pattern, &pp);
    std::string_view x = NextSegment(path, &xp);
    if (!p.empty() && p[0] == ':') out.emplace_back(x);
  }
  *params = std::move(out);
  return true;
}

// What the audit log keeps of a request body: small JSON only (never an upload), bounded.
std::string AuditDetail(const Request& req) {
  constexpr size_t kMax = 256;
  if (req.upload != nullptr || req.body.empty()) return "";
  std::string d = req.body.substr(0, kMax);
  for (char& c : d) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return d;
}

}  // namespace

std::string_view ToString(Access a) {
  switch (a) {
    case Access::kPublic:
      return "public";
    case Access::kDevice:
      return "device";
    case Access::kViewer:
      return "viewer";
    case Access::kAdmin:
      return "admin";
  }
  return "admin";
}

Router::Router(ApiDeps deps) : deps_(deps) {
  AddSystemRoutes(deps_, &routes_);
  AddDeviceRoutes(deps_, &routes_);
  AddFleetRoutes(deps_, &routes_);
  AddModelRoutes(deps_, &routes_);
  AddCampaignRoutes(deps_, &routes_);
  AddReleaseRoutes(deps_, &routes_);
  AddAuthRoutes(deps_, &routes_);
  // Dashboard (issue #10): GET / and GET /assets/:name, public (web_routes.cpp).
  AddWebRoutes(deps_, &routes_);
  AddStatsRoutes(deps_, &routes_);  // ops (issue #10): /api/v1/stats/bandwidth
  // events: GET /api/v1/events (server-sent events), when the server has an event bus.
  if (deps_.events != nullptr) AddEventRoutes(deps_, &routes_);
}

std::optional<Response> Router::CheckAccess(const Route& r, const Request& req,
                                            const Params& params,
                                            auth::Principal* principal) const {
  auto refuse = [this](int status, std::string_view code, const std::string& message) {
    deps_.metrics.AuthRefusal(code);
    return AccessErrorResponse(status, code, message);
  };
  *principal = auth::Principal();
  if (r.access == Access::kPublic) return std::nullopt;
  auto outcome = deps_.authenticator.Authenticate(req);
  if (!outcome.ok()) return ErrorResponse(outcome.status());
  switch (outcome->failure) {
    case auth::AuthFailure::kNone:
      break;
    case auth::AuthFailure::kUnauthenticated:
      return refuse(401, "unauthenticated", outcome->message);
    case auth::AuthFailure::kDevicePending:
      return refuse(403, "device_pending", outcome->message);
    case auth::AuthFailure::kDeviceRejected:
      return refuse(403, "device_rejected", outcome->message);
  }
  const auth::Principal& who = outcome->principal;
  if (who.kind == auth::PrincipalKind::kNone) {
    return refuse(401, "unauthenticated", "missing 'Authorization: Bearer <token>'");
  }
  if (who.is_device()) {
    if (r.access != Access::kDevice) {
      return refuse(403, "forbidden", "a device credential may not call this route");
    }
    if (r.device_check) {
      Status st = r.device_check(who, params);
      // "Not yours" is a 403; anything else (the store failing) is the server's error, answered
      // as such so the device retries instead of taking it for a refusal.
      if (st.code() == ErrorCode::kFailedPrecondition) {
        return refuse(403, "forbidden", st.message());
      }
      if (!st.ok()) return ErrorResponse(st);
    }
  } else if (who.role != store::OperatorRole::kAdmin &&
             (r.access == Access::kAdmin ||
              // A heartbeat written by an operator speaks for a device (completes or fails its
              // update, halts a rollout): a write, so admin only like every other one.
              (r.access == Access::kDevice && r.method != Method::kGet))) {
    return refuse(403, "forbidden",
                  "role '" + std::string(store::ToString(who.role)) + "' may not " +
                      std::string(ToString(req.method)) + " " + req.path);
  }
  *principal = who;
  return std::nullopt;
}

void Router::AuditAction(const Route& r, const Request& req, const auth::Principal& who,
                         const Response& resp) const {
  if (!who.is_operator() || r.method == Method::kGet || resp.status >= 300) return;
  Status st = deps_.auth.Audit(who, std::string(ToString(r.method)) + " " + r.pattern, req.path,
                               req.remote_address, AuditDetail(req));
  if (!st.ok()) std::fprintf(stderr, "oxide serve: audit log: %s\n", st.ToString().c_str());
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

Router::BodyPolicy Router::PolicyFor(const Request& req) const {
  BodyPolicy policy = PolicyFor(req.method, req.path);
  if (!policy.upload) return policy;
  Params p;
  bool path_matched = false;
  const Route* r = Match(req.method, req.path, &p, &path_matched);
  auth::Principal who;
  if (r != nullptr) policy.refusal = CheckAccess(*r, req, p, &who);
  return policy;
}

Router::BodyPolicy Router::PolicyFor(Method method, std::string_view path) const {
  Params p;
  bool path_matched = false;
  const Route* r = Match(method, path, &p, &path_matched);
  if (r != nullptr && r->upload) {
    const uint64_t max = r->max_upload != 0 ? std::min(r->max_upload, deps_.limits.max_upload)
                                            : deps_.limits.max_upload;
    return {true, max, r->precheck ? r->precheck(p) : Status::Ok(), true, std::nullopt};
  }
  // HEAD runs the GET handler.
  if (r == nullptr && method == Method::kHead) r = Match(Method::kGet, path, &p, &path_matched);
  return {false, deps_.limits.max_json_body, Status::Ok(), r != nullptr && r->blocking,
          std::nullopt};
}

Response Router::Handle(const Request& req) const {
  Response resp = Start(req);
  if (!resp.deferred) return resp;
  std::promise<Response> answered;
  auto result = answered.get_future();
  resp.deferred([&answered](Response r) { answered.set_value(std::move(r)); });
  return result.get();
}

Response Router::Start(const Request& req) const {
  const auto start = std::chrono::steady_clock::now();
  std::string_view route;
  Response resp = Dispatch(req, &route);
  if (resp.deferred) {
    // Counted when answered, like every other response (the latency includes the wait).
    resp.deferred = [this, start, route, method = req.method,
                     inner = std::move(resp.deferred)](Response::Reply reply) {
      inner([this, start, route, method, reply = std::move(reply)](Response r) {
        deps_.metrics.ObserveRequest(
            route, ToString(method), r.status,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        reply(std::move(r));
      });
    };
    return resp;
  }
  deps_.metrics.ObserveRequest(
      route, ToString(req.method), resp.status,
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return resp;
}

Response Router::Dispatch(const Request& req, std::string_view* route) const {
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
  *route = r->pattern;
  auth::Principal who;
  if (auto refusal = CheckAccess(*r, req, params, &who)) return *std::move(refusal);
  if (!r->upload && req.body.size() > deps_.limits.max_json_body) {
    return TooLargeResponse("request body is larger than " +
                            std::to_string(deps_.limits.max_json_body) + " bytes");
  }
  try {
    // The handler sees who called (for its own checks); copying a bounded request is cheap next
    // to the store lookups of the access check.
    Request authed = req;
    authed.principal = who;
    Response resp = r->handler(authed, params);
    if (head) resp.on_complete = nullptr;  // nothing is sent: no download accounting
    if (resp.deferred) {
      if (!who.is_operator()) return resp;  // AuditAction would skip it anyway
      // Audited once the real answer is known (an operator's heartbeat for a device).
      resp.deferred = [this, r, req, who, inner = std::move(resp.deferred)](Response::Reply reply) {
        inner([this, r, req, who, reply = std::move(reply)](Response answer) {
          AuditAction(*r, req, who, answer);
          reply(std::move(answer));
        });
      };
      return resp;
    }
    AuditAction(*r, req, who, resp);
    return resp;
  } catch (const std::exception& e) {
    // Handlers do not throw by design; this is the edge's last line of defence.
    return ErrorResponse(Internal(std::string("unexpected exception: ") + e.what()));
  }
}

}  // namespace oxide::server::api
