#pragma once

// Who sent a request, as the Authenticator established it.

#include <string>

#include "store/records.hpp"

namespace oxide::server::auth {

enum class PrincipalKind : uint8_t { kNone = 0, kOperator = 1, kDevice = 2 };

struct Principal {
  PrincipalKind kind = PrincipalKind::kNone;
  store::OperatorRole role = store::OperatorRole::kViewer;  // operators only
  std::string id;                                           // operator token id, or device id
  std::string name;                                         // operator token name, or device id

  bool is_operator() const { return kind == PrincipalKind::kOperator; }
  bool is_device() const { return kind == PrincipalKind::kDevice; }
};

}  // namespace oxide::server::auth
