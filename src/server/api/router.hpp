#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api/http_types.hpp"
#include "server/service/campaign_service.hpp"
#include "server/service/device_service.hpp"
#include "server/service/fleet_service.hpp"
#include "server/service/heartbeat_service.hpp"
#include "server/service/model_service.hpp"
#include "server/service/release_service.hpp"

namespace oxide::server::api {

struct ApiLimits {
  uint64_t max_json_body = 1u << 20;        // JSON request bodies
  uint64_t max_upload = uint64_t{4} << 30;  // model uploads
};

// Process-wide counters for GET /metrics. Lock-free.
struct Metrics {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> bytes_served{0};
  std::atomic<uint64_t> bytes_full_equivalent{0};
  std::atomic<uint64_t> patch_responses{0};
  std::atomic<uint64_t> full_responses{0};
};

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
  // Signed releases and key sets; null: those routes are not served.
  ReleaseService* releases = nullptr;
};

using Params = std::vector<std::string>;  // the ":name" segments of the pattern, in order
using Handler = std::function<Response(const Request&, const Params&)>;

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
};

// Maps requests to handlers: pure Request → Response, no sockets. Thread-safe.
class Router {
 public:
  explicit Router(ApiDeps deps);
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // 404 (no such path) / 405 (path exists, other method) as JSON errors; never throws.
  Response Handle(const Request& req) const;

  // Decided from the request line before the body is read (by the net layer).
  struct BodyPolicy {
    bool upload = false;
    uint64_t max_bytes = 0;
    Status precheck;        // not OK: answer this error without reading the body
    bool blocking = false;  // run the handler off the I/O threads (Route::blocking)
  };
  BodyPolicy PolicyFor(Method method, std::string_view path) const;

 private:
  const Route* Match(Method method, std::string_view path, Params* params,
                     bool* path_matched) const;
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

}  // namespace oxide::server::api
