#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "base/sha256.hpp"
#include "delta/base_source.hpp"
#include "delta/patch_header.hpp"

namespace oxide::delta {

// Where rebuilt target bytes go, strictly in order.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual Status Write(const uint8_t* data, size_t n) = 0;
};

struct ApplyLimits {
  // Largest zstd window accepted (decoder memory). A patch needing more fails with
  // kResourceExhausted, so the caller can fall back to a full download. A binary patch's base is
  // its zstd prefix and must fit too (checked before BaseSource::View()).
  uint64_t max_window_bytes = uint64_t{1} << 31;
  // Skip hashing the base when the caller has just verified it (e.g. the builder's own check).
  bool base_verified = false;
};

// Push-based, streaming patch applier (zstd style): feed patch bytes as they arrive, in chunks of
// any size, then Finish(). Memory is bounded by the format's block size and the zstd window,
// never by the model size. Reads base ranges from `base`; writes target bytes to `sink` in order.
//
// Errors (sticky: after one, every call returns it again):
//   kUnsupported        unknown version, strategy, op or transform
//   kCorrupt            malformed or truncated patch, checksum or target SHA-256 mismatch
//   kFailedPrecondition base size or SHA-256 differs from the patch header (wrong base:
//                       fall back to a full download)
//   kResourceExhausted  the patch needs more decoder memory than `limits` allow
//   any error the sink returns.
// `base` and `sink` must outlive the applier. Not thread-safe.
class PatchApplier {
 public:
  static std::unique_ptr<PatchApplier> Create(BaseSource* base, ByteSink* sink,
                                              ApplyLimits limits = {});
  virtual ~PatchApplier() = default;

  virtual Status Feed(const uint8_t* data, size_t n) = 0;
  // Checks that the patch ended exactly and the target SHA-256 matches; returns that digest.
  virtual Result<Digest> Finish() = 0;
  // Parsed header once at least kPatchHeaderSize bytes were fed; nullptr before.
  virtual const PatchHeader* header() const = 0;
};

struct ApplyStats {
  PatchHeader header;
  uint64_t patch_bytes = 0;
};

// Applies the patch file at `patch_path` to `base_path` (empty: no base), writing `out_path`
// atomically (temp file, fsync, rename, fsync dir) only when the target SHA-256 matched.
Result<ApplyStats> ApplyPatchFile(const std::string& base_path, const std::string& patch_path,
                                  const std::string& out_path, ApplyLimits limits = {});

}  // namespace oxide::delta
