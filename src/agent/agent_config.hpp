#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace oxide::agent {

// Reads a JSON config file holding one flat object ({"device-id": "d1", "poll-interval": 5,
// "once": true}) into (key, value) pairs as the command line would spell them. Nested objects
// and arrays are rejected with kInvalidArgument.
Result<std::vector<std::pair<std::string, std::string>>> ParseJsonConfig(std::string_view text);

// Decoder window limit (`--max-window-mb`, config key `max-window-mb`): the largest zstd window a
// patch may make the device allocate. The default is zstd's own decoder default (128 MiB): tensor
// patches need at most 8 MiB, and a binary patch that needs more is refused with
// kResourceExhausted, which makes the agent fetch the full file instead of running out of memory.
inline constexpr uint64_t kDefaultMaxWindowMiB = 128;
// MiB -> bytes; kInvalidArgument outside [8, 2048] (below 8 MiB no tensor patch applies; 2 GiB is
// the most the format allows).
Result<uint64_t> MaxWindowBytes(uint64_t mib);

}  // namespace oxide::agent
