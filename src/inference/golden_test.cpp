#include "inference/golden.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

namespace oxide::inference {
namespace {

template <class T>
NamedTensor Make(std::string name, tensor::DType dtype, std::vector<int64_t> dims,
                 std::vector<T> values) {
  NamedTensor t;
  t.name = std::move(name);
  t.dtype = dtype;
  t.dims = std::move(dims);
  t.data.resize(values.size() * sizeof(T));
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

NamedTensor F32(std::string name, std::vector<int64_t> dims, std::vector<float> values) {
  return Make(std::move(name), tensor::DType::kF32, std::move(dims), std::move(values));
}

TensorSet Set(std::vector<NamedTensor> tensors) {
  TensorSet s;
  s.tensors = std::move(tensors);
  return s;
}

TEST(CompareOutputs, EmptyWhenEveryOutputIsWithinTolerance) {
  TensorSet want = Set({F32("y", {1, 3}, {1.0f, 2.0f, 3.0f})});
  TensorSet got = Set({F32("y", {1, 3}, {1.00005f, 2.0f, 2.99995f})});
  EXPECT_EQ(CompareOutputs(want, got, 1e-4), "");
}

TEST(CompareOutputs, ExtraActualOutputsAreIgnored) {
  TensorSet want = Set({F32("y", {1}, {1.0f})});
  TensorSet got = Set({F32("y", {1}, {1.0f}), F32("z", {1}, {9.0f})});
  EXPECT_EQ(CompareOutputs(want, got, 0), "");
}

TEST(CompareOutputs, NamesAMissingOutput) {
  TensorSet want = Set({F32("y", {1}, {1.0f})});
  TensorSet got = Set({F32("z", {1}, {1.0f})});
  EXPECT_EQ(CompareOutputs(want, got, 1e-4), "output 'y' missing");
}

TEST(CompareOutputs, NamesAShapeChange) {
  TensorSet want = Set({F32("y", {1, 2}, {1, 2})});
  TensorSet got = Set({F32("y", {1, 3}, {1, 2, 3})});
  EXPECT_EQ(CompareOutputs(want, got, 1e-4), "output 'y' shape changed: [1,2] -> [1,3]");
}

TEST(CompareOutputs, NamesADtypeChange) {
  TensorSet want = Set({F32("y", {1}, {1})});
  TensorSet got = Set({Make<double>("y", tensor::DType::kF64, {1}, {1.0})});
  EXPECT_EQ(CompareOutputs(want, got, 1e-4), "output 'y' dtype changed: F32 -> F64");
}

TEST(CompareOutputs, FindsNaNAndInfEvenWhenExpectedToo) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(CompareOutputs(Set({F32("y", {4}, {0, 0, 0, 0})}), Set({F32("y", {4}, {0, 0, 0, nan})}),
                           1e-4),
            "output 'y' has NaN at index 3");
  EXPECT_EQ(CompareOutputs(Set({F32("y", {2}, {0, inf})}), Set({F32("y", {2}, {0, inf})}), 1e-4),
            "output 'y' has Inf at index 1");
}

TEST(CompareOutputs, NamesTheFirstDifferenceBeyondTolerance) {
  TensorSet want = Set({F32("y", {8}, {0, 0, 0, 0, 0, 0, 0, 0})});
  TensorSet got = Set({F32("y", {8}, {0, 0, 0, 0, 0, 0, 0, 0.3125f})});
  EXPECT_EQ(CompareOutputs(want, got, 1e-4),
            "output 'y' differs by 0.3125 > tolerance 0.0001 at index 7");
  EXPECT_EQ(CompareOutputs(want, got, 0.5), "");
}

TEST(CompareOutputs, ReadsHalfPrecision) {
  // F16 1.0 = 0x3c00, 1.5 = 0x3e00, NaN = 0x7e00; BF16 1.0 = 0x3f80, 2.0 = 0x4000.
  auto f16 = [](std::vector<uint16_t> v) {
    return Make<uint16_t>("h", tensor::DType::kF16, {static_cast<int64_t>(v.size())}, v);
  };
  EXPECT_EQ(CompareOutputs(Set({f16({0x3c00})}), Set({f16({0x3c00})}), 0), "");
  EXPECT_EQ(CompareOutputs(Set({f16({0x3c00})}), Set({f16({0x3e00})}), 0.1),
            "output 'h' differs by 0.5 > tolerance 0.1 at index 0");
  EXPECT_EQ(CompareOutputs(Set({f16({0x3c00, 0})}), Set({f16({0x3c00, 0x7e00})}), 0.1),
            "output 'h' has NaN at index 1");
  auto bf16 = [](uint16_t v) { return Make<uint16_t>("b", tensor::DType::kBF16, {1}, {v}); };
  EXPECT_EQ(CompareOutputs(Set({bf16(0x3f80)}), Set({bf16(0x4000)}), 0.5),
            "output 'b' differs by 1 > tolerance 0.5 at index 0");
}

TEST(CompareOutputs, ComparesIntegersExactly) {
  auto i64 = [](std::vector<int64_t> v) {
    return Make<int64_t>("ids", tensor::DType::kI64, {static_cast<int64_t>(v.size())}, v);
  };
  EXPECT_EQ(CompareOutputs(Set({i64({1, 2})}), Set({i64({1, 2})}), 0), "");
  EXPECT_EQ(CompareOutputs(Set({i64({1, 2})}), Set({i64({1, 3})}), 10),
            "output 'ids' differs at index 1");
}

TEST(CompareOutputs, RefusesDataThatDoesNotMatchTheShape) {
  TensorSet want = Set({F32("y", {2}, {1, 2})});
  TensorSet got = Set({F32("y", {2}, {1})});
  EXPECT_EQ(CompareOutputs(want, got, 1e-4), "output 'y' has 4 bytes for shape [2] of F32");
}

TEST(Golden, RoundTripsAndCompares) {
  Golden g;
  g.inputs = Set({F32("x", {1, 2}, {1, 2})});
  g.outputs = Set({F32("y", {1}, {3})});
  g.tolerance = 0.01;
  g.latency_budget_ms = 25;
  Result<std::string> bytes = SerializeGolden(g);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  Result<Golden> back = ParseGolden(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_DOUBLE_EQ(back->tolerance, 0.01);
  EXPECT_EQ(back->latency_budget_ms, 25.0);
  EXPECT_EQ(CompareOutputs(back->outputs, g.outputs, back->tolerance), "");
}

}  // namespace
}  // namespace oxide::inference
