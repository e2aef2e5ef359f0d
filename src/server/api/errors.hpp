#pragma once

#include "base/status.hpp"
#include "server/api/http_types.hpp"

namespace oxide::server::api {

// The one ErrorCode → HTTP status mapping:
//   kCorrupt 400 (malformed request: JSON syntax, header syntax), kInvalidArgument 422 (well
//   formed but invalid: types, missing fields, ids), kNotFound 404, kAlreadyExists 409,
//   kFailedPrecondition 409 (invalid state transition), kUnsupported 415,
//   kResourceExhausted 413, kUnavailable/kCancelled 503, kIo/kInternal 500 (a bug or a broken
//   disk).
int HttpStatusFor(ErrorCode code);

// {"error":{"code":"not_found","message":"..."}} with the mapped status.
Response ErrorResponse(const Status& status);

}  // namespace oxide::server::api
