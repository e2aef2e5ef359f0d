#pragma once

// A compact binary form of tensor::TensorIndex, stored once per model blob at upload
// (store::TensorIndexRecord::data) so GET .../meta never re-parses a model. Private to the
// server: the bytes never leave it, and a format change only needs a new leading version byte
// (an unreadable record is recomputed from the blob).

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "tensor/tensor_index.hpp"

namespace oxide::server {

std::string EncodeTensorIndex(const tensor::TensorIndex& index);
// kCorrupt when `data` is not an encoding this version wrote (truncated, unknown version,
// out-of-range enum values).
Result<tensor::TensorIndex> DecodeTensorIndex(std::string_view data);

}  // namespace oxide::server
