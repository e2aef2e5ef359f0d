#include "delta/scaled_transform.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "testing/status_matchers.hpp"

namespace oxide::delta {
namespace {

std::vector<uint8_t> Floats(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<uint8_t> out(count * 4);
  for (size_t i = 0; i < count; ++i) {
    float f = dist(rng);
    std::memcpy(out.data() + 4 * i, &f, 4);
  }
  return out;
}

TEST(ScaledTransform, InverseUndoesForwardForAnyScale) {
  const uint64_t row_len = 37;
  const size_t count = 37 * 20 + 5;  // the block ends inside a row
  std::vector<uint8_t> base = Floats(count, 1), target = Floats(count, 2);
  const float odd[] = {0.0f,
                       -0.0f,
                       1e-40f,
                       std::numeric_limits<float>::infinity(),
                       std::numeric_limits<float>::quiet_NaN(),
                       -3.5f};
  for (uint64_t first_elem : {uint64_t{0}, uint64_t{30}, uint64_t{37 * 1000 + 3}}) {
    RowScales rs;
    rs.row_len = row_len;
    rs.first_row = first_elem / row_len;
    const uint64_t rows = (first_elem + count - 1) / row_len - rs.first_row + 1;
    for (uint64_t r = 0; r < rows; ++r)
      rs.scale.push_back(r < 6 ? odd[r] : 1.0f + 0.01f * static_cast<float>(r));
    std::vector<uint8_t> r(count * 4), back(count * 4);
    ScaledForward(rs, first_elem, target.data(), base.data(), r.data(), r.size());
    ScaledInverse(rs, first_elem, r.data(), base.data(), back.data(), back.size());
    EXPECT_EQ(back, target) << "first element " << first_elem;
  }
}

TEST(ScaledTransform, RescaledRowsLeaveRoundingNoise) {
  const uint64_t row_len = 64, rows = 32;
  std::vector<uint8_t> base = Floats(row_len * rows, 3), target(base.size());
  std::vector<float> want(rows);
  for (uint64_t r = 0; r < rows; ++r) {
    want[r] = 0.5f + 0.03f * static_cast<float>(r);
    for (uint64_t k = 0; k < row_len; ++k) {
      float b;
      std::memcpy(&b, base.data() + 4 * (r * row_len + k), 4);
      float t = b * want[r];
      std::memcpy(target.data() + 4 * (r * row_len + k), &t, 4);
    }
  }
  std::vector<float> got = EstimateRowScales(target.data(), base.data(), row_len * rows, row_len);
  EXPECT_EQ(got, want);
  RowScales rs{row_len, 0, got};
  std::vector<uint8_t> r(base.size());
  ScaledForward(rs, 0, target.data(), base.data(), r.data(), r.size());
  EXPECT_EQ(r, std::vector<uint8_t>(r.size(), 0));
  // A block that starts and ends inside a row (as 1 MiB blocks of a tensor do) pairs each element
  // with its own row's scale.
  const uint64_t first_elem = 3 * row_len + 17, elems = 5 * row_len + 9;
  RowScales part{row_len, 3, std::vector<float>(got.begin() + 3, got.begin() + 9)};
  std::vector<uint8_t> rp(4 * elems, 0xff);
  ScaledForward(part, first_elem, target.data() + 4 * first_elem, base.data() + 4 * first_elem,
                rp.data(), rp.size());
  EXPECT_EQ(rp, std::vector<uint8_t>(rp.size(), 0));
  std::vector<uint8_t> back(rp.size());
  ScaledInverse(part, first_elem, rp.data(), base.data() + 4 * first_elem, back.data(),
                back.size());
  EXPECT_TRUE(std::equal(back.begin(), back.end(), target.begin() + 4 * first_elem));
}

TEST(ScaledTransform, SampleRatioSeesRescaledRowsAndOnlyThem) {
  const uint64_t row_len = 300, rows = 1000;
  const std::vector<uint8_t> base = Floats(row_len * rows, 5);
  std::mt19937 rng(6);
  std::normal_distribution<float> step(0.0f, 2e-4f);
  std::vector<uint8_t> rescaled(base.size()), tuned(base.size());
  for (uint64_t i = 0; i < row_len * rows; ++i) {
    float b;
    std::memcpy(&b, base.data() + 4 * i, 4);
    const float scale = 0.9f + 0.0001f * static_cast<float>(i / row_len);  // folded BatchNorm
    const float r = b * scale, t = b + step(rng);  // an ordinary fine-tune: no scale
    std::memcpy(rescaled.data() + 4 * i, &r, 4);
    std::memcpy(tuned.data() + 4 * i, &t, 4);
  }
  EXPECT_LT(ScaledSampleRatio(rescaled.data(), base.data(), row_len * rows, row_len), 0.2);
  EXPECT_GT(ScaledSampleRatio(tuned.data(), base.data(), row_len * rows, row_len), 0.97);
  EXPECT_EQ(ScaledSampleRatio(tuned.data(), base.data(), 10, 0), 1.0);
  // A row longer than the sample budget is sampled whole.
  std::vector<uint8_t> uniform(base.size());
  for (uint64_t i = 0; i < row_len * rows; ++i) {
    float b;
    std::memcpy(&b, base.data() + 4 * i, 4);
    b *= 0.8f;
    std::memcpy(uniform.data() + 4 * i, &b, 4);
  }
  EXPECT_LT(ScaledSampleRatio(uniform.data(), base.data(), row_len * rows, row_len * rows), 0.2);
}

TEST(ScaledTransform, PrefixRoundTripsAndRejectsWhatDoesNotCoverTheBlock) {
  std::vector<float> scales(100);
  for (size_t i = 0; i < scales.size(); ++i) scales[i] = static_cast<float>(i);
  const uint64_t row_len = 10, first_elem = 25;
  const size_t n = 4 * 50;  // elements 25..74: rows 2..7
  std::string prefix;
  AppendScalePrefix(scales, row_len, first_elem, n, &prefix);
  auto parse = [&](const std::string& s, uint64_t first, size_t bytes, RowScales* rs) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
    Status st = ParseScalePrefix(&p, p + s.size(), first, bytes, rs);
    if (st.ok()) {
      EXPECT_EQ(p, reinterpret_cast<const uint8_t*>(s.data()) + s.size());
    }
    return st;
  };
  RowScales rs;
  ASSERT_OK(parse(prefix, first_elem, n, &rs));
  EXPECT_EQ(rs.row_len, row_len);
  EXPECT_EQ(rs.first_row, 2u);
  EXPECT_EQ(rs.scale, std::vector<float>(scales.begin() + 2, scales.begin() + 8));
  for (size_t cut = 0; cut < prefix.size(); ++cut) {
    EXPECT_STATUS(parse(prefix.substr(0, cut), first_elem, n, &rs), ErrorCode::kCorrupt) << cut;
  }
  // The same prefix for another block position or size, a zero row length, a partial element.
  EXPECT_STATUS(parse(prefix, first_elem + 10, n, &rs), ErrorCode::kCorrupt);
  EXPECT_STATUS(parse(prefix, first_elem, n + 40, &rs), ErrorCode::kCorrupt);
  EXPECT_STATUS(parse(std::string("\0\0\0", 3), 0, 4, &rs), ErrorCode::kCorrupt);
  EXPECT_STATUS(parse(prefix, first_elem, n + 1, &rs), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace oxide::delta
