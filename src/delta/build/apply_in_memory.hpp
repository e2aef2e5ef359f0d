#pragma once

// Test helper: applies a patch held in memory to a base held in memory, fed in pieces.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "delta/patch_applier.hpp"

namespace oxide::delta::internal {

class StringSink final : public ByteSink {
 public:
  Status Write(const uint8_t* data, size_t n) override {
    out.append(reinterpret_cast<const char*>(data), n);
    return Status::Ok();
  }
  std::string out;
};

// Applies `patch` to `base` feeding `chunk` bytes at a time (0 = all at once).
inline Result<std::string> ApplyInMemory(std::string_view base, std::string_view patch,
                                         size_t chunk = 0, ApplyLimits limits = {}) {
  auto src = BaseSource::FromMemory(base);
  StringSink sink;
  auto applier = PatchApplier::Create(src.get(), &sink, limits);
  const size_t step = chunk == 0 ? std::max<size_t>(patch.size(), 1) : chunk;
  for (size_t off = 0; off < patch.size(); off += step) {
    const size_t n = std::min(step, patch.size() - off);
    OXIDE_RETURN_IF_ERROR(applier->Feed(reinterpret_cast<const uint8_t*>(patch.data()) + off, n));
  }
  OXIDE_RETURN_IF_ERROR(applier->Finish().status());
  return sink.out;
}

}  // namespace oxide::delta::internal
