#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "delta/build/tensor_plan.hpp"

namespace oxide::delta::internal {

struct TensorEncodeStats {
  uint64_t copy_bytes = 0;
  uint64_t delta_bytes = 0;
  uint64_t literal_bytes = 0;
  size_t records = 0;
};

// Encodes the tensor strategy's body: the instruction stream (COPY / DELTA / LITERAL / END
// records with plane-grouped data) as one zstd frame. For each delta segment the transform
// (XOR, byte subtraction, integer or float-ordered subtraction) that compresses best on a fast
// trial is kept, or the segment becomes a literal when that is smaller still.
// `level` is the zstd level of the final frame.
Result<std::string> EncodeTensorBody(std::string_view base, std::string_view target,
                                     const std::vector<Segment>& segments, int level,
                                     TensorEncodeStats* stats);

}  // namespace oxide::delta::internal
