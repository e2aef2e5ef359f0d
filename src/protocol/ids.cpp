#include "protocol/ids.hpp"

#include "base/safe_id.hpp"

namespace oxide::protocol {

bool IsValidId(std::string_view id) { return IsSafeId(id); }

}  // namespace oxide::protocol
