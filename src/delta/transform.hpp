#pragma once

#include <cstddef>
#include <cstdint>

#include "delta/patch_format.hpp"

namespace oxide::delta {

// True when (transform, width) is something the format defines: width 1, 2, 4 or 8.
bool IsValidTransform(uint8_t transform, uint8_t width);

// residual = F(target, base). n bytes; a trailing partial element is XORed byte-wise.
// REQUIRES: IsValidTransform(t, width).
void ForwardTransform(format::Transform t, size_t width, const uint8_t* target,
                      const uint8_t* base, uint8_t* residual, size_t n);
// target = F^-1(residual, base); exact inverse of ForwardTransform.
void InverseTransform(format::Transform t, size_t width, const uint8_t* residual,
                      const uint8_t* base, uint8_t* target, size_t n);

// Byte-plane grouping of one block: plane k holds byte k of each whole element; tail bytes
// (n % width) follow unchanged. `in` and `out` must not overlap.
void GroupPlanes(const uint8_t* in, uint8_t* out, size_t n, size_t width);
void UngroupPlanes(const uint8_t* in, uint8_t* out, size_t n, size_t width);

}  // namespace oxide::delta
