#include "server/service/stats_service.hpp"

#include <algorithm>

namespace oxide::server {
namespace {

int64_t FloorTo(int64_t t, int64_t step) { return t - ((t % step) + step) % step; }

int64_t DefaultBuckets(BandwidthBucket b) { return b == BandwidthBucket::kDay ? 30 : 48; }

}  // namespace

std::string_view ToString(BandwidthBucket b) { return b == BandwidthBucket::kDay ? "day" : "hour"; }

Result<BandwidthBucket> ParseBandwidthBucket(std::string_view s) {
  if (s == "hour") return BandwidthBucket::kHour;
  if (s == "day") return BandwidthBucket::kDay;
  return InvalidArgument("bucket must be 'hour' or 'day'");
}

Result<BandwidthSeries> StatsService::Bandwidth(BandwidthBucket bucket, int64_t from_s,
                                                int64_t to_s) {
  const int64_t step = bucket == BandwidthBucket::kDay ? 86'400 : 3'600;
  // Defaults: the last 48 hours (30 days), the current bucket included.
  const int64_t current = FloorTo(clock_.UnixMillis() / 1000, step);
  if (to_s < 0) to_s = current + step;
  if (from_s < 0) from_s = std::max<int64_t>(0, current - (DefaultBuckets(bucket) - 1) * step);
  // Bounded before any arithmetic, so the bucket count below cannot overflow.
  if (from_s > kMaxUnixSeconds || to_s > kMaxUnixSeconds) {
    return InvalidArgument("'from' and 'to' must be at most " + std::to_string(kMaxUnixSeconds) +
                           " (9999-12-31)");
  }
  if (to_s <= from_s) return InvalidArgument("'to' must be after 'from'");
  const int64_t first = FloorTo(from_s, step);
  if ((to_s - first + step - 1) / step > kMaxBuckets) {
    return InvalidArgument("at most " + std::to_string(kMaxBuckets) + " " +
                           std::string(ToString(bucket)) + " buckets per request");
  }
  OXIDE_ASSIGN_OR_RETURN(auto hours, store_.stats().ListBandwidth(first, to_s));
  BandwidthSeries out;
  out.bucket = bucket;
  out.total.t = first;
  size_t next = 0;
  for (int64_t t = first; t < to_s; t += step) {
    BandwidthPoint p;
    p.t = t;
    for (; next < hours.size() && hours[next].hour < t + step; ++next) {
      p.bytes_served += hours[next].bytes_served;
      p.bytes_full_equivalent += hours[next].bytes_full_equivalent;
    }
    out.total.bytes_served += p.bytes_served;
    out.total.bytes_full_equivalent += p.bytes_full_equivalent;
    out.series.push_back(p);
  }
  return out;
}

Status StatsService::Counts(ScrapeCounts* out) {
  store::StatsStore& stats = store_.stats();
  OXIDE_ASSIGN_OR_RETURN(out->devices, stats.CountDevices());
  OXIDE_ASSIGN_OR_RETURN(out->devices_seen, store_.devices().CountSeenSince(1));
  OXIDE_ASSIGN_OR_RETURN(out->devices_online, store_.devices().CountSeenSince(
                                                  clock_.UnixMillis() - options_.offline_after_ms));
  OXIDE_ASSIGN_OR_RETURN(out->patches_pending, stats.CountPendingPatches());
  OXIDE_ASSIGN_OR_RETURN(out->campaigns_by_state, stats.CountCampaignsByState());
  return Status::Ok();
}

}  // namespace oxide::server
