#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "delta/build/tensor_plan.hpp"

namespace oxide::delta::internal {

// Finds runs of a literal segment's bytes inside chosen regions of the base (rsync-style: the
// base is hashed in aligned 64-byte blocks, the target is scanned with a rolling hash) and turns
// them into COPY segments. This is how re-ordered, concatenated or split weights still come from
// the base instead of the wire, without holding a zstd window over the whole model.
// `regions` are [begin, end) base ranges to search (typically the base tensors no target tensor
// claimed, and the framing); `base` and `target` must outlive the matcher.
class BlockMatcher {
 public:
  static constexpr size_t kBlock = 64;

  BlockMatcher(std::string_view base, std::string_view target,
               const std::vector<std::pair<uint64_t, uint64_t>>& regions);

  // Replaces `literal` (a kLiteral segment) by literal and copy pieces, appended to `out`.
  void Split(const Segment& literal, std::vector<Segment>* out) const;

  bool empty() const { return index_.empty(); }

 private:
  std::string_view base_;
  std::string_view target_;
  // (hash, base offset), sorted by hash: compact and cache-friendly for millions of blocks.
  std::vector<std::pair<uint64_t, uint64_t>> index_;
};

}  // namespace oxide::delta::internal
