#pragma once

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

}  // namespace oxide::agent
