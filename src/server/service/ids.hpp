#pragma once

#include <string_view>

#include "base/status.hpp"

namespace oxide::server {

// Ids (devices, fleets, models, versions, campaigns) are 1-128 characters of [A-Za-z0-9._-],
// and never "." or "..", so they are safe in paths, URLs and logs.
bool IsValidId(std::string_view id);
// kInvalidArgument "<what> '<id>' is invalid: ..." when !IsValidId(id).
Status ValidateId(std::string_view what, std::string_view id);

}  // namespace oxide::server
