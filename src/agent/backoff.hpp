#pragma once

#include <cstdint>

#include "base/clock.hpp"

namespace oxide::agent {

// Delay before retrying after `failures` consecutive failures (1, 2, ...): base·2^(failures-1),
// capped at `cap` (but never below `base`), scaled by a jitter factor in [0.5, 1.0] from
// `jitter01` ∈ [0, 1] (1.0: no jitter). Used for transient network failures (the poll loop) and
// for local faults (the pipeline's retry of an update that failed on the device).
Clock::Duration BackoffDelay(uint32_t failures, Clock::Duration base, Clock::Duration cap,
                             double jitter01);

}  // namespace oxide::agent
