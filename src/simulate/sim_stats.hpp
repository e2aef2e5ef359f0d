#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "simulate/latency_histogram.hpp"

namespace oxide::simulate {

// The kinds of request a simulated device makes. A "report" is the heartbeat that carries how an
// update ended (installed, or a failure report); a "download" is a payload or a base blob.
enum class RequestKind : uint8_t { kEnroll = 0, kHeartbeat = 1, kDownload = 2, kReport = 3 };
inline constexpr size_t kRequestKinds = 4;
std::string_view ToString(RequestKind k);  // "enroll", "heartbeat", "download", "report"

struct KindStats {
  uint64_t count = 0;        // requests that ended (any outcome)
  LatencyHistogram latency;  // of those that got an HTTP response: from start to end (service)
  // The same requests from their due time (schedule) to end: includes the wait when
  // --concurrency or a late loop held them back, so it does not understate saturation.
  LatencyHistogram intended_latency;
};

// Everything `oxide simulate` measured in one run. Filled by FleetSimulator, printed by
// RenderText / RenderJson.
struct SimStats {
  // Run shape, for the report.
  uint32_t devices = 0;
  size_t control_planes = 0;
  double poll_interval_s = 0;
  uint32_t concurrency = 0;
  double elapsed_s = 0;  // from the first request to the last one's end
  // From the first request until new ones stopped (--duration or a stop): the window the
  // per-kind and total rates are over, without the drain of the requests still in flight.
  double measured_s = 0;
  // Successful (2xx) heartbeats (plain and report) that ended after the last device enrolled,
  // and over how long: the steady-state rate once enrolment is over; failed ones are only in
  // `errors`. 0 s when not every device enrolled.
  uint64_t steady_heartbeats = 0;
  double steady_s = 0;
  LatencyHistogram steady_latency;  // of those heartbeats, service time (start → end)
  // Of those heartbeats, from due time to end (the figure to quote for capacity).
  LatencyHistogram steady_intended_latency;
  LatencyHistogram schedule_lag;  // of every request: from its due time to its start

  std::array<KindStats, kRequestKinds> kinds;
  // "<kind>: HTTP 503", "<kind>: timeout", "download: verify (...)", … → count.
  std::map<std::string, uint64_t> errors;

  uint64_t enrolled = 0;     // devices that enrolled at least once (re-enrolments after a 401 not)
  uint64_t assignments = 0;  // updates started (assignments taken)
  uint64_t downloads_patch = 0;  // verified patches
  uint64_t downloads_full = 0;   // verified full files
  // Patches that did not apply (wrong base, window too large): the full file was fetched instead,
  // as the agent does. Not errors.
  uint64_t downloads_fallback = 0;
  uint64_t bases_kept = 0;              // versions held in memory as patch bases (one copy each)
  uint64_t downloads_without_base = 0;  // devices that ran a version not in memory: full file
  uint64_t installed_without_download = 0;
  uint64_t installed = 0;          // success reports acknowledged by the server
  uint64_t failures_reported = 0;  // failure reports acknowledged by the server
  uint64_t bytes_down = 0;         // every response body byte
  uint64_t payload_bytes = 0;      // of those, patches, full files and bases
  uint64_t peak_rss_kb = 0;

  KindStats& kind(RequestKind k) { return kinds[static_cast<size_t>(k)]; }
  const KindStats& kind(RequestKind k) const { return kinds[static_cast<size_t>(k)]; }
  uint64_t error_count() const;
  void AddError(RequestKind k, const std::string& what);
};

// A table for people: rates, latency percentiles per kind, updates, bytes, errors by kind.
std::string RenderText(const SimStats& s);
// One JSON object (docs/simulate.md lists its fields).
std::string RenderJson(const SimStats& s);

}  // namespace oxide::simulate
