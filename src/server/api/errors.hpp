#pragma once

#include "base/status.hpp"
#include "server/api/http_types.hpp"

namespace oxide::server::api {

// The one ErrorCode → HTTP status mapping:
//   kCorrupt 400 (malformed request: JSON syntax, header syntax), kInvalidArgument 422 (well
//   formed but invalid: types, missing fields, ids), kNotFound 404, kAlreadyExists 409,
//   kFailedPrecondition 409 (invalid state transition), kUnsupported 415,
//   kResourceExhausted 507 (the server ran out of room: ENOSPC while staging or committing an
//   upload; the client is not at fault), kUnavailable/kCancelled 503, kIo/kInternal 500 (a bug
//   or a broken disk).
// A request over a configured size limit is not an ErrorCode: see TooLargeResponse.
int HttpStatusFor(ErrorCode code);

// The `code` string of an error body: ToString(code), except "insufficient_storage" for
// kResourceExhausted (507).
std::string_view ApiErrorCode(ErrorCode code);

// {"error":{"code":"not_found","message":"..."}} with the mapped status.
Response ErrorResponse(const Status& status);

// 413 {"error":{"code":"resource_exhausted",...}}: the request exceeds a configured limit
// (JSON body, --max-upload-mb). `http_status` may be 431 for oversized headers.
Response TooLargeResponse(const std::string& message, int http_status = 413);

// The access refusals: {"error":"<code>","message":"..."} with `http_status` 401
// (code "unauthenticated", plus WWW-Authenticate: Bearer) or 403 ("forbidden", "device_pending",
// "device_rejected"). See docs/api.md, Authentication.
Response AccessErrorResponse(int http_status, std::string_view code, const std::string& message);

}  // namespace oxide::server::api
