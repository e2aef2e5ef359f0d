#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "delta/patch_header.hpp"

namespace oxide::delta {

struct DiffOptions {
  int threads = 2;         // candidates are built concurrently
  bool try_binary = true;  // whole-file zstd patch-from candidate
  bool try_tensor = true;  // tensor-aware candidate (needs a recognised format)
  bool try_full = true;    // compressed full file
  int level = 0;           // zstd level; 0 picks by size (19 up to 64 MiB, faster above)
  // Highest patch format version written: 3 allows the coded-tensor strategy (built with the
  // tensor candidate, from the same plan); 2 never writes it, for agents that read only v2.
  int max_patch_version = 3;
};

struct DiffResult {
  std::string patch;  // the encoded patch (header + body)
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

// File-level convenience: maps both inputs and writes the patch to `out_path` atomically.
Result<DiffResult> BuildPatchFile(const std::string& base_path, const std::string& target_path,
                                  const std::string& out_path, const DiffOptions& options = {});

}  // namespace oxide::delta
