#pragma once

// Reads one HTTP/1.1 request from bytes in memory with the rules a session applies on a socket:
// the header size limit (431), framing checks (400/501), the route's body limit (413) and
// precheck, body syntax (400). For the HTTP fuzzer and tests; Beast stays in the .cpp.

#include <cstdint>
#include <optional>
#include <string_view>

#include "server/api/router.hpp"

namespace oxide::server::net {

struct ReadRequestResult {
  enum class Kind : uint8_t {
    kRequest,     // `request` is complete and ready for the router
    kRejected,    // `reject` is the answer the session would send before closing
    kIncomplete,  // the bytes end inside the request (a session would wait, then time out)
  };
  Kind kind = Kind::kIncomplete;
  api::Request request;
  std::optional<api::Response> reject;
};

// `router` decides body limits (PolicyFor). Upload bodies are kept in request.body (no
// BlobWriter; upload handlers stage it themselves). Never throws.
ReadRequestResult ReadRequest(std::string_view bytes, const api::Router& router,
                              uint32_t header_limit);

}  // namespace oxide::server::net
