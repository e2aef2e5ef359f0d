#pragma once

// HTTP conditional and range request helpers (RFC 9110), pure functions.

#include <cstdint>
#include <string_view>

namespace oxide::server::api {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

enum class RangeKind : uint8_t {
  kNone,           // no usable Range: send the whole body with 200
  kSatisfiable,    // 206 with *out
  kUnsatisfiable,  // 416
};

// Parses one "bytes=a-b" / "bytes=a-" / "bytes=-n" range against `size`. Syntax errors and
// multi-range requests give kNone (a server may ignore Range); a start at or past the end,
// or a zero suffix, gives kUnsatisfiable.
RangeKind ParseRange(std::string_view header, uint64_t size, ByteRange* out);

// True when an If-None-Match / If-Range value names `etag` (strong, quoted) or is "*".
bool EtagListMatches(std::string_view header, std::string_view etag);

}  // namespace oxide::server::api
