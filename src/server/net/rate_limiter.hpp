#pragma once

// Token buckets keyed by a string (a remote address, a device id): each key may spend
// `burst` requests at once and earns `per_second` back. Beast-free and socket-free, so the
// net layer and its tests share it. Thread-safe (one mutex: a lookup and a few flops).

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.hpp"

namespace oxide::server::net {

struct RateLimit {
  double per_second = 0;  // tokens earned per second; 0 = unlimited (Take always succeeds)
  double burst = 0;       // bucket size: requests allowed back to back (at least 1 when on)
  bool enabled() const { return per_second > 0; }
};

class RateLimiter {
 public:
  // `clock` must outlive the limiter. At most `max_keys` buckets are kept: beyond, the full
  // (idle) ones are dropped first, so a flood of distinct keys costs bounded memory.
  RateLimiter(const Clock& clock, RateLimit limit, size_t max_keys = 100'000);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // Spends one token of `key`. nullopt when allowed; else how long until a token is back
  // (what Retry-After says), and nothing is spent.
  std::optional<Clock::Duration> Take(std::string_view key);
  // Like Take but spends nothing: nullopt when `key` has a token left.
  std::optional<Clock::Duration> Check(std::string_view key);

 private:
  struct Bucket {
    double tokens = 0;
    Clock::Duration updated{};
  };
  Bucket& Refill(std::string_view key, Clock::Duration now);
  Clock::Duration WaitFor(const Bucket& b) const;
  void Evict(Clock::Duration now);

  const Clock& clock_;
  const RateLimit limit_;
  const size_t max_keys_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace oxide::server::net
