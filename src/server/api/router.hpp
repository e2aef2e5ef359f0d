#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api/http_types.hpp"
#include "server/auth/auth_service.hpp"
#include "server/auth/authenticator.hpp"
#include "server/metrics.hpp"
#include "server/service/campaign_service.hpp"
#include "server/service/device_service.hpp"
#include "server/service/events.hpp"
#include "server/service/fleet_service.hpp"
#include "server/service/heartbeat_service.hpp"
#include "server/service/model_service.hpp"
#include "server/service/release_service.hpp"
#include "server/service/stats_service.hpp"

namespace oxide::server::api {

struct ApiLimits {
  uint64_t max_json_body = 1u << 20;        // JSON request bodies
  uint64_t max_upload = uint64_t{4} << 30;  // model uploads
};

// GET /metrics: the process-wide registry (server/metrics.hpp), shared with the services.
using Metrics = ::oxide::server::Metrics;

// Everything a handler may use. All references must outlive the Router.
struct ApiDeps {
  DeviceService& devices;
  FleetService& fleets;
  ModelService& models;
  CampaignService& campaigns;
  HeartbeatService& heartbeats;
  const BlobStore& blobs;
  Metrics& metrics;
  ApiLimits limits;
  auth::AuthService& auth;
  const auth::Authenticator& authenticator;
  // Signed releases and key sets; null: those routes are not served.
  ReleaseService* releases = nullptr;
  // ops (issue #10): the bandwidth series and the scrape-time counts of /metrics; null: the
  // stats routes answer 404 and /metrics has no store gauges.
  StatsService* stats = nullptr;
  // events: the live event stream (GET /api/v1/events); null: not served (404).
  EventBus* events = nullptr;
  std::chrono::milliseconds event_keepalive{15'000};  // `: keepalive` comment interval
};

using Params = std::vector<std::string>;  // the ":name" segments of the pattern, in order
using Handler = std::function<Response(const Request&, const Params&)>;

// Who may call a route, checked once by the Router before the handler runs (and, for uploads,
// before the body is read):
//   kPublic: anyone (GET /health, POST /api/v1/enroll);
//   kDevice: an accepted device's credential (further limited by Route::device_check), any
//            operator token for a GET, an admin token otherwise (a heartbeat is a write);
//   kViewer: any operator token (admin or viewer);
//   kAdmin:  an admin operator token. The default: a route nobody classified is admin-only.
enum class Access : uint8_t { kPublic = 0, kDevice = 1, kViewer = 2, kAdmin = 3 };
std::string_view ToString(Access a);

struct Route {
  Method method;
  std::string pattern;  // "/api/v1/devices/:id"
  Handler handler;
  bool upload = false;  // body streamed to a blob (Request::upload) instead of Request::body
  // Upload routes: checks the path before any body byte is read (bad ids fail fast).
  std::function<Status(const Params&)> precheck = nullptr;
  // The handler may take long (CPU or disk): the net layer runs it on its blocking pool so the
  // I/O threads keep answering (uploads always are).
  bool blocking = false;
  Access access = Access::kAdmin;
  // kDevice routes: what one accepted device may reach (its own heartbeat, its assigned
  // models). kFailedPrecondition: 403 forbidden; any other error is answered as itself (a
  // store failure is a 5xx, not a refusal). Operators skip it. Null: any accepted device.
  std::function<Status(const auth::Principal&, const Params&)> device_check = nullptr;
  // Upload routes: a body limit below ApiLimits::max_upload (0: that limit).
  uint64_t max_upload = 0;
};

// Maps requests to handlers: pure Request → Response, no sockets. Thread-safe.
class Router {
 public:
  explicit Router(ApiDeps deps);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // 404 (no such path) / 405 (path exists, other method), 401/403 (access, see Access) as JSON
  // errors; never throws. Every successful operator request that is not a GET is written to
  // the audit log (who, what, when, from where).
  // Counts every answer in the metrics by route pattern, method and status.
  // Waits for a deferred answer (Response::deferred): for callers without an event loop.
  Response Handle(const Request& req) const;
  // Handle() for the net layer: may return a deferred response (a heartbeat waiting for its
  // group commit), counted and audited when its Reply is called.
  Response Start(const Request& req) const;

  // Decided from the request line before the body is read (by the net layer).
  struct BodyPolicy {
    bool upload = false;
    uint64_t max_bytes = 0;
    Status precheck;        // not OK: answer this error without reading the body
    bool blocking = false;  // run the handler off the I/O threads (Route::blocking)
    // Upload routes: the access check failed; answer this without reading the body.
    std::optional<Response> refusal;
  };
  // From the request line and headers (`req` has no body yet).
  BodyPolicy PolicyFor(const Request& req) const;
  BodyPolicy PolicyFor(Method method, std::string_view path) const;  // no access check

 private:
  // Handle() without the request metrics; *route: the matched pattern ("" for none).
  Response Dispatch(const Request& req, std::string_view* route) const;
  const Route* Match(Method method, std::string_view path, Params* params,
                     bool* path_matched) const;
  // Empty when `req` may call `r`; sets *principal either way.
  std::optional<Response> CheckAccess(const Route& r, const Request& req, const Params& params,
                                      auth::Principal* principal) const;
  void AuditAction(const Route& r, const Request& req, const auth::Principal& who,
                   const Response& resp) const;
  ApiDeps deps_;
  std::vector<Route> routes_;
};

// Route groups (one file each), registered by the Router.
void AddDeviceRoutes(const ApiDeps& d, std::vector<Route>* routes);
void AddFleetRoutes(const ApiDeps& d, std::vector<Route>* routes);
void AddModelRoutes(const ApiDeps& d, std::vector<Route>* routes);
void AddCampaignRoutes(const ApiDeps& d, std::vector<Route>* routes);
void AddReleaseRoutes(const ApiDeps& d, std::vector<Route>* routes);  // signed releases, keys
void AddSystemRoutes(const ApiDeps& d, std::vector<Route>* routes);   // /health, /metrics
void AddStatsRoutes(const ApiDeps& d, std::vector<Route>* routes);    // /api/v1/stats/...
// /api/v1/tokens, /api/v1/enroll, device accept/reject/revoke, enrollment tokens, /api/v1/audit
void AddAuthRoutes(const ApiDeps& d, std::vector<Route>* routes);

}  // namespace oxide::server::api
