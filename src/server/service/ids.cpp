#include "server/service/ids.hpp"

#include <string>

namespace oxide::server {

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

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
