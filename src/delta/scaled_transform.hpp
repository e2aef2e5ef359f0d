#pragma once

// Transform 5 of coded chunks (format::kScaledSubOrd): an fp32 tensor of rows of `row_len`
// elements, predicted row by row as base * scale[row] (one IEEE fp32 multiply, round to
// nearest, the same on every conforming platform), and the residual the ordered difference
// from that prediction, zigzagged as transform 4's.
//
// Each block's payload starts with the scales of the rows it touches (docs/format/patch-v3.md):
//   row_len varint (>= 1), first_row varint, count varint, count x fp32 LE
// then the codec payload.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.hpp"

namespace oxide::delta {

// The rows of a block: scale[k] applies to row first_row + k.
struct RowScales {
  uint64_t row_len = 0;
  uint64_t first_row = 0;
  std::vector<float> scale;
};

// Appends the payload prefix for the block of `n` bytes starting at element `first_elem`.
// REQUIRES: scales covers every row of the block (all_scales[row] for the tensor's rows).
void AppendScalePrefix(const std::vector<float>& all_scales, uint64_t row_len, uint64_t first_elem,
                       size_t n, std::string* out);
// Parses a prefix from [*p, end) for a block of `n` bytes starting at element `first_elem`;
// kCorrupt when malformed or when the rows named do not cover the block exactly.
Status ParseScalePrefix(const uint8_t** p, const uint8_t* end, uint64_t first_elem, size_t n,
                        RowScales* out);

// residual = zigzag(ord(t) - ord(b * scale)) for the n bytes (n % 4 == 0) at element first_elem.
void ScaledForward(const RowScales& rs, uint64_t first_elem, const uint8_t* target,
                   const uint8_t* base, uint8_t* residual, size_t n);
void ScaledInverse(const RowScales& rs, uint64_t first_elem, const uint8_t* residual,
                   const uint8_t* base, uint8_t* target, size_t n);

// Per-row scales of a target/base fp32 tensor pair of `elements` elements in rows of row_len:
// the median of target/base over the row's finite non-zero ratios (1 where there is none).
std::vector<float> EstimateRowScales(const uint8_t* target, const uint8_t* base, uint64_t elements,
                                     uint64_t row_len);

// A cheap guess at what transform 5 saves over transform 4 on an fp32 tensor pair, for a build
// that cannot afford every row's scale and a trial of both (the streamed build of large models):
// a few rows spread over the tensor (about 64 K elements), each scaled by its own median ratio,
// and the sum over their elements of the residual's bit width plus one under either transform.
// Returns scaled / plain (1 when no row could be sampled); below about 0.97 scaling is worth a
// real trial.
double ScaledSampleRatio(const uint8_t* target, const uint8_t* base, uint64_t elements,
                         uint64_t row_len);

}  // namespace oxide::delta
