#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_set>

#include "tensor/tensor_index.hpp"

// Invariants every indexer result must satisfy, whatever the input. A violation aborts, which
// libFuzzer reports as a crash and saves the input.
namespace oxide::fuzz {

[[noreturn]] inline void Violation(const char* what, const std::string& detail) {
  std::fprintf(stderr, "invariant violated: %s: %s\n", what, detail.c_str());
  std::abort();
}

inline void CheckIndexResult(const Result<tensor::TensorIndex>& r, size_t file_size) {
  if (!r.ok()) {
    const ErrorCode code = r.status().code();
    if (code != ErrorCode::kCorrupt && code != ErrorCode::kUnsupported) {
      Violation("unexpected error code", r.status().ToString());
    }
    return;
  }
  uint64_t prev_end = 0;
  std::unordered_set<std::string> names;
  for (const tensor::TensorInfo& t : r->tensors) {
    if (t.offset > file_size || t.length > file_size - t.offset) Violation("out of file", t.name);
    if (t.offset < prev_end) Violation("unsorted or overlapping", t.name);
    if (!names.insert(t.name).second) Violation("duplicate name", t.name);
    if (t.storage == tensor::Storage::kExternal && t.length != 0) {
      Violation("external tensor with a range", t.name);
    }
    // A packed 4-bit type promises its nibble layout: ceil(elements / 2) raw bytes exactly.
    uint64_t elements = 0, bytes = 0;
    if (tensor::IsPacked4(t.dtype) && t.storage == tensor::Storage::kRaw &&
        !(tensor::ElementCount(t.dims, &elements) &&
          tensor::RawByteSize(t.dtype, elements, &bytes) && bytes == t.length)) {
      Violation("packed 4-bit tensor whose dims do not match its bytes", t.name);
    }
    prev_end = t.offset + t.length;
  }
}

}  // namespace oxide::fuzz
