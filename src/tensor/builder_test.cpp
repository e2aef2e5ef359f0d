// The test builders are shared with other modules' tests (delta round trips), so their data
// helpers get their own checks here.
#include <gtest/gtest.h>

#include <cmath>

#include "testing/onnx_builder.hpp"
#include "testing/packed_int4.hpp"
#include "testing/safetensors_builder.hpp"

namespace oxide::testing {
namespace {

TEST(TensorDataTest, RandomNormalIsDeterministicAndScaled) {
  const std::string a = RandomNormalF32(10000, 42);
  EXPECT_EQ(a, RandomNormalF32(10000, 42));
  EXPECT_NE(a, RandomNormalF32(10000, 43));
  const std::vector<float> v = FromF32Bytes(a);
  ASSERT_EQ(v.size(), 10000u);
  double sum = 0, sq = 0;
  for (float x : v) {
    sum += x;
    sq += static_cast<double>(x) * x;
  }
  const double mean = sum / 10000.0;
  const double stddev = std::sqrt(sq / 10000.0 - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.002);
  EXPECT_NEAR(stddev, 0.02, 0.002);
}

TEST(TensorDataTest, FineTuneMakesSmallRelativeChanges) {
  const std::string base = RandomNormalF32(1000, 1);
  const std::string tuned = FineTuneF32(base, 9, 1e-3f, 0.5);
  ASSERT_EQ(tuned.size(), base.size());
  EXPECT_EQ(tuned, FineTuneF32(base, 9, 1e-3f, 0.5));
  const std::vector<float> a = FromF32Bytes(base), b = FromF32Bytes(tuned);
  size_t changed = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE(std::fabs(b[i] - a[i]), std::fabs(a[i]) * 1.001e-3f + 1e-12f);
    if (a[i] != b[i]) ++changed;
  }
  EXPECT_GT(changed, 350u);
  EXPECT_LT(changed, 650u);
}

TEST(TensorDataTest, PackInt4IsLowNibbleFirstAndPadsOddCounts) {
  EXPECT_EQ(PackInt4({1, 2, 3}), std::string("\x21\x03", 2));
  EXPECT_EQ(PackInt4({-1, -8, 7, 0}), std::string("\x8f\x07", 2));
  EXPECT_EQ(PackInt4({}), "");
  EXPECT_EQ(UnpackInt4("\x8f\x07", 3, true), (std::vector<int8_t>{-1, -8, 7}));
  EXPECT_EQ(UnpackInt4("\x8f\x07", 4, false), (std::vector<int8_t>{15, 8, 7, 0}));
}

TEST(TensorDataTest, RequantizedInt4MovesAFractionByOneStepInRange) {
  for (bool is_signed : {true, false}) {
    SCOPED_TRACE(is_signed);
    const std::vector<int8_t> a = RandomInt4(10000, 5, is_signed);
    EXPECT_EQ(a, RandomInt4(10000, 5, is_signed));
    const std::vector<int8_t> b = RequantizeInt4(a, 6, is_signed, 0.3);
    const int lo = is_signed ? -8 : 0;
    size_t changed = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_GE(b[i], lo);
      ASSERT_LE(b[i], lo + 15);
      ASSERT_LE(std::abs(b[i] - a[i]), 1);
      if (a[i] != b[i]) ++changed;
    }
    EXPECT_GT(changed, 2700u);
    EXPECT_LT(changed, 3300u);
    EXPECT_EQ(UnpackInt4(PackInt4(b), b.size(), is_signed), b);
  }
}

TEST(SafetensorsBuilderTest, HeaderIsPaddedAndEscaped) {
  SafetensorsBuilder b;
  b.AddTensor("a\"b", tensor::DType::kU8, {1}, "x");
  const std::string file = b.Build();
  EXPECT_EQ((file.size() - 1) % 8, 0u);  // 8-byte prefix + padded header + 1 data byte
  EXPECT_NE(b.HeaderJson().find(R"("a\"b")"), std::string::npos);
  EXPECT_EQ(SafetensorsBuilder::Quote("\n"), "\"\\u000a\"");
}

}  // namespace
}  // namespace oxide::testing
