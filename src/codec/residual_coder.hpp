#pragma once

// Context-modelled entropy coding of one block of tensor residuals (issue #13). A block is at
// most delta::format::kBlockBytes bytes of little-endian elements; blocks are coded
// independently of each other, so a builder can code them on several threads and a device
// decodes each one into bounded buffers.
//
// The residual is what a DELTA transform produced (XOR, byte-wise or integer differences,
// ordered-float differences, see delta/transform.hpp), or, for a block with no base, the target
// bytes themselves. The base bytes at the same offsets, when there are any, are context only:
// the coder never needs them to be right to stay in bounds, only to decode the same residual.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.hpp"

namespace oxide::codec {

namespace internal {
struct Scratch;
}  // namespace internal

// Reusable coder state: the zstd contexts and scratch buffers a block needs, kept from one block
// to the next instead of being allocated for every block. Create one per thread (or per encoder
// or decoder object) and pass it to every call; it is not thread-safe. Memory grows to what the
// largest block needed (about 4 MiB after encoding 1 MiB blocks, 1.5 MiB after decoding them)
// and is freed with the context. Using a context never changes the coded bytes.
class CoderContext {
 public:
  CoderContext();
  ~CoderContext();
  CoderContext(CoderContext&&) noexcept;
  CoderContext& operator=(CoderContext&&) noexcept;

  internal::Scratch* scratch() { return scratch_.get(); }  // the codec's own use

 private:
  std::unique_ptr<internal::Scratch> scratch_;
};

// What the elements of a block are; chooses the context model. Stored in patches: values are
// part of the file format and never renumbered.
enum class ElementKind : uint8_t {
  kBytes = 0,  // opaque bytes or integers of `width` bytes (int8/uint8, int32, quantised blocks)
  kFp16 = 1,   // IEEE binary16, width 2
  kBf16 = 2,   // bfloat16, width 2
  kFp32 = 3,   // IEEE binary32, width 4
  kFp64 = 4,   // IEEE binary64, width 8
};
inline constexpr uint8_t kMaxElementKind = 4;

struct BlockInfo {
  ElementKind kind = ElementKind::kBytes;
  uint8_t width = 1;      // bytes per element: 1, 2, 4 or 8 (must match a float kind's size)
  uint8_t transform = 0;  // the delta transform that made the residual (0: no base, raw target)
};

// True when `info` is something the coder defines (valid kind/width pair, width 1/2/4/8).
bool IsValidBlockInfo(const BlockInfo& info);

// Appends the coded form of residual[0, n) to *out. `base` is nullptr or points at n bytes.
// Deterministic: the same input always gives the same bytes.
// REQUIRES: IsValidBlockInfo(info).
void EncodeResidualBlock(const BlockInfo& info, const uint8_t* residual, const uint8_t* base,
                         size_t n, std::string* out);

// Encoder knobs; the defaults favour speed (the coder should encode >= 100 MB/s).
struct EncodeOptions {
  bool try_zstd = true;  // also try mode 1 (zstd byte planes) and keep it when smaller
  int zstd_level = 3;
  // Literal floats as mode 4 (kFloatBytes, fast to decode); false: as mode 3, the same size,
  // for agents from before mode 4 (docs/format/patch-v3.md §2.1).
  bool float_bytes = true;
};
// As above, with explicit options.
void EncodeResidualBlock(const BlockInfo& info, const uint8_t* residual, const uint8_t* base,
                         size_t n, std::string* out, const EncodeOptions& options);
// As above, reusing `ctx` (the same bytes; no per-block allocation once ctx has grown).
void EncodeResidualBlock(const BlockInfo& info, const uint8_t* residual, const uint8_t* base,
                         size_t n, std::string* out, const EncodeOptions& options,
                         CoderContext* ctx);

// The first payload byte: which coder made the block (part of the format, never renumbered).
enum class BlockMode : uint8_t {
  kVerbatim = 0,    // the n residual bytes
  kZstdPlanes = 1,  // one zstd frame of the byte planes
  kClassModel = 2,  // residuals: rANS-coded bit-length classes in context + raw low bits
  kFloatModel = 3,  // transform 0 fp16/bf16/fp32: rANS-coded exponents in context + raw bits
  kFloatBytes = 4,  // as kFloatModel, the raw bits in planes (faster to decode; the default)
};

// Decodes exactly n residual bytes from payload[0, len). `base` must be the same bytes (or
// nullptr) as at encoding. kCorrupt when the payload is malformed, too short, or has bytes left
// over; never reads outside [payload, payload + len) or writes outside [residual, residual + n).
Status DecodeResidualBlock(const BlockInfo& info, const uint8_t* payload, size_t len,
                           const uint8_t* base, uint8_t* residual, size_t n);
// As above, reusing `ctx`.
Status DecodeResidualBlock(const BlockInfo& info, const uint8_t* payload, size_t len,
                           const uint8_t* base, uint8_t* residual, size_t n, CoderContext* ctx);

}  // namespace oxide::codec
