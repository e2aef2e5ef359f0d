#pragma once

#include <cstdint>

#include "store/records.hpp"

namespace oxide::server {

// Behaviour knobs shared by the services (set from `oxide serve` flags).
struct ServiceOptions {
  store::TimeMs offline_after_ms = 90'000;  // no heartbeat for this long: shown offline
  uint32_t poll_interval_seconds = 0;       // sent to agents; 0 = keep their own setting
};

}  // namespace oxide::server
