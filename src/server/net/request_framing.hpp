#pragma once

// How a parsed HTTP request head becomes an api::Request, and which framings are refused.
// Shared by the session (sockets) and ReadRequest (bytes in memory: the fuzzer), so both apply
// exactly the same rules. Beast-free: callers pass the parsed pieces.

#include <string_view>
#include <utility>
#include <vector>

#include "base/status.hpp"
#include "server/api/http_types.hpp"

namespace oxide::server::net {

using HeaderFields = std::vector<std::pair<std::string_view, std::string_view>>;

// "GET" → kGet ... (case-sensitive, RFC 9110 9.1); anything else kOther.
api::Method MethodFromString(std::string_view method);

// RFC 9112 6.1/6.3: a request body is framed by Transfer-Encoding only when its final coding
// is chunked; any other coding would make the body be read as the next request (smuggling).
// OK with no Transfer-Encoding or exactly "chunked". kUnsupported (→ 501) for another coding,
// kCorrupt (→ 400) for an empty one, chunked twice, or chunked with Content-Length.
Status CheckTransferEncoding(const HeaderFields& fields);

// Fills method, path, query and headers (names lower-cased) of `out` from the request head.
void FillRequest(std::string_view method, std::string_view target, const HeaderFields& fields,
                 api::Request* out);

// The answer to a framing error: 501 for kUnsupported (an unknown transfer coding), else the
// usual error mapping.
api::Response FramingErrorResponse(const Status& st);

}  // namespace oxide::server::net
