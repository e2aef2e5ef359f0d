#pragma once

#include <cstdint>
#include <string_view>

#include "tensor/tensor_index.hpp"

// The ggml tensor types a GGUF file may name: how many elements one block holds and how many
// bytes it takes (ggml's type traits). Shared by the GGUF indexer and its tests.
namespace oxide::tensor::internal {

struct GgmlTypeInfo {
  uint32_t id;
  std::string_view name;
  uint32_t block_size;  // elements per block (1 for plain types)
  uint32_t type_size;   // bytes per block
  DType dtype;          // kUnknown for quantised block types (indexed as opaque bytes)
};

// nullptr for ids ggml never defined or has removed (Q4_2, Q4_3, the Q4_0_4_4 / IQ4_NL_4_4
// repacked families, which are never written to files).
const GgmlTypeInfo* FindGgmlType(uint32_t id);

}  // namespace oxide::tensor::internal
