#include "server/net/rate_limiter.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace oxide::server::net {

RateLimiter::RateLimiter(const Clock& clock, RateLimit limit, size_t max_keys)
    : clock_(clock),
      limit_{limit.per_second, std::max(1.0, limit.burst)},
      max_keys_(std::max<size_t>(1, max_keys)) {}

RateLimiter::Bucket& RateLimiter::Refill(std::string_view key, Clock::Duration now) {
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) Evict(now);
    return buckets_.emplace(std::string(key), Bucket{limit_.burst, now}).first->second;
  }
  Bucket& b = it->second;
  const double secs = std::chrono::duration<double>(now - b.updated).count();
  b.tokens = std::min(limit_.burst, b.tokens + std::max(0.0, secs) * limit_.per_second);
  b.updated = now;
  return b;
}

Clock::Duration RateLimiter::WaitFor(const Bucket& b) const {
  const double secs = (1.0 - b.tokens) / limit_.per_second;
  return std::chrono::duration_cast<Clock::Duration>(std::chrono::duration<double>(secs));
}

// Buckets that have refilled completely carry no state worth keeping. If none has (every key
// is busy), one arbitrary bucket goes: its key gets a fresh burst, which is the lesser harm
// than unbounded memory.
void RateLimiter::Evict(Clock::Duration now) {
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    const double secs = std::chrono::duration<double>(now - it->second.updated).count();
    if (it->second.tokens + secs * limit_.per_second >= limit_.burst) {
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  if (buckets_.size() >= max_keys_) buckets_.erase(buckets_.begin());
}

std::optional<Clock::Duration> RateLimiter::Take(std::string_view key) {
  if (!limit_.enabled()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = Refill(key, clock_.Now());
  if (b.tokens < 1.0) return WaitFor(b);
  b.tokens -= 1.0;
  return std::nullopt;
}

std::optional<Clock::Duration> RateLimiter::Check(std::string_view key) {
  if (!limit_.enabled()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  Bucket& b = Refill(key, clock_.Now());
  if (b.tokens < 1.0) return WaitFor(b);
  return std::nullopt;
}

}  // namespace oxide::server::net
