#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "delta/patch_header.hpp"

namespace oxide::delta {

struct DiffOptions {
  // Threads: small models build two candidates concurrently; large ones (see stream_above) encode
  // their tensors on this many threads. The patch bytes never depend on it.
  int threads = 2;
  bool try_binary = true;  // whole-file zstd patch-from candidate
  bool try_tensor = true;  // tensor-aware candidate (needs a recognised format)
  bool try_full = true;    // compressed full file
  int level = 0;           // zstd level; 0 picks by size (19 up to 64 MiB, faster above)
  // Highest patch format version written: 3 allows the coded-tensor strategy (built with the
  // tensor candidate, from the same plan); 2 never writes it, for agents that read only v2.
  int max_patch_version = 3;
  // BuildPatchFile only: a target larger than this, in a tensor format, is diffed as a stream,
  // checked and written to the output file as it is encoded, so memory does not grow with the
  // patch size. With version 3 allowed: one coded-tensor candidate (docs/format/patch-v3.md
  // §6), its chunks encoded on `threads` threads (memory: threads x a 32 MiB work item). With
  // max_patch_version 2: the tensor candidate on one thread, byte for byte what the in-memory
  // build keeps. Falls back to building every candidate in memory when try_binary is set, the
  // base is not empty and the tensor plan leaves over 1 % of the target unexplained (the
  // whole-file candidate might win), or when try_full is set and the body is too large to skip
  // the full-file candidate.
  uint64_t stream_above = uint64_t{64} << 20;
};

struct DiffResult {
  std::string patch;        // the encoded patch (header + body); empty when it was streamed
  uint64_t patch_size = 0;  // its size in bytes (also when streamed)
  PatchHeader header;
  uint64_t tensor_candidate = 0;  // size of each candidate that was built (0 = not built)
  uint64_t coded_candidate = 0;   // coded-tensor (version 3): 0 also when no tensor chose the codec
  uint64_t binary_candidate = 0;
  uint64_t full_candidate = 0;
};

// Builds the smallest patch rebuilding `target` from `base` (empty: a first install; the
// tensor-aware candidates then treat it as a model with no tensors). Every candidate kept is
// applied and its SHA-256 compared before it is returned: a patch that does not rebuild the target
// byte for byte is never emitted (kInternal). Inputs are usually MappedFile views.
Result<DiffResult> BuildPatch(std::string_view base, std::string_view target,
                              const DiffOptions& options = {});

// File-level convenience: maps both inputs and writes the patch to `out_path` atomically (large
// models as a stream, see DiffOptions::stream_above).
Result<DiffResult> BuildPatchFile(const std::string& base_path, const std::string& target_path,
                                  const std::string& out_path, const DiffOptions& options = {});

}  // namespace oxide::delta
