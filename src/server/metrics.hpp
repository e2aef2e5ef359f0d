#pragma once

// Process-wide Prometheus metrics of `oxide serve` (GET /metrics). One registry; callers use the
// typed hooks below and never see prometheus-cpp (only metrics.cpp includes it). Every hook is
// thread-safe and cheap enough for the heartbeat path (an atomic add, or a label lookup under
// the family's mutex).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/records.hpp"

namespace oxide::server {

// What GET /metrics reads from the store at scrape time (counts, never a list of rows).
struct ScrapeCounts {
  uint64_t devices = 0;
  uint64_t devices_online = 0;
  uint64_t devices_seen = 0;  // ever sent a heartbeat
  uint64_t patches_pending = 0;
  std::vector<std::pair<std::string, uint64_t>> campaigns_by_state;  // "rolling_out" → n
  // Open GET /api/v1/events streams (EventBus::subscriber_count: the bus already counts them).
  // Read from memory, so set even when the store counts fail.
  uint64_t event_streams = 0;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // One handled request. `route` is the route-table pattern ("/api/v1/devices/:id"), never the
  // raw path, so the label set stays bounded; "" (no route matched) is labelled "unmatched".
  void ObserveRequest(std::string_view route, std::string_view method, int status, double seconds);
  // An access refusal by the router: "unauthenticated", "forbidden", "device_pending", ...
  void AuthRefusal(std::string_view reason);
  void Heartbeat();
  // An update failure a device reported (stored once per report), by pipeline stage.
  void AgentFailure(store::AttemptStage stage);

  // A download was planned: a ready patch from the device's base (hit) or the full file while
  // the device had sent a base it could have been patched from (miss).
  void PatchCacheHit();
  void PatchCacheMiss();
  // Bytes written to a socket by a finished (or broken off) download, and what they stand for.
  void AddDownloadBytes(uint64_t served, uint64_t full_equivalent);
  // One patch build by the worker; `ok` false: the build failed (it may be retried).
  void ObservePatchBuild(double seconds, bool ok);

  // The text exposition format (version 0.0.4). `counts` refreshes the scrape-time gauges; when
  // it fails those gauges keep their last values and oxide_scrape_errors_total counts it.
  std::string Render(const std::function<bool(ScrapeCounts*)>& counts);

  // For tests.
  uint64_t bytes_served() const;
  uint64_t bytes_full_equivalent() const;
  uint64_t patch_cache_hits() const;
  uint64_t patch_cache_misses() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oxide::server
