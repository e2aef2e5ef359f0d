#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/result.hpp"
#include "delta/base_source.hpp"
#include "delta/patch_format.hpp"

namespace oxide::delta::internal {

// Output callback of the decoder: target bytes, in order.
class TargetWriter {
 public:
  virtual ~TargetWriter() = default;
  virtual Status Emit(const uint8_t* data, size_t n) = 0;
};

// Incremental parser of the tensor strategy's (already decompressed) instruction stream:
// records of COPY / DELTA / LITERAL / END. Accepts the stream in arbitrary chunks. Memory:
// two kBlockBytes buffers plus one scratch buffer, whatever the model size.
// `base` and `out` must outlive the decoder.
class TensorDecoder {
 public:
  // `fragments`: the stream is the content of version-3 ZSTD chunks (whole records, no END; the
  // chunk sequence has its own END), and other code may produce target bytes in between.
  TensorDecoder(const BaseSource* base, uint64_t target_size, TargetWriter* out,
                bool fragments = false);

  // kCorrupt on malformed records, ranges past the base or past the target size;
  // kUnsupported on an unknown op or transform.
  Status Consume(const uint8_t* data, size_t n);
  // True once the END record was read.
  bool done() const { return phase_ == Phase::kDone; }
  // True between records (a ZSTD chunk must end there).
  bool at_record_boundary() const { return phase_ == Phase::kHeader && hdr_len_ == 0; }
  // Target bytes produced so far, including those announced by AddProduced.
  uint64_t produced() const { return produced_; }
  // Fragment mode: `n` target bytes were written by someone else (a CODED chunk).
  void AddProduced(uint64_t n) { produced_ += n; }

 private:
  enum class Phase { kHeader, kData, kDone };

  Status ParseHeader();  // from hdr_; may leave phase_ unchanged when more bytes are needed
  Status StartRecord();
  Status FlushBlock();
  Status Copy(uint64_t base_offset, uint64_t length);

  const BaseSource* base_;
  uint64_t target_size_;
  TargetWriter* out_;
  bool fragments_;
  uint64_t produced_ = 0;

  Phase phase_ = Phase::kHeader;
  uint8_t hdr_[32];
  size_t hdr_len_ = 0;

  format::Op op_ = format::Op::kEnd;
  uint64_t base_offset_ = 0;  // DELTA: base offset of the next block
  uint64_t remaining_ = 0;    // data bytes of the current record still to read
  format::Transform transform_ = format::Transform::kXor;
  uint8_t width_ = 1;  // record width byte: element width plus layout flag

  std::vector<uint8_t> block_;  // grouped bytes of the block being collected
  size_t block_len_ = 0;        // size of the current block
  size_t block_fill_ = 0;
  std::vector<uint8_t> scratch_;
  std::vector<uint8_t> base_buf_;
};

}  // namespace oxide::delta::internal
