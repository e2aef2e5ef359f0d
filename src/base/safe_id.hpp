#pragma once

#include <string_view>

namespace oxide {

// The one id character set of the whole product (devices, fleets, models, versions, campaigns,
// signed release metadata): 1-128 characters of [A-Za-z0-9._-], never "." or "..". Such ids are
// safe in paths, URLs, file names, SQL keys and logs. protocol::IsValidId is this check.
bool IsSafeId(std::string_view id);

}  // namespace oxide
