#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace oxide {

// Closed set of error codes (a subset of Abseil's canonical codes). Values are stable: they
// appear in logs, HTTP error bodies and process exit codes.
//   kFailedPrecondition: wrong state (e.g. base hash mismatch) - do not retry until fixed.
//   kUnavailable: transient (network) - retry with backoff.
enum class ErrorCode : uint8_t {
  kOk = 0,
  kInvalidArgument = 1,
  kNotFound = 2,
  kAlreadyExists = 3,
  kFailedPrecondition = 4,
  kCorrupt = 5,
  kUnsupported = 6,
  kResourceExhausted = 7,
  kIo = 8,
  kUnavailable = 9,
  kCancelled = 10,
  kInternal = 11,
};

// Stable lower_snake name ("invalid_argument"); used in JSON error bodies.
std::string_view ToString(ErrorCode code);

// Either OK or an error code with a message. OK carries no allocation.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with context ("tensor 'w1': <message>"); no-op on OK.
  Status WithContext(std::string_view context) &&;
  Status WithContext(std::string_view context) const&;

  // "corrupt: <message>" or "ok".
  std::string ToString() const;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {ErrorCode::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {ErrorCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {ErrorCode::kAlreadyExists, std::move(m)}; }
inline Status FailedPrecondition(std::string m) {
  return {ErrorCode::kFailedPrecondition, std::move(m)};
}
inline Status Corrupt(std::string m) { return {ErrorCode::kCorrupt, std::move(m)}; }
inline Status Unsupported(std::string m) { return {ErrorCode::kUnsupported, std::move(m)}; }
inline Status ResourceExhausted(std::string m) {
  return {ErrorCode::kResourceExhausted, std::move(m)};
}
inline Status IoError(std::string m) { return {ErrorCode::kIo, std::move(m)}; }
inline Status Unavailable(std::string m) { return {ErrorCode::kUnavailable, std::move(m)}; }
inline Status Cancelled(std::string m) { return {ErrorCode::kCancelled, std::move(m)}; }
inline Status Internal(std::string m) { return {ErrorCode::kInternal, std::move(m)}; }

// errno-based I/O error: "<what>: <strerror(err)>".
Status ErrnoError(std::string_view what, int err);

}  // namespace oxide

#define OXIDE_STATUS_CONCAT_INNER(a, b) a##b
#define OXIDE_STATUS_CONCAT(a, b) OXIDE_STATUS_CONCAT_INNER(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define OXIDE_RETURN_IF_ERROR(expr)                        \
  do {                                                     \
    ::oxide::Status oxide_status_tmp_ = (expr);            \
    if (!oxide_status_tmp_.ok()) return oxide_status_tmp_; \
  } while (0)

// `OXIDE_ASSIGN_OR_RETURN(auto x, ComputeX());` binds the value or returns the error.
#define OXIDE_ASSIGN_OR_RETURN(lhs, expr) \
  OXIDE_ASSIGN_OR_RETURN_IMPL(OXIDE_STATUS_CONCAT(oxide_result_, __LINE__), lhs, expr)
#define OXIDE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()
