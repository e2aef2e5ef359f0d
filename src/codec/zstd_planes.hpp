#pragma once

// Mode 1 of a block: byte planes (byte k of every element together, then the n % width tail)
// as one zstd frame, as patch v2 stores residuals. It wins where the residual has structure an
// order-0 model misses (periodic edits, repeated rows); the payload is the frame itself.

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.hpp"

namespace oxide::codec::internal {

struct Scratch;

// Appends the frame; false (and nothing appended) if zstd fails, e.g. out of memory. The frame is
// what ZSTD_compress(level) makes; `s` (may be nullptr) supplies the context and buffers.
bool EncodeZstdPlanes(const uint8_t* data, size_t n, unsigned width, int level, std::string* out,
                      Scratch* s = nullptr);
// kCorrupt unless [p, end) is exactly one frame of n bytes.
Status DecodeZstdPlanes(const uint8_t* p, const uint8_t* end, unsigned width, uint8_t* data,
                        size_t n, Scratch* s = nullptr);

}  // namespace oxide::codec::internal
