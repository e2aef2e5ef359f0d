#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/sha256.hpp"

namespace oxide::delta {

// How the patch body rebuilds the target. Values are on disk: never renumber.
enum class Strategy : uint8_t {
  kBinary = 0,       // zstd frame with the whole base as prefix (zstd --patch-from equivalent)
  kTensor = 1,       // op sequence: copy / delta / literal segments (tensor-aware)
  kFull = 2,         // zstd frame of the whole target (no base needed)
  kCodedTensor = 3,  // chunks: zstd-compressed records and codec-coded tensors (version 3 only)
};
std::string_view ToString(Strategy s);  // "binary", "tensor", "full", "coded-tensor"
// The header version byte a patch of strategy `s` carries: 3 for kCodedTensor, else 2.
uint8_t PatchVersionOf(Strategy s);

// The fixed-size header at the start of every OXDL v2 and v3 patch (docs/format/patch-v2.md,
// patch-v3.md). The version byte follows from the strategy (PatchVersionOf).
struct PatchHeader {
  Strategy strategy = Strategy::kFull;
  uint8_t format_hint = 0;  // tensor::ModelFormat of the target (informational)
  uint64_t base_size = 0;
  Digest base_sha256{};
  uint64_t target_size = 0;
  Digest target_sha256{};
  uint64_t body_size = 0;  // bytes following the header
};

inline constexpr size_t kPatchHeaderSize = 100;

// Parses and validates the header from the first kPatchHeaderSize bytes of a patch.
// kCorrupt (short, bad magic, checksum), kUnsupported (version or strategy unknown, or a
// strategy its version does not define).
Result<PatchHeader> ParsePatchHeader(std::string_view bytes);
// Encodes exactly kPatchHeaderSize bytes, including the header check.
std::string EncodePatchHeader(const PatchHeader& h);

}  // namespace oxide::delta
