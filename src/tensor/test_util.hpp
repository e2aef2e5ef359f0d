#pragma once

#include <string>
#include <string_view>

#include "tensor/tensor_index.hpp"

// Small helpers shared by the tensor tests.
namespace oxide::tensor::testutil {

// The tensor called `name`, or nullptr.
inline const TensorInfo* Find(const TensorIndex& index, std::string_view name) {
  for (const TensorInfo& t : index.tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The bytes a tensor's range covers.
inline std::string_view Slice(std::string_view file, const TensorInfo& t) {
  return file.substr(static_cast<size_t>(t.offset), static_cast<size_t>(t.length));
}

}  // namespace oxide::tensor::testutil
