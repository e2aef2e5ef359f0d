#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::inference {

// One named tensor held in memory: raw little-endian elements, ElementWidth(dtype) bytes each.
struct NamedTensor {
  std::string name;
  tensor::DType dtype = tensor::DType::kF32;
  std::vector<int64_t> dims;
  std::string data;
  // Product of dims (1 for a scalar); 0 when a dim is negative or the product overflows.
  uint64_t element_count() const;
};

// Inputs or outputs of one inference, or a golden pair. On disk it is a SafeTensors file (what
// Python writes with `safetensors.numpy.save_file`), so users make inputs without Oxide.
struct TensorSet {
  std::vector<NamedTensor> tensors;                           // SafeTensors order: sorted by name
  std::vector<std::pair<std::string, std::string>> metadata;  // `__metadata__`, sorted by key
  const NamedTensor* Find(std::string_view name) const;
};

// Parses SafeTensors bytes (bounds-checked by tensor::IndexSafeTensors). kCorrupt on a malformed
// file; kUnsupported for dtypes without a fixed width.
Result<TensorSet> ParseTensorSet(std::string_view safetensors);
// Serialises to SafeTensors (tensors sorted by name). kInvalidArgument when a tensor's data size
// does not match its dims and dtype, or a name repeats.
Result<std::string> SerializeTensorSet(const TensorSet& set);

Result<TensorSet> ReadTensorSetFile(const std::string& path);
// Atomic (temp file, fsync, rename).
Status WriteTensorSetFile(const std::string& path, const TensorSet& set);

}  // namespace oxide::inference
