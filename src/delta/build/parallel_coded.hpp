#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "delta/build/coded_encoder.hpp"
#include "delta/build/tensor_plan.hpp"

namespace oxide::delta::internal {

struct ParallelCodedOptions {
  int threads = 1;  // encoder threads (at least 1)
  int level = 3;    // zstd level of the ZSTD chunks
  // Segments longer than this are cut into pieces of this size (a multiple of the format's block
  // size), each a work item of its own: it bounds the bytes one item holds.
  uint64_t max_item_bytes = uint64_t{32} << 20;
  // Work items encoded but not yet written, at most (the memory bound: about
  // (threads + max_pending) x max_item_bytes of chunk bytes).
  size_t max_pending = 2;
};

// Encodes the coded-tensor body (docs/format/patch-v3.md) of `segments` on several threads and
// passes it to `write` in pieces, in order, ending with the END chunk. The target is cut into
// work items (a run of COPY records and small segments; or one segment, or one piece of a long
// one): each becomes its own chunks (CodedChunkEncoder), so the body depends on the segments
// alone and is byte-identical for any thread count. Each item is decoded again on its thread
// (CodedBodyDecoder, compared byte for byte with the target; kInternal on a mismatch) before it
// is written. `done(target_offset, length, segment)` is called on the writing thread for every
// segment piece once its bytes are written, e.g. to release mapped pages. Memory: bounded by
// ParallelCodedOptions, never by the model size. Returns the first error of any thread.
Status EncodeCodedBodyParallel(std::string_view base, std::string_view target,
                               const std::vector<Segment>& segments,
                               const ParallelCodedOptions& options,
                               const std::function<Status(std::string_view)>& write,
                               const std::function<void(const Segment&)>& done,
                               CodedEncodeStats* stats);

}  // namespace oxide::delta::internal
