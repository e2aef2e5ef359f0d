#pragma once

// Constants shared by the patch reader (applier) and writer (builder). The byte-level
// specification is docs/format/patch-v2.md and docs/format/patch-v3.md; change those first, and
// bump the version for any incompatible change.

#include <cstddef>
#include <cstdint>

namespace oxide::delta::format {

inline constexpr char kMagic[4] = {'O', 'X', 'D', 'L'};
inline constexpr uint8_t kPatchVersion = 2;  // version 1 is the reference implementation's OXDL
// Version 3 adds strategy 3 (coded tensor) and is written only for it: strategies 0-2 stay
// version 2 byte for byte, so agents that read only version 2 keep working.
inline constexpr uint8_t kPatchVersionCoded = 3;

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
// Coded chunks only (version 3), fp32 only: r = zigzag(ord(t) - ord(fl(b * scale[row]))) with
// one fp32 scale per row of the tensor, carried ahead of each block's codec payload
// (delta/scaled_transform.hpp). A fine-tune exported with BatchNorm folded into the weights
// rescales every output channel; against the rescaled base the residual is rounding noise.
inline constexpr uint8_t kScaledSubOrd = 5;

// DELTA and LITERAL data is cut into blocks of kBlockBytes (the last one shorter); inside a
// block, byte k of every element is stored contiguously ("plane" k), then the tail bytes.
inline constexpr size_t kBlockBytes = size_t{1} << 20;

// Chunk tags of the coded-tensor strategy's body (version 3).
enum class Chunk : uint8_t {
  kEnd = 0,    // last byte of the body
  kZstd = 1,   // compressed length, then one zstd frame holding whole v2 records (no END)
  kCoded = 2,  // base offset, length, transform, element kind, width, then coded blocks
};
// Largest window a ZSTD chunk's frame may declare (log2): the device's decoder memory.
inline constexpr int kChunkWindowLog = 23;
// Largest payload of one CODED block: the codec never exceeds n + 16 bytes (verbatim fallback);
// the margin leaves the codec room to evolve without a format change.
inline constexpr uint64_t kMaxCodedPayload = kBlockBytes + kBlockBytes / 8 + 4096;

// Largest varint-carried field accepted while parsing records.
inline constexpr uint64_t kMaxRecordLength = uint64_t{1} << 48;

}  // namespace oxide::delta::format
