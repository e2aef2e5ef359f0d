#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "server/metrics.hpp"
#include "server/service/options.hpp"
#include "store/store.hpp"

namespace oxide::server {

enum class BandwidthBucket : uint8_t { kHour = 0, kDay = 1 };
std::string_view ToString(BandwidthBucket b);  // "hour", "day"
Result<BandwidthBucket> ParseBandwidthBucket(std::string_view s);

// What the bandwidth chart prices the bytes at (`oxide serve --price-per-gb --currency`).
struct BandwidthPricing {
  double price_per_gb = 0;  // per 10^9 bytes served
  std::string currency = "USD";
};

struct BandwidthPoint {
  int64_t t = 0;  // unix seconds of the bucket's start (UTC)
  uint64_t bytes_served = 0;
  uint64_t bytes_full_equivalent = 0;
  uint64_t bytes_saved() const {
    return bytes_full_equivalent > bytes_served ? bytes_full_equivalent - bytes_served : 0;
  }
};

struct BandwidthSeries {
  BandwidthBucket bucket = BandwidthBucket::kHour;
  std::vector<BandwidthPoint> series;  // every bucket of the range, zeros included, by time
  BandwidthPoint total;                // t = the first bucket's start
};

// Read-only statistics over the store: the bandwidth series and the counts GET /metrics
// refreshes at scrape time. Thread-safe; `store` and `clock` must outlive it.
class StatsService {
 public:
  // A range longer than this many buckets is kInvalidArgument (a chart needs no more).
  static constexpr int64_t kMaxBuckets = 5000;
  static constexpr int64_t kMaxUnixSeconds = 253'402'300'799;  // 9999-12-31T23:59:59Z

  StatsService(store::Store& store, const Clock& clock, ServiceOptions options,
               BandwidthPricing pricing = {})
      : store_(store), clock_(clock), options_(options), pricing_(std::move(pricing)) {}

  const BandwidthPricing& pricing() const { return pricing_; }

  // Buckets whose start lies in [from_s rounded down to a bucket, to_s). from_s/to_s < 0: the
  // default range ending now (48 hours, or 30 days for day buckets).
  Result<BandwidthSeries> Bandwidth(BandwidthBucket bucket, int64_t from_s, int64_t to_s);

  // For Metrics::Render.
  Status Counts(ScrapeCounts* out);

 private:
  store::Store& store_;
  const Clock& clock_;
  ServiceOptions options_;
  BandwidthPricing pricing_;
};

}  // namespace oxide::server
