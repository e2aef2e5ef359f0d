#include "server/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <exception>
#include <mutex>
#include <vector>

namespace oxide::server {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Request handling is milliseconds (heartbeats, JSON) up to seconds (a large meta, an upload).
const Histogram::BucketBoundaries kRequestBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
// A patch build is seconds for small models to many minutes for GB-sized ones.
const Histogram::BucketBoundaries kPatchBuildBuckets = {0.1, 0.5, 1,   2.5, 5,    10,  30,
                                                        60,  120, 300, 600, 1200, 3600};

// Every campaign state is exported (as 0 when there is none) so that alerts need no absent();
// read from the enum's names, so a state added later is exported too.
std::vector<std::string> CampaignStateNames() {
  std::vector<std::string> out;
  for (int i = 0; i < 256; ++i) {
    auto name = store::ToString(static_cast<store::CampaignState>(i));
    if (name == "unknown") break;
    out.emplace_back(name);
  }
  return out;
}

}  // namespace

struct Metrics::Impl {
  prometheus::Registry registry;
  Family<Counter>& requests = prometheus::BuildCounter()
                                  .Name("oxide_http_requests_total")
                                  .Help(
                                      "HTTP requests answered by the router, by route pattern, "
                                      "method and status code.")
                                  .Register(registry);
  Family<Histogram>& durations = prometheus::BuildHistogram()
                                     .Name("oxide_http_request_duration_seconds")
                                     .Help(
                                         "Time to produce the response (download bodies are "
                                         "streamed afterwards), by route pattern.")
                                     .Register(registry);
  Family<Counter>& refusals = prometheus::BuildCounter()
                                  .Name("oxide_auth_refusals_total")
                                  .Help("Requests refused by the access check, by reason.")
                                  .Register(registry);
  Counter& heartbeats = prometheus::BuildCounter()
                            .Name("oxide_heartbeats_total")
                            .Help("Device heartbeats accepted.")
                            .Register(registry)
                            .Add({});
  Family<Counter>& agent_failures = prometheus::BuildCounter()
                                        .Name("oxide_agent_failures_total")
                                        .Help(
                                            "Update failures reported by agents, by the "
                                            "pipeline stage that failed.")
                                        .Register(registry);
  Counter& cache_hits = prometheus::BuildCounter()
                            .Name("oxide_patch_cache_hits_total")
                            .Help("Downloads served with a ready patch from the device's base.")
                            .Register(registry)
                            .Add({});
  Counter& cache_misses = prometheus::BuildCounter()
                              .Name("oxide_patch_cache_misses_total")
                              .Help(
                                  "Downloads served in full although the device sent a base "
                                  "(no ready, smaller patch from it yet).")
                              .Register(registry)
                              .Add({});
  Counter& bytes_served = prometheus::BuildCounter()
                              .Name("oxide_bytes_served_total")
                              .Help("Download body bytes written to sockets.")
                              .Register(registry)
                              .Add({});
  Counter& bytes_full = prometheus::BuildCounter()
                            .Name("oxide_bytes_full_equivalent_total")
                            .Help("Bytes the same downloads would have cost as full files.")
                            .Register(registry)
                            .Add({});
  Counter& bytes_saved = prometheus::BuildCounter()
                             .Name("oxide_bytes_saved_total")
                             .Help("Full-file equivalent minus bytes served: what patches saved.")
                             .Register(registry)
                             .Add({});
  Family<Histogram>& patch_builds = prometheus::BuildHistogram()
                                        .Name("oxide_patch_build_seconds")
                                        .Help("Patch build time by the patch worker, by result.")
                                        .Register(registry);
  Gauge& patch_queue = prometheus::BuildGauge()
                           .Name("oxide_patch_queue_depth")
                           .Help(
                               "Patch jobs waiting to be built (read from the store at "
                               "scrape time).")
                           .Register(registry)
                           .Add({});
  Family<Gauge>& devices = prometheus::BuildGauge()
                               .Name("oxide_devices")
                               .Help(
                                   "Registered devices by liveness: online (heartbeat within "
                                   "--offline-after), offline, never_seen.")
                               .Register(registry);
  Gauge& devices_online = prometheus::BuildGauge()
                              .Name("oxide_devices_online")
                              .Help("Devices with a heartbeat within --offline-after.")
                              .Register(registry)
                              .Add({});
  Family<Gauge>& campaigns = prometheus::BuildGauge()
                                 .Name("oxide_campaigns")
                                 .Help("Campaigns by state.")
                                 .Register(registry);
  Gauge& event_streams = prometheus::BuildGauge()
                             .Name("oxide_event_streams")
                             .Help("Open GET /api/v1/events streams.")
                             .Register(registry)
                             .Add({});
  Counter& scrape_errors = prometheus::BuildCounter()
                               .Name("oxide_scrape_errors_total")
                               .Help(
                                   "Scrapes whose store counts could not be read (the gauges "
                                   "then keep their last values).")
                               .Register(registry)
                               .Add({});
  const std::vector<std::string> campaign_states = CampaignStateNames();
  std::mutex render_mu;  // one scrape refreshes the gauges at a time
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
  for (auto s : {"online", "offline", "never_seen"}) impl_->devices.Add({{"state", s}});
  for (const auto& s : impl_->campaign_states) impl_->campaigns.Add({{"state", s}});
  for (auto r : {"ok", "failed"}) impl_->patch_builds.Add({{"result", r}}, kPatchBuildBuckets);
}

Metrics::~Metrics() = default;

void Metrics::ObserveRequest(std::string_view route, std::string_view method, int status,
                             double seconds) {
  const std::string r = route.empty() ? std::string("unmatched") : std::string(route);
  impl_->requests
      .Add({{"route", r}, {"method", std::string(method)}, {"code", std::to_string(status)}})
      .Increment();
  impl_->durations.Add({{"route", r}}, kRequestBuckets).Observe(seconds);
}

void Metrics::AuthRefusal(std::string_view reason) {
  impl_->refusals.Add({{"reason", std::string(reason)}}).Increment();
}

void Metrics::Heartbeat() { impl_->heartbeats.Increment(); }

void Metrics::AgentFailure(store::AttemptStage stage) {
  impl_->agent_failures.Add({{"kind", std::string(store::ToString(stage))}}).Increment();
}

void Metrics::PatchCacheHit() { impl_->cache_hits.Increment(); }
void Metrics::PatchCacheMiss() { impl_->cache_misses.Increment(); }

void Metrics::AddDownloadBytes(uint64_t served, uint64_t full_equivalent) {
  impl_->bytes_served.Increment(static_cast<double>(served));
  impl_->bytes_full.Increment(static_cast<double>(full_equivalent));
  // A resumed piece of a patch can be scaled to less than it cost; savings never go negative.
  if (full_equivalent > served) {
    impl_->bytes_saved.Increment(static_cast<double>(full_equivalent - served));
  }
}

void Metrics::ObservePatchBuild(double seconds, bool ok) {
  impl_->patch_builds.Add({{"result", ok ? "ok" : "failed"}}, kPatchBuildBuckets).Observe(seconds);
}

std::string Metrics::Render(const std::function<bool(ScrapeCounts*)>& counts) {
  std::lock_guard<std::mutex> lock(impl_->render_mu);
  ScrapeCounts c;
  if (counts && counts(&c)) {
    const uint64_t offline =
        c.devices_seen > c.devices_online ? c.devices_seen - c.devices_online : 0;
    const uint64_t never = c.devices > c.devices_seen ? c.devices - c.devices_seen : 0;
    impl_->devices.Add({{"state", "online"}}).Set(static_cast<double>(c.devices_online));
    impl_->devices.Add({{"state", "offline"}}).Set(static_cast<double>(offline));
    impl_->devices.Add({{"state", "never_seen"}}).Set(static_cast<double>(never));
    impl_->devices_online.Set(static_cast<double>(c.devices_online));
    impl_->patch_queue.Set(static_cast<double>(c.patches_pending));
    for (const auto& s : impl_->campaign_states) impl_->campaigns.Add({{"state", s}}).Set(0);
    for (const auto& [state, n] : c.campaigns_by_state) {
      impl_->campaigns.Add({{"state", state}}).Set(static_cast<double>(n));
    }
  } else if (counts) {
    impl_->scrape_errors.Increment();
  }
  if (counts) impl_->event_streams.Set(static_cast<double>(c.event_streams));
  try {
    return prometheus::TextSerializer().Serialize(impl_->registry.Collect());
  } catch (const std::exception& e) {
    // The serializer writes to a string stream; only allocation can fail here.
    return "# oxide: metrics serialisation failed: " + std::string(e.what()) + "\n";
  }
}

uint64_t Metrics::bytes_served() const {
  return static_cast<uint64_t>(impl_->bytes_served.Value());
}
uint64_t Metrics::bytes_full_equivalent() const {
  return static_cast<uint64_t>(impl_->bytes_full.Value());
}
uint64_t Metrics::patch_cache_hits() const {
  return static_cast<uint64_t>(impl_->cache_hits.Value());
}
uint64_t Metrics::patch_cache_misses() const {
  return static_cast<uint64_t>(impl_->cache_misses.Value());
}

}  // namespace oxide::server
