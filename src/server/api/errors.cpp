#include "server/api/errors.hpp"

#include <cstdio>

#include "server/api/internal/json_util.hpp"

namespace oxide::server::api {

int HttpStatusFor(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return 200;
    case ErrorCode::kCorrupt:
      return 400;
    case ErrorCode::kInvalidArgument:
      return 422;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
      return 409;
    case ErrorCode::kFailedPrecondition:
      return 409;
    case ErrorCode::kUnsupported:
      return 415;
    case ErrorCode::kResourceExhausted:
      return 507;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kCancelled:
      return 503;
    case ErrorCode::kIo:
      return 500;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

std::string_view ApiErrorCode(ErrorCode code) {
  if (code == ErrorCode::kResourceExhausted) return "insufficient_storage";
  return ToString(code);
}

Response ErrorResponse(const Status& status) {
  int http = HttpStatusFor(status.code());
  if (http >= 500) std::fprintf(stderr, "oxide serve: %s\n", status.ToString().c_str());
  return JsonResponse(
      http,
      Json{{"error",
            {{"code", std::string(ApiErrorCode(status.code()))}, {"message", status.message()}}}});
}

Response TooLargeResponse(const std::string& message, int http_status) {
  return JsonResponse(http_status,
                      Json{{"error", {{"code", "resource_exhausted"}, {"message", message}}}});
}

Response AccessErrorResponse(int http_status, std::string_view code, const std::string& message) {
  Response r = JsonResponse(http_status, Json{{"error", code}, {"message", message}});
  if (http_status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

}  // namespace oxide::server::api
