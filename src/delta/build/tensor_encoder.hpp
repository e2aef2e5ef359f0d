#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "delta/build/tensor_plan.hpp"
#include "delta/build/zstd_encoder.hpp"

namespace oxide::delta::internal {

// Pseudo-transform of a record choice: store the target bytes (LITERAL) instead of a residual.
inline constexpr uint8_t kLiteralChoice = 0;

// How a DELTA or LITERAL segment is written as a version-2 record.
struct RecordChoice {
  uint8_t transform = kLiteralChoice;  // or a format::Transform
  uint8_t width_byte = 1;              // element width | layout flag
  size_t trial_cost = 0;               // bytes on the trial blocks at a fast zstd level
};

struct TensorEncodeStats {
  uint64_t copy_bytes = 0;
  uint64_t delta_bytes = 0;
  uint64_t literal_bytes = 0;
  size_t records = 0;
  // One per segment, in order (COPY: default): lets the coded-tensor encoder reuse the trials.
  std::vector<RecordChoice> choices;
};

// Offsets of the blocks a segment of `length` bytes is judged on: large segments are judged on
// a sample spread over the tensor (fine-tuning changes statistics smoothly, and trying every
// block of a 1 GB tensor ten times is slow).
// `max_blocks`: at most this many blocks (2 by default; the streamed build of large models uses 1).
std::vector<uint64_t> TrialBlockOffsets(uint64_t length, uint64_t max_blocks = 2);

// Writes version-2 records (COPY / DELTA / LITERAL with plane-grouped data) into a zstd stream:
// the tensor strategy's body, and the ZSTD chunks of the coded-tensor strategy.
class RecordWriter {
 public:
  using Choice = RecordChoice;

  RecordWriter(std::string_view base, std::string_view target);
  void set_encoder(ZstdEncoder* enc) { enc_ = enc; }
  // Trial blocks per segment in Choose() (TrialBlockOffsets' max_blocks).
  void set_trial_blocks(uint64_t n) { trial_blocks_ = n; }
  // Choose() tries bit planes only for the transform whose byte planes did best (the streamed
  // build of large models); otherwise every (transform, layout) pair.
  void set_prune_layouts(bool prune) { prune_layouts_ = prune; }

  // Picks (transform, layout) of a DELTA or LITERAL segment by compressing its trial blocks.
  Choice Choose(const Segment& s);
  // Writes `s` (COPY, or DELTA/LITERAL as Choose() picks).
  Status Emit(const Segment& s, TensorEncodeStats* st);
  // Writes a DELTA or LITERAL segment with a choice already made.
  Status EmitChosen(const Segment& s, const Choice& c, TensorEncodeStats* st);

 private:
  void Block(const Segment& s, uint8_t t, uint8_t wb, uint64_t off, size_t n);
  Status WritePlanes(size_t n, uint8_t wb);

  std::string_view base_;
  std::string_view target_;
  ZstdEncoder* enc_ = nullptr;
  std::vector<uint8_t> residual_;
  std::vector<uint8_t> grouped_;
  ZstdTrial trial_;
  uint64_t trial_blocks_ = 2;
  bool prune_layouts_ = false;
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
