#include <gtest/gtest.h>

#include "tensor/tensor_index.hpp"
#include "testing/gguf_builder.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/tflite_builder.hpp"

namespace oxide::tensor {
namespace {

TEST(DetectFormatTest, RecognisesBuilderOutput) {
  EXPECT_EQ(DetectFormat(oxide::testing::SampleOnnxModel()), ModelFormat::kOnnx);
  EXPECT_EQ(DetectFormat(oxide::testing::SampleSafetensors()), ModelFormat::kSafeTensors);
  EXPECT_EQ(DetectFormat(oxide::testing::SampleGguf()), ModelFormat::kGguf);
  EXPECT_EQ(DetectFormat(oxide::testing::SampleTflite()), ModelFormat::kTflite);
}

TEST(ClaimedFormatTest, GgufAndTfliteAreClaimedByTheirMagic) {
  const std::string gguf = oxide::testing::SampleGguf();
  const std::string tflite = oxide::testing::SampleTflite();
  EXPECT_EQ(DetectFormat(gguf.substr(0, 23)), ModelFormat::kUnknown);  // header incomplete
  EXPECT_EQ(ClaimedFormat(gguf.substr(0, 4)), ModelFormat::kGguf);
  EXPECT_STATUS(IndexModel(gguf.substr(0, 100), ModelFormat::kGguf).status(), ErrorCode::kCorrupt);
  EXPECT_EQ(ClaimedFormat(tflite.substr(0, 8)), ModelFormat::kTflite);
  std::string bad_root = tflite.substr(0, 64);
  bad_root[0] = '\x7f';  // root offset past the end
  EXPECT_EQ(DetectFormat(bad_root), ModelFormat::kUnknown);
  EXPECT_EQ(ClaimedFormat(bad_root), ModelFormat::kTflite);
  EXPECT_EQ(ClaimedFormat("GGU"), ModelFormat::kUnknown);
  EXPECT_EQ(ClaimedFormat(std::string("\0\0\0\0TFL2", 8)), ModelFormat::kUnknown);
}

TEST(DetectFormatTest, EverythingElseIsUnknown) {
  const std::string not_models[] = {
      "",
      "hello world",
      std::string(64, '\0'),
      std::string("\x08\x08", 2),  // ir_version but no graph
      std::string("\x08\x08\x3a\x05"
                  "ab",
                  6),                                          // graph truncated
      std::string("\x08\x00\x3a\x00", 4),                      // ir_version 0
      oxide::testing::SafetensorsBuilder::Assemble("[]", ""),  // header not an object
  };
  for (const std::string& f : not_models) EXPECT_EQ(DetectFormat(f), ModelFormat::kUnknown);
}

TEST(ClaimedFormatTest, TruncatedModelsStillClaimTheirFormat) {
  const std::string onnx = oxide::testing::SampleOnnxModel();
  const std::string st = oxide::testing::SampleSafetensors();
  EXPECT_EQ(ClaimedFormat(onnx), ModelFormat::kOnnx);
  EXPECT_EQ(ClaimedFormat(st), ModelFormat::kSafeTensors);
  for (size_t cut : {size_t{1}, size_t{10}, onnx.size() / 2}) {
    const std::string_view head = std::string_view(onnx).substr(0, onnx.size() - cut);
    EXPECT_EQ(DetectFormat(head), ModelFormat::kUnknown) << cut;  // does not walk
    EXPECT_EQ(ClaimedFormat(head), ModelFormat::kOnnx) << cut;
    EXPECT_STATUS(IndexModel(head, ModelFormat::kOnnx).status(), ErrorCode::kCorrupt);
  }
  EXPECT_EQ(ClaimedFormat(std::string_view(st).substr(0, 12)), ModelFormat::kSafeTensors);
  for (const std::string& f : {std::string(), std::string("hello world"), std::string(64, '\0'),
                               std::string("\x08\x08", 2), std::string("\x08\x08\x7f", 3)}) {
    EXPECT_EQ(ClaimedFormat(f), ModelFormat::kUnknown);
  }
}

TEST(IndexModelTest, DispatchesByFormat) {
  Result<TensorIndex> unknown = IndexModel("anything at all", ModelFormat::kUnknown);
  ASSERT_TRUE(unknown.ok());
  EXPECT_EQ(unknown->format, ModelFormat::kUnknown);
  EXPECT_TRUE(unknown->tensors.empty());
  const std::string onnx = oxide::testing::SampleOnnxModel();
  Result<TensorIndex> r = IndexModel(onnx, DetectFormat(onnx));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->format, ModelFormat::kOnnx);
  EXPECT_STATUS(IndexModel("garbage", ModelFormat::kSafeTensors).status(), ErrorCode::kCorrupt);
}

TEST(TensorIndexEnumsTest, Names) {
  EXPECT_EQ(ToString(ModelFormat::kOnnx), "onnx");
  EXPECT_EQ(ToString(ModelFormat::kSafeTensors), "safetensors");
  EXPECT_EQ(ToString(ModelFormat::kGguf), "gguf");
  EXPECT_EQ(ToString(ModelFormat::kTflite), "tflite");
  EXPECT_EQ(static_cast<int>(ModelFormat::kGguf), 3);  // persisted values
  EXPECT_EQ(static_cast<int>(ModelFormat::kTflite), 4);
  EXPECT_EQ(ToString(Storage::kPackedVarint), "packed_varint");
  EXPECT_EQ(ElementWidth(DType::kComplex128), 16u);
  EXPECT_EQ(ElementWidth(DType::kString), 0u);
}

}  // namespace
}  // namespace oxide::tensor
