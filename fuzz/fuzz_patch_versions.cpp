// libFuzzer harness: arbitrary bytes as an X-Oxide-Patch-Versions value. Invariants: errors are
// kCorrupt only; the empty value is {2}, undeclared; whatever parses is declared, accepts at
// least one version and never version 0, and parses again to the same set once re-encoded.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/patch_versions.hpp"

namespace {

[[noreturn]] void Violation(const char* what) {
  std::fprintf(stderr, "invariant violated: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using oxide::ErrorCode;
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  auto parsed = oxide::protocol::ParsePatchVersions(value);
  if (!parsed.ok()) {
    if (parsed.status().code() != ErrorCode::kCorrupt) Violation("error other than kCorrupt");
    return 0;
  }
  if (value.empty()) {
    if (parsed->declared || parsed->accepted.count() != 1 || !parsed->Accepts(2)) {
      Violation("absent header is not {2}");
    }
    return 0;
  }
  if (!parsed->declared || parsed->accepted.none() || parsed->Accepts(0)) {
    Violation("a parsed list is undeclared, empty or holds 0");
  }
  std::string again;
  for (unsigned v = 1; v < 256; ++v) {
    if (!parsed->Accepts(static_cast<uint8_t>(v))) continue;
    if (!again.empty()) again += ',';
    again += std::to_string(v);
  }
  if (again.size() > 64) return 0;  // many distinct versions: longer than the header limit
  auto reparsed = oxide::protocol::ParsePatchVersions(again);
  if (!reparsed.ok() || reparsed->accepted != parsed->accepted) {
    Violation("re-encoded list parses differently");
  }
  return 0;
}
