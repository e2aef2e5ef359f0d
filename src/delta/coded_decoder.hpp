#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "codec/residual_coder.hpp"
#include "delta/base_source.hpp"
#include "delta/patch_format.hpp"
#include "delta/scaled_transform.hpp"
#include "delta/tensor_decoder.hpp"

struct ZSTD_DCtx_s;  // zstd.h stays out of the header

namespace oxide::delta::internal {

// Checks the first kZstdFrameStartBytes bytes of a zstd frame the format requires: the zstd
// magic and a frame header that sets the content checksum flag (kCorrupt otherwise), so a
// skippable frame or a frame without its XXH64 never passes.
inline constexpr size_t kZstdFrameStartBytes = 5;
Status CheckZstdFrameStart(const uint8_t* p);

// Incremental parser of the coded-tensor strategy's body (docs/format/patch-v3.md): a sequence
// of END / ZSTD / CODED chunks, accepted in arbitrary pieces. ZSTD chunks are decompressed (one
// frame each, window at most 2^23) into a fragment-mode TensorDecoder; CODED blocks are decoded
// by the residual codec and inverted against base bytes read with ReadAt. Memory: the zstd
// window, one payload buffer (kMaxCodedPayload), two kBlockBytes buffers, and the
// TensorDecoder's buffers, whatever the model size. `base` and `out` must outlive the decoder.
class CodedBodyDecoder {
 public:
  // `max_window_bytes`: the caller's decoder memory limit (ApplyLimits); a ZSTD chunk needing
  // more than it (but within the format's 2^23) is kResourceExhausted.
  CodedBodyDecoder(const BaseSource* base, uint64_t target_size, TargetWriter* out,
                   uint64_t max_window_bytes);
  ~CodedBodyDecoder();
  CodedBodyDecoder(const CodedBodyDecoder&) = delete;
  CodedBodyDecoder& operator=(const CodedBodyDecoder&) = delete;

  // kCorrupt on malformed chunks or records, ranges past the base or the target size, bad
  // payloads; kUnsupported on an unknown chunk tag, record tag, transform, kind or width;
  // kResourceExhausted when a zstd chunk needs a window over the limit.
  Status Consume(const uint8_t* data, size_t n);
  // kCorrupt unless the END chunk was read (the body is complete).
  Status Finish() const;

 private:
  enum class Phase {
    kTag,           // next: a chunk tag
    kZstdLength,    // varint L of a ZSTD chunk
    kZstdData,      // L bytes of one zstd frame
    kCodedHeader,   // base offset, length, transform, kind, width
    kBlockLength,   // payload length varint of the next block
    kBlockPayload,  // payload bytes of the block
    kDone,          // after END
  };

  Status StartZstdChunk();
  Status ZstdData(const uint8_t* data, size_t n);
  Status Decompress(const uint8_t* data, size_t n);
  Status EndZstdChunk();
  Status ParseCodedHeader();  // from hdr_; leaves phase_ unchanged while bytes are missing
  Status StartBlock();        // after the header or a block: next block length, or the next tag
  Status DecodeBlock();

  const BaseSource* base_;
  uint64_t target_size_;
  TargetWriter* out_;
  uint64_t max_window_bytes_;
  TensorDecoder records_;  // the records of ZSTD chunks; also counts every produced byte

  Phase phase_ = Phase::kTag;
  uint8_t hdr_[24];  // varints and fixed fields being collected
  size_t hdr_len_ = 0;

  // ZSTD chunk.
  ZSTD_DCtx_s* dctx_ = nullptr;
  uint64_t chunk_left_ = 0;  // compressed bytes of the chunk still to read
  uint8_t frame_start_[kZstdFrameStartBytes];
  size_t frame_start_len_ = 0;
  bool frame_done_ = false;
  std::vector<uint8_t> zout_;

  // CODED chunk.
  codec::BlockInfo info_;
  uint64_t base_offset_ = 0;     // base offset of the next block (transform != 0)
  uint64_t remaining_ = 0;       // target bytes of the chunk still to produce
  uint64_t chunk_produced_ = 0;  // target bytes of the chunk produced so far
  size_t payload_len_ = 0;
  size_t payload_fill_ = 0;
  std::vector<uint8_t> payload_;   // then reused for the inverse-transformed target block
  std::vector<uint8_t> residual_;  // decoded residual of one block
  std::vector<uint8_t> base_buf_;  // base bytes of one block
  RowScales row_scales_;           // transform 5: the current block's row scales
  codec::CoderContext coder_;      // the codec's zstd context and buffers, reused per block
};

}  // namespace oxide::delta::internal
