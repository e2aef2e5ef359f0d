#include "server/api/range.hpp"

#include <charconv>

namespace oxide::server::api {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool ParseU64(std::string_view s, uint64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

RangeKind ParseRange(std::string_view header, uint64_t size, ByteRange* out) {
  header = Trim(header);
  constexpr std::string_view kPrefix = "bytes=";
  if (header.substr(0, kPrefix.size()) != kPrefix) return RangeKind::kNone;
  std::string_view spec = Trim(header.substr(kPrefix.size()));
  if (spec.find(',') != std::string_view::npos) return RangeKind::kNone;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return RangeKind::kNone;
  std::string_view first = Trim(spec.substr(0, dash));
  std::string_view last = Trim(spec.substr(dash + 1));
  if (first.empty()) {  // suffix: the last n bytes
    uint64_t n = 0;
    if (!ParseU64(last, &n)) return RangeKind::kNone;
    if (n == 0 || size == 0) return RangeKind::kUnsatisfiable;
    if (n > size) n = size;
    *out = {size - n, n};
    return RangeKind::kSatisfiable;
  }
  uint64_t a = 0;
  if (!ParseU64(first, &a)) return RangeKind::kNone;
  uint64_t b = 0;
  if (last.empty()) {
    b = size == 0 ? 0 : size - 1;
  } else if (!ParseU64(last, &b) || b < a) {
    return RangeKind::kNone;
  }
  if (a >= size) return RangeKind::kUnsatisfiable;
  if (b >= size) b = size - 1;
  *out = {a, b - a + 1};
  return RangeKind::kSatisfiable;
}

bool EtagListMatches(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view item = Trim(header.substr(0, comma));
    if (item == "*") return true;
    if (item.substr(0, 2) == "W/") item.remove_prefix(2);  // weak comparison for If-None-Match
    if (item == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace oxide::server::api
