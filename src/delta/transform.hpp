#pragma once

#include <cstddef>
#include <cstdint>

#include "delta/patch_format.hpp"

namespace oxide::delta {

// True when (transform, width) is something the format defines: width 1, 2, 4 or 8.
bool IsValidTransform(uint8_t transform, uint8_t width);
// True for a record width byte: width 1, 2, 4 or 8, optionally with kBitPlaneFlag.
bool IsValidWidthByte(uint8_t width_byte);

// residual = F(target, base). n bytes; a trailing partial element is XORed byte-wise.
// REQUIRES: IsValidTransform(t, width).
void ForwardTransform(format::Transform t, size_t width, const uint8_t* target, const uint8_t* base,
                      uint8_t* residual, size_t n);
// target = F^-1(residual, base); exact inverse of ForwardTransform.
void InverseTransform(format::Transform t, size_t width, const uint8_t* residual,
                      const uint8_t* base, uint8_t* target, size_t n);

// Byte-plane grouping of one block: plane k holds byte k of each whole element; tail bytes
// (n % width) follow unchanged. `in` and `out` must not overlap.
void GroupPlanes(const uint8_t* in, uint8_t* out, size_t n, size_t width);
void UngroupPlanes(const uint8_t* in, uint8_t* out, size_t n, size_t width);

// Bit-plane grouping ("bitshuffle"): the whole elements, in groups of 8, are split into
// 8 * width bit planes (plane 8k + j holds bit j of byte k of every element); leftover elements
// and tail bytes follow unchanged. Mostly-zero high bits then cost almost nothing, where a byte
// plane with a little information still pays about a bit per byte.
void GroupBits(const uint8_t* in, uint8_t* out, size_t n, size_t width);
void UngroupBits(const uint8_t* in, uint8_t* out, size_t n, size_t width);

// Layout selector carried in the high bit of a record's width byte.
inline constexpr uint8_t kBitPlaneFlag = 0x80;
// Groups with the layout a record's width byte names (byte planes or bit planes).
void GroupLayout(const uint8_t* in, uint8_t* out, size_t n, uint8_t width_byte);
void UngroupLayout(const uint8_t* in, uint8_t* out, size_t n, uint8_t width_byte);

}  // namespace oxide::delta
