#include "delta/scaled_transform.hpp"

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "base/coding.hpp"

namespace oxide::delta {

namespace {

uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
void Store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

uint32_t Ord(uint32_t x) { return (x & 0x80000000u) ? ~x : (x | 0x80000000u); }
uint32_t UnOrd(uint32_t k) { return (k & 0x80000000u) ? (k & 0x7fffffffu) : ~k; }
uint32_t ZigZag(uint32_t x) { return (x << 1) ^ (0u - (x >> 31)); }
uint32_t UnZigZag(uint32_t z) { return (z >> 1) ^ (0u - (z & 1)); }

// The prediction's bits: base element times its row's scale, one IEEE binary32 multiply rounded
// to nearest. Nothing can fuse with it (what follows is integer arithmetic on its bits), and
// x86-64 (SSE) and arm64 evaluate float in float, so it is the same on every supported host.
uint32_t Predict(uint32_t base_bits, float scale) {
  float b;
  std::memcpy(&b, &base_bits, 4);
  const float p = b * scale;
  uint32_t bits;
  std::memcpy(&bits, &p, 4);
  return bits;
}
static_assert(FLT_EVAL_METHOD == 0, "float arithmetic must be evaluated in float");

// Calls f(begin, end, scale) for each run of elements [begin, end) of [0, elems) in one row, the
// block starting at element first_elem: one division a block instead of one an element (it cost
// more than the rest of the transform). REQUIRES: rs covers the block (ParseScalePrefix).
template <class F>
void ForEachRowRun(const RowScales& rs, uint64_t first_elem, size_t elems, F f) {
  uint64_t row = first_elem / rs.row_len;
  uint64_t in_row = first_elem % rs.row_len;
  for (size_t i = 0; i < elems; ++row, in_row = 0) {
    const size_t run = static_cast<size_t>(std::min<uint64_t>(elems - i, rs.row_len - in_row));
    f(i, i + run, rs.scale[row - rs.first_row]);
    i += run;
  }
}

}  // namespace

void AppendScalePrefix(const std::vector<float>& all_scales, uint64_t row_len, uint64_t first_elem,
                       size_t n, std::string* out) {
  const uint64_t elems = n / 4;
  const uint64_t first_row = first_elem / row_len;
  const uint64_t last_row = elems == 0 ? first_row : (first_elem + elems - 1) / row_len;
  const uint64_t count = elems == 0 ? 0 : last_row - first_row + 1;
  PutVarint64(out, row_len);
  PutVarint64(out, first_row);
  PutVarint64(out, count);
  for (uint64_t r = first_row; r < first_row + count; ++r) {
    char b[4];
    std::memcpy(b, &all_scales[r], 4);
    out->append(b, 4);
  }
}

Status ParseScalePrefix(const uint8_t** p, const uint8_t* end, uint64_t first_elem, size_t n,
                        RowScales* out) {
  uint64_t row_len = 0, first_row = 0, count = 0;
  if (!GetVarint64(p, end, &row_len) || !GetVarint64(p, end, &first_row) ||
      !GetVarint64(p, end, &count)) {
    return Corrupt("scaled block: truncated row header");
  }
  const uint64_t elems = n / 4;
  if (row_len == 0 || n % 4 != 0) return Corrupt("scaled block: bad row length");
  const uint64_t want_first = first_elem / row_len;
  const uint64_t want_count = elems == 0 ? 0 : (first_elem + elems - 1) / row_len - want_first + 1;
  if (first_row != want_first || count != want_count) {
    return Corrupt("scaled block: rows do not cover the block");
  }
  if (count > static_cast<uint64_t>(end - *p) / 4) return Corrupt("scaled block: truncated scales");
  out->row_len = row_len;
  out->first_row = first_row;
  out->scale.resize(count);
  if (count != 0) std::memcpy(out->scale.data(), *p, count * 4);
  *p += count * 4;
  return Status::Ok();
}

void ScaledForward(const RowScales& rs, uint64_t first_elem, const uint8_t* target,
                   const uint8_t* base, uint8_t* residual, size_t n) {
  ForEachRowRun(rs, first_elem, n / 4, [&](size_t begin, size_t end, float s) {
    for (size_t i = begin; i < end; ++i) {
      uint32_t pred = Predict(Load32(base + 4 * i), s);
      Store32(residual + 4 * i, ZigZag(Ord(Load32(target + 4 * i)) - Ord(pred)));
    }
  });
}

void ScaledInverse(const RowScales& rs, uint64_t first_elem, const uint8_t* residual,
                   const uint8_t* base, uint8_t* target, size_t n) {
  ForEachRowRun(rs, first_elem, n / 4, [&](size_t begin, size_t end, float s) {
    for (size_t i = begin; i < end; ++i) {
      uint32_t pred = Predict(Load32(base + 4 * i), s);
      Store32(target + 4 * i, UnOrd(Ord(pred) + UnZigZag(Load32(residual + 4 * i))));
    }
  });
}

std::vector<float> EstimateRowScales(const uint8_t* target, const uint8_t* base, uint64_t elements,
                                     uint64_t row_len) {
  const uint64_t rows = row_len == 0 ? 0 : elements / row_len;
  std::vector<float> scales(rows, 1.0f);
  std::vector<double> ratios;
  for (uint64_t r = 0; r < rows; ++r) {
    ratios.clear();
    for (uint64_t k = 0; k < row_len; ++k) {
      float t, b;
      std::memcpy(&t, target + 4 * (r * row_len + k), 4);
      std::memcpy(&b, base + 4 * (r * row_len + k), 4);
      double q = static_cast<double>(t) / static_cast<double>(b);
      if (b != 0.0f && std::isfinite(q)) ratios.push_back(q);
    }
    if (ratios.empty()) continue;
    auto mid = ratios.begin() + static_cast<std::ptrdiff_t>(ratios.size() / 2);
    std::nth_element(ratios.begin(), mid, ratios.end());
    scales[r] = static_cast<float>(*mid);
  }
  return scales;
}

double ScaledSampleRatio(const uint8_t* target, const uint8_t* base, uint64_t elements,
                         uint64_t row_len) {
  constexpr uint64_t kSampleElements = 64 * 1024;
  constexpr uint64_t kMaxRows = 16;
  const uint64_t rows = row_len == 0 ? 0 : elements / row_len;
  if (rows == 0) return 1.0;
  const uint64_t want = std::clamp<uint64_t>(kSampleElements / row_len, 1, kMaxRows);
  const uint64_t take = std::min(rows, want);
  uint64_t plain = 0, scaled = 0;
  for (uint64_t k = 0; k < take; ++k) {
    const uint64_t row = k * rows / take;  // spread over the tensor: layers differ along it
    const uint64_t at = 4 * row * row_len;
    const float s = EstimateRowScales(target + at, base + at, row_len, row_len)[0];
    for (uint64_t i = 0; i < row_len; ++i) {
      const uint32_t t = Ord(Load32(target + at + 4 * i));
      const uint32_t b = Load32(base + at + 4 * i);
      plain += static_cast<uint64_t>(std::bit_width(ZigZag(t - Ord(b)))) + 1;
      scaled += static_cast<uint64_t>(std::bit_width(ZigZag(t - Ord(Predict(b, s))))) + 1;
    }
  }
  return plain == 0 ? 1.0 : static_cast<double>(scaled) / static_cast<double>(plain);
}

}  // namespace oxide::delta
