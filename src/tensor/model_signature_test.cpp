#include "tensor/model_signature.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/file_util.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::tensor {
namespace {

using testing::OnnxBuilder;
using testing::ValueInfoProto;

std::string ModelWith(std::vector<std::string> inputs, std::vector<std::string> outputs) {
  OnnxBuilder b;
  b.SetInputs(std::move(inputs)).SetOutputs(std::move(outputs));
  return b.Build();
}

ModelSignature SignatureOf(const std::string& model) {
  auto s = SummariseModel(model, ModelFormat::kOnnx);
  EXPECT_OK(s.status());
  return s.ok() ? s->signature : ModelSignature{};
}

TEST(ModelSignature, ReadsInputsOutputsAndSymbolicDims) {
  const std::string model = ModelWith({ValueInfoProto("x", DType::kF32, {"batch", "3", "?"})},
                                      {ValueInfoProto("logits", DType::kF16, {"batch", "10"})});
  auto s = SummariseModel(model, ModelFormat::kOnnx);
  ASSERT_OK(s.status());
  EXPECT_TRUE(s->has_graph);
  EXPECT_EQ(s->ir_version, 8);
  EXPECT_EQ(s->producer_name, "oxide-test");
  ASSERT_EQ(s->opsets.size(), 1u);
  EXPECT_EQ(s->opsets[0], (std::pair<std::string, int64_t>{"", 17}));
  ASSERT_EQ(s->signature.inputs.size(), 1u);
  const ValueInfo& x = s->signature.inputs[0];
  EXPECT_EQ(x.name, "x");
  EXPECT_EQ(x.dtype, DType::kF32);
  EXPECT_TRUE(x.has_shape);
  EXPECT_EQ(x.dims, (std::vector<Dim>{{-1, "batch"}, {3, ""}, {-1, ""}}));
  ASSERT_EQ(s->signature.outputs.size(), 1u);
  EXPECT_EQ(s->signature.outputs[0].dtype, DType::kF16);
}

TEST(ModelSignature, InitializersListedAsInputsAreNotPartOfTheSignature) {
  OnnxBuilder b;
  b.AddInitializer("w", DType::kF32, {2}, testing::F32Bytes({1.f, 2.f}));
  b.SetInputs({ValueInfoProto("x", DType::kF32, {"1"}), ValueInfoProto("w", DType::kF32, {"2"})});
  const ModelSignature s = SignatureOf(b.Build());
  ASSERT_EQ(s.inputs.size(), 1u);
  EXPECT_EQ(s.inputs[0].name, "x");
}

TEST(ModelSignature, CountsOpsOfTheMainGraph) {
  OnnxBuilder b;
  b.AddNode(testing::NodeProto("r1", "Relu", {"x"}, {"a"}, {}));
  b.AddNode(testing::NodeProto("r2", "Relu", {"a"}, {"b"}, {}));
  b.AddNode(testing::NodeProto("m", "MatMul", {"b", "b"}, {"y"}, {}));
  auto s = SummariseModel(b.Build(), ModelFormat::kOnnx);
  ASSERT_OK(s.status());
  using Count = std::pair<std::string, uint64_t>;
  EXPECT_EQ(s->op_counts, (std::vector<Count>{{"MatMul", 1}, {"Relu", 2}}));
}

TEST(ModelSignature, SafeTensorsHasNoGraph) {
  auto s = SummariseModel("anything", ModelFormat::kSafeTensors);
  ASSERT_OK(s.status());
  EXPECT_FALSE(s->has_graph);
  EXPECT_EQ(s->format, ModelFormat::kSafeTensors);
  EXPECT_TRUE(s->signature.inputs.empty());
}

TEST(ModelSignature, CorruptInputIsRejected) {
  const std::string model = ModelWith({ValueInfoProto("x", DType::kF32, {"1"})},
                                      {ValueInfoProto("y", DType::kF32, {"1"})});
  // Every strict prefix that cuts into a field is corrupt, never a crash.
  size_t corrupt = 0;
  for (size_t n = 1; n < model.size(); ++n) {
    auto s = SummariseModel(model.substr(0, n), ModelFormat::kOnnx);
    if (!s.ok()) {
      EXPECT_STATUS(s.status(), ErrorCode::kCorrupt);
      ++corrupt;
    }
  }
  EXPECT_GT(corrupt, model.size() / 2);
  EXPECT_STATUS(SummariseModel(std::string("\x0a\xff", 2), ModelFormat::kOnnx).status(),
                ErrorCode::kCorrupt);
  EXPECT_STATUS(SummariseModel("", ModelFormat::kOnnx).status(), ErrorCode::kCorrupt);
}

TEST(ModelSignature, ExampleModelsHaveOneInputAndOneOutput) {
  const std::string dir = std::string(OXIDE_SOURCE_DIR) + "/examples/models/";
  auto bytes = ReadFileToString(dir + "mlp-mnist-v1.onnx");
  ASSERT_OK(bytes.status());
  auto s = SummariseModel(*bytes, ModelFormat::kOnnx);
  ASSERT_OK(s.status());
  EXPECT_EQ(s->producer_name, "pytorch");
  ASSERT_EQ(s->signature.inputs.size(), 1u);
  ASSERT_EQ(s->signature.outputs.size(), 1u);
  EXPECT_EQ(s->signature.inputs[0].dtype, DType::kF32);
  ASSERT_EQ(s->signature.inputs[0].dims.size(), 2u);
  EXPECT_EQ(s->signature.inputs[0].dims[1].size, 784);
  auto v2 = ReadFileToString(dir + "mlp-mnist-v2-all-layers.onnx");
  ASSERT_OK(v2.status());
  EXPECT_EQ(SignatureOf(*v2), s->signature);
}

TEST(ModelSignature, DescribesEachDifference) {
  ModelSignature before{{{"x", DType::kF32, {{1, ""}, {4, ""}}, true}},
                        {{"y", DType::kF32, {{1, ""}}, true}, {"z", DType::kF32, {}, false}}};
  EXPECT_TRUE(DescribeSignatureChange(before, before).empty());
  ModelSignature after = before;
  after.inputs[0].dims[1].size = 8;
  after.outputs[0].dtype = DType::kF16;
  after.outputs.pop_back();
  after.outputs.push_back({"w", DType::kI64, {{-1, "n"}}, true});
  EXPECT_EQ(DescribeSignatureChange(before, after),
            (std::vector<std::string>{"input 'x' shape changed: [1,4] -> [1,8]",
                                      "output 'y' dtype changed: F32 -> F16", "output 'z' removed",
                                      "output 'w' added: I64 [n]"}));
}

// Re-exporting a model often renames its dynamic axes ("batch" -> "N", or none): the shape a
// caller feeds is the same, so it is not a change. A symbolic dim made fixed (or back) is.
TEST(ModelSignature, RenamedSymbolicDimsAreNotAChange) {
  ModelSignature before{{{"x", DType::kF32, {{-1, "batch"}, {4, ""}}, true}},
                        {{"y", DType::kF32, {{-1, "batch"}}, true}}};
  ModelSignature after = before;
  after.inputs[0].dims[0].symbol = "N";
  after.outputs[0].dims[0].symbol = "";
  EXPECT_TRUE(DescribeSignatureChange(before, after).empty());
  after.inputs[0].dims[0] = {1, ""};
  EXPECT_EQ(DescribeSignatureChange(before, after),
            std::vector<std::string>{"input 'x' shape changed: [batch,4] -> [1,4]"});
}

TEST(ModelSignature, ReorderedInputsAreAChange) {
  ModelSignature before{{{"a", DType::kF32, {}, false}, {"b", DType::kF32, {}, false}}, {}};
  ModelSignature after{{before.inputs[1], before.inputs[0]}, {}};
  EXPECT_EQ(DescribeSignatureChange(before, after), std::vector<std::string>{"inputs reordered"});
}

TEST(ModelSignature, EncodesAndDecodesStably) {
  ModelSignature s{{{"x", DType::kF32, {{1, ""}, {-1, "batch"}, {-1, ""}}, true}},
                   {{"y", DType::kBF16, {}, false}}};
  const std::string json = EncodeSignature(s);
  EXPECT_EQ(json, R"({"inputs":[{"dtype":"F32","name":"x","shape":[1,"batch",null]}],)"
                  R"("outputs":[{"dtype":"BF16","name":"y"}]})");
  auto back = DecodeSignature(json);
  ASSERT_OK(back.status());
  EXPECT_EQ(*back, s);
}

TEST(ModelSignature, DecodeRejectsMalformedJson) {
  EXPECT_STATUS(DecodeSignature("{").status(), ErrorCode::kCorrupt);
  EXPECT_STATUS(DecodeSignature("[]").status(), ErrorCode::kCorrupt);
  EXPECT_STATUS(DecodeSignature(R"({"inputs":[{"name":"x","dtype":"Q9"}]})").status(),
                ErrorCode::kCorrupt);
  EXPECT_STATUS(DecodeSignature(R"({"inputs":[{"name":"x","dtype":"F32","shape":[-2]}]})").status(),
                ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace oxide::tensor
