#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "tensor/tensor_index.hpp"

namespace oxide::delta::internal {

// One piece of the target, in target order. Segments tile the target exactly.
struct Segment {
  enum class Kind : uint8_t { kCopy, kDelta, kLiteral };
  Kind kind = Kind::kLiteral;
  uint64_t target_offset = 0;
  uint64_t length = 0;
  uint64_t base_offset = 0;  // kCopy, kDelta
  uint8_t width = 1;         // element width for plane grouping (kDelta, kLiteral)
  bool is_float = false;     // enables the float-ordered transform
  // Test-only (golden patches): when non-zero, the record is written with this width byte
  // (element width | layout flag) and `forced_transform` (0 = LITERAL) instead of the encoder's
  // trial choice. The planner never sets them.
  uint8_t forced_width_byte = 0;
  uint8_t forced_transform = 0;
  // codec::ElementKind of the tensor's elements (kBytes for framing, integers and anything else);
  // chooses the residual coder's model in a coded-tensor patch.
  uint8_t element_kind = 0;
  // kDelta of a same-size tensor with two or more dims: its outer dimension (rows of
  // length / width / rows elements), else 0. Enables the per-row scaled transform.
  uint64_t rows = 0;
};

struct PlanStats {
  size_t matched_by_name = 0;
  size_t matched_by_content = 0;
  size_t matched_by_shape = 0;
  size_t resized = 0;
  size_t unmatched = 0;
};

// Matches target tensors to base tensors (name, then content, then dtype+shape) and lays out
// the target as copy / delta / literal segments. Framing bytes between tensors are aligned with
// the corresponding base framing (common prefix and suffix become copies). Adjacent copies of
// contiguous base ranges are merged.
// `release` (may be empty) is called with each range of `base` or `target` whose bytes were
// compared whole (identical tensors are compared in full), once planning is done with it: the
// streamed build drops those pages from memory, so planning a large pair stays bounded.
using ReleaseFn = std::function<void(const char* data, uint64_t n)>;
std::vector<Segment> PlanTensorPatch(std::string_view base, const tensor::TensorIndex& base_index,
                                     std::string_view target,
                                     const tensor::TensorIndex& target_index, PlanStats* stats,
                                     const ReleaseFn& release = {});

}  // namespace oxide::delta::internal
