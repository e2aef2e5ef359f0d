#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "delta/build/tensor_encoder.hpp"
#include "delta/build/tensor_plan.hpp"

namespace oxide::delta::internal {

// Below this a tensor stays a record in a ZSTD chunk: a chunk header and a codec payload header
// cost more than sharing the frame with its neighbours.
inline constexpr uint64_t kMinCodedBytes = 4096;
// Window (log2) of the ZSTD chunks CodedChunkEncoder writes.
inline constexpr int kFastChunkWindowLog = 20;

struct CodedEncodeStats {
  TensorEncodeStats records;  // the v2 records inside ZSTD chunks
  size_t zstd_chunks = 0;
  size_t coded_chunks = 0;
  uint64_t coded_bytes = 0;    // target bytes carried by CODED chunks
  uint64_t coded_payload = 0;  // their coded size (payloads only)
};

// How segments are split between ZSTD records and CODED chunks. kAuto is what the builder
// uses; the others exist so tests and fuzz seeds can produce each chunk kind whatever the codec.
enum class CodedChoice : uint8_t {
  kAuto,         // per tensor, whichever is smaller on the trial blocks
  kAlwaysCoded,  // every DELTA / LITERAL segment becomes a CODED chunk
  kNeverCoded,   // everything goes into ZSTD chunks
};

// Encodes the coded-tensor strategy's body (docs/format/patch-v3.md) for `segments` (the same
// plan as the tensor strategy): COPYs, framing and small or zstd-friendly tensors as v2 records
// in ZSTD chunks (consecutive records share one chunk), the other tensors as CODED chunks with
// the transform the residual coder codes smallest. `level` is the zstd level of the chunks.
// `known` (may be nullptr): the tensor strategy's record choices for the same segments
// (TensorEncodeStats::choices), reused instead of repeating their trials.
// kUnsupported under kAuto when no segment is smaller coded: that body would be the tensor
// strategy's records in one more wrapper, so it is not built.
Result<std::string> EncodeCodedBody(std::string_view base, std::string_view target,
                                    const std::vector<Segment>& segments, int level,
                                    CodedChoice choice, const std::vector<RecordChoice>* known,
                                    CodedEncodeStats* stats);

class CodedWriter;

// Encodes pieces of a coded-tensor body as self-contained runs of chunks (no END): the work
// items of the parallel builder (parallel_coded.hpp), one encoder per thread. Decides each
// segment as EncodeCodedBody's kAuto does, except that trials use one block per segment, the
// codec is tried only with the transform the zstd trial chose, and ZSTD chunks have a 1 MiB
// window (large models: about a third of the trial work). Not thread-safe.
class CodedChunkEncoder {
 public:
  // `base` and `target` must outlive the encoder; `level`: the zstd level of ZSTD chunks.
  CodedChunkEncoder(std::string_view base, std::string_view target, int level);
  ~CodedChunkEncoder();
  CodedChunkEncoder(const CodedChunkEncoder&) = delete;
  CodedChunkEncoder& operator=(const CodedChunkEncoder&) = delete;

  // Appends the chunks of segments[begin, end) to *out (COPY records and small segments share
  // one ZSTD chunk; each other segment becomes a CODED chunk or a ZSTD chunk of its own record)
  // and adds to *stats. The bytes depend only on the segments, never on other calls.
  Status Encode(const std::vector<Segment>& segments, size_t begin, size_t end, std::string* out,
                CodedEncodeStats* stats);

 private:
  CodedEncodeStats stats_;  // unused: Encode() points the writer at the caller's stats
  std::unique_ptr<CodedWriter> writer_;
};

}  // namespace oxide::delta::internal
