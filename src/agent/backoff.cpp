#include "agent/backoff.hpp"

#include <algorithm>

namespace oxide::agent {

Clock::Duration BackoffDelay(uint32_t failures, Clock::Duration base, Clock::Duration cap,
                             double jitter01) {
  cap = std::max(cap, base);
  Clock::Duration d = base;
  for (uint32_t i = 1; i < failures && d < cap; ++i) d *= 2;
  d = std::min(d, cap);
  double factor = 0.5 + 0.5 * std::clamp(jitter01, 0.0, 1.0);
  return std::chrono::duration_cast<Clock::Duration>(d * factor);
}

}  // namespace oxide::agent
