#pragma once

#include <cstdint>

#include "base/result.hpp"
#include "inference/tensor_set.hpp"
#include "tensor/model_signature.hpp"

namespace oxide::inference {

// Inputs made from a model's signature when the user has none: every symbolic dim is 1.
// kUnsupported when an input has no shape or a dtype without a fixed width.
Result<TensorSet> ZeroInputs(const tensor::ModelSignature& signature);
// F32 inputs uniform in [-1, 1) from a 64-bit seed (same seed, same values on every machine);
// other dtypes are zeros.
Result<TensorSet> RandomInputs(const tensor::ModelSignature& signature, uint64_t seed);

}  // namespace oxide::inference
