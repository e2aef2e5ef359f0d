#pragma once

#include <cstdint>
#include <string_view>

#include "base/result.hpp"
#include "tensor/tensor_index.hpp"

// Private to the SafeTensors indexer: the JSON header reader.
namespace oxide::tensor::internal {

// Reads the header JSON `text` in one pass (linear in its size) and appends one TensorInfo per
// entry (file order, absolute offsets: data_start + data_offsets) and the `__metadata__` pairs
// (sorted by key) to `index`. kCorrupt for invalid JSON (strict RFC 8259: UTF-8, escapes, no
// trailing commas), a non-object header or entry, duplicate keys, nesting deeper than 64, bad
// shape or offsets (outside `data_size`, or not matching the shape); kUnsupported for an unknown
// dtype. Semantic errors are reported only when the whole text is valid JSON.
Status ReadSafeTensorsHeader(std::string_view text, uint64_t data_start, uint64_t data_size,
                             TensorIndex* index);

}  // namespace oxide::tensor::internal
