#pragma once

// Constants shared by the patch reader (applier) and writer (builder). The byte-level
// specification is docs/format/patch-v2.md; change that first, and bump kPatchVersion for any
// incompatible change.

#include <cstddef>
#include <cstdint>

namespace oxide::delta::format {

inline constexpr char kMagic[4] = {'O', 'X', 'D', 'L'};
inline constexpr uint8_t kPatchVersion = 2;  // version 1 is the reference implementation's OXDL

// Record tags inside the tensor strategy's instruction stream.
enum class Op : uint8_t {
  kEnd = 0,
  kCopy = 1,     // base_offset, length
  kDelta = 2,    // base_offset, length, transform, width, then `length` residual bytes
  kLiteral = 3,  // length, width, then `length` bytes
};

// Element-wise transforms of a DELTA record (t = target, b = base, width-byte little-endian
// elements; a trailing partial element is always XORed byte-wise).
enum class Transform : uint8_t {
  kXor = 1,     // r = t ^ b
  kSub8 = 2,    // r[i] = t[i] - b[i] (mod 256), byte-wise
  kSubInt = 3,  // r = zigzag(t - b) on width-byte integers
  kSubOrd = 4,  // r = zigzag(ord(t) - ord(b)); ord() maps IEEE sign-magnitude to an ordered
                // unsigned integer (bijective), so small moves across zero stay small
};
inline constexpr uint8_t kMaxTransform = 4;

// DELTA and LITERAL data is cut into blocks of kBlockBytes (the last one shorter); inside a
// block, byte k of every element is stored contiguously ("plane" k), then the tail bytes.
inline constexpr size_t kBlockBytes = size_t{1} << 20;

// Largest varint-carried field accepted while parsing records.
inline constexpr uint64_t kMaxRecordLength = uint64_t{1} << 48;

}  // namespace oxide::delta::format
