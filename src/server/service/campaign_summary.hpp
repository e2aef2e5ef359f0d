#pragma once

// A campaign's counts per rollout state plus its bytes: the "summary" object of
// GET /api/v1/campaigns/:id and of the campaign.state event. Computed here, below both the API
// views and the event data, so the two always agree; ForEachSummaryField is the one list of
// field names both serialise from (JSON-free header).

#include <cstdint>
#include <vector>

#include "store/records.hpp"

namespace oxide::server {

struct CampaignSummary {
  uint64_t total = 0;
  uint64_t waiting = 0;
  uint64_t pending = 0;
  uint64_t downloading = 0;
  uint64_t applying = 0;
  uint64_t completed = 0;
  uint64_t failed = 0;
  uint64_t rolled_back = 0;
  uint64_t withdrawn = 0;
  uint64_t superseded = 0;
  uint64_t bytes_served = 0;
  uint64_t bytes_full = 0;
  uint64_t bytes_saved = 0;  // bytes_full - bytes_served, never negative
};

CampaignSummary SummarizeCampaign(const store::CampaignRecord& c,
                                  const std::vector<store::CampaignDeviceRecord>& devices);

// Calls f(name, value) for every field of the summary object, in the documented order.
template <class F>
void ForEachSummaryField(const CampaignSummary& s, F&& f) {
  f("total", s.total);
  f("waiting", s.waiting);
  f("pending", s.pending);
  f("downloading", s.downloading);
  f("applying", s.applying);
  f("in_progress", s.downloading + s.applying);
  f("complete", s.completed);
  f("failed", s.failed);
  f("rolled_back", s.rolled_back);
  f("failures", s.failed + s.rolled_back);
  f("withdrawn", s.withdrawn);
  f("superseded", s.superseded);
  f("skipped", uint64_t{0});
  f("bytes_served", s.bytes_served);
  f("bytes_full_equivalent", s.bytes_full);
  f("bytes_saved", s.bytes_saved);
}

}  // namespace oxide::server
