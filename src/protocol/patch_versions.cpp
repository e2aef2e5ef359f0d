#include "protocol/patch_versions.hpp"

#include <string>

namespace oxide::protocol {
namespace {

constexpr size_t kMaxValueBytes = 64;

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

}  // namespace

Result<PatchVersions> ParsePatchVersions(std::string_view value) {
  PatchVersions out;
  if (value.empty()) {
    out.accepted.set(2);
    return out;
  }
  auto bad = [&](const std::string& why) {
    return Corrupt(std::string(kPatchVersionsHeader) + " must list patch versions 1..255 " +
                   "separated by commas (e.g. \"2,3\"): " + why);
  };
  if (value.size() > kMaxValueBytes) return bad("longer than 64 bytes");
  out.declared = true;
  size_t pos = 0;
  while (true) {
    while (pos < value.size() && IsBlank(value[pos])) ++pos;
    unsigned v = 0;
    size_t digits = 0;
    while (pos < value.size() && value[pos] >= '0' && value[pos] <= '9') {
      v = v * 10 + static_cast<unsigned>(value[pos] - '0');
      ++pos;
      if (++digits > 3) return bad("a version has more than 3 digits");
    }
    if (digits == 0) return bad("an entry is not a number");
    if (v == 0 || v > 255) return bad("version " + std::to_string(v) + " out of range");
    out.accepted.set(v);
    while (pos < value.size() && IsBlank(value[pos])) ++pos;
    if (pos == value.size()) return out;
    if (value[pos] != ',') return bad("unexpected character");
    ++pos;
  }
}

}  // namespace oxide::protocol
