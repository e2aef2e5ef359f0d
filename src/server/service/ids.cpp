#include "server/service/ids.hpp"

#include <string>

#include "protocol/ids.hpp"

namespace oxide::server {

bool IsValidId(std::string_view id) { return protocol::IsValidId(id); }

Status ValidateId(std::string_view what, std::string_view id) {
  if (IsValidId(id)) return Status::Ok();
  std::string shown(id.substr(0, 64));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return InvalidArgument(std::string(what) + " '" + shown +
                         "' is invalid: use 1-128 characters of [A-Za-z0-9._-], not '.' or '..'");
}

}  // namespace oxide::server
