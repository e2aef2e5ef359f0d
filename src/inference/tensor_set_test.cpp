#include "inference/tensor_set.hpp"

#include <gtest/gtest.h>

#include <cstring>

namespace oxide::inference {
namespace {

NamedTensor F32(std::string name, std::vector<int64_t> dims, std::vector<float> values) {
  NamedTensor t;
  t.name = std::move(name);
  t.dtype = tensor::DType::kF32;
  t.dims = std::move(dims);
  t.data.resize(values.size() * sizeof(float));
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

TEST(TensorSet, RoundTripsThroughSafeTensors) {
  TensorSet set;
  set.tensors.push_back(F32("y", {2}, {1.5f, -2.0f}));
  set.tensors.push_back(F32("x", {1, 3}, {1, 2, 3}));
  NamedTensor ids;
  ids.name = "ids";
  ids.dtype = tensor::DType::kI64;
  ids.dims = {};
  ids.data.assign(8, '\x07');
  set.tensors.push_back(ids);
  set.metadata = {{"latency_budget_ms", "25"}};
  Result<std::string> bytes = SerializeTensorSet(set);
  ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
  Result<TensorSet> back = ParseTensorSet(*bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->tensors.size(), 3u);
  EXPECT_EQ(back->tensors[0].name, "ids");  // sorted by name
  EXPECT_TRUE(back->tensors[0].dims.empty());
  const NamedTensor* x = back->Find("x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->dims, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(x->data, set.tensors[1].data);
  EXPECT_EQ(back->Find("y")->data, set.tensors[0].data);
  EXPECT_EQ(back->metadata, set.metadata);
  EXPECT_EQ(back->Find("z"), nullptr);
}

TEST(TensorSet, RefusesDataThatDoesNotMatchTheShape) {
  TensorSet set;
  set.tensors.push_back(F32("x", {4}, {1, 2, 3}));
  Result<std::string> bytes = SerializeTensorSet(set);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bytes.status().message().find("'x'"), std::string::npos);
}

TEST(TensorSet, RefusesRepeatedNames) {
  TensorSet set;
  set.tensors.push_back(F32("x", {1}, {1}));
  set.tensors.push_back(F32("x", {1}, {2}));
  EXPECT_EQ(SerializeTensorSet(set).status().code(), ErrorCode::kInvalidArgument);
}

TEST(TensorSet, TruncatedFileIsCorrupt) {
  TensorSet set;
  set.tensors.push_back(F32("x", {2}, {1, 2}));
  std::string bytes = *SerializeTensorSet(set);
  bytes.resize(bytes.size() - 1);
  EXPECT_EQ(ParseTensorSet(bytes).status().code(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace oxide::inference
