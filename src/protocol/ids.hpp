#pragma once

#include <string_view>

namespace oxide::protocol {

// The one id character set shared by the server, the agent and the docs: 1-128 characters of
// [A-Za-z0-9._-], never "." or "..". Such ids are safe in paths, URLs, file names and logs.
// Devices, fleets, models, versions and campaigns all use it.
bool IsValidId(std::string_view id);

}  // namespace oxide::protocol
