// Packed 4-bit tensors (DType kI4 / kU4): ONNX INT4/UINT4 and TFLite INT4/UINT4 are typed only
// when their bytes hold exactly ceil(elements / 2) bytes; odd counts, size mismatches, negative
// dims and element counts that overflow are opaque bytes, never a crash or a wrong size.
#include <gtest/gtest.h>

#include <limits>

#include "tensor/model_signature.hpp"
#include "tensor/tensor_index.hpp"
#include "tensor/test_util.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/packed_int4.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/tflite_builder.hpp"

namespace oxide::tensor {
namespace {

using oxide::testing::OnnxBuilder;
using oxide::testing::OnnxTensor;
using oxide::testing::PackInt4;
using oxide::testing::RandomInt4;
using oxide::testing::TfliteBuilder;
using testutil::Find;
using testutil::Slice;

constexpr int64_t kHuge = int64_t{1} << 40;

TEST(Int4DTypeTest, NamesSizesAndPersistedValues) {
  EXPECT_EQ(static_cast<int>(DType::kI4), 19);  // persisted: never renumbered
  EXPECT_EQ(static_cast<int>(DType::kU4), 20);
  EXPECT_EQ(kLastDType, DType::kU4);
  EXPECT_EQ(ToString(DType::kI4), "I4");
  EXPECT_EQ(ToString(DType::kU4), "U4");
  EXPECT_EQ(ElementWidth(DType::kI4), 0u);
  EXPECT_FALSE(IsFloat(DType::kU4));
  TensorInfo t;
  t.dtype = DType::kI4;
  EXPECT_EQ(t.group_width(), 1u);
}

TEST(Int4DTypeTest, EveryDTypeNameIsDistinct) {
  for (int a = 0; a <= static_cast<int>(kLastDType); ++a) {
    for (int b = a + 1; b <= static_cast<int>(kLastDType); ++b) {
      EXPECT_NE(ToString(static_cast<DType>(a)), ToString(static_cast<DType>(b))) << a << " " << b;
    }
  }
}

TEST(Int4DTypeTest, RawByteSizeRoundsUpAndChecksOverflow) {
  uint64_t bytes = 0;
  const uint64_t kMax = std::numeric_limits<uint64_t>::max();
  ASSERT_TRUE(RawByteSize(DType::kI4, 0, &bytes));
  EXPECT_EQ(bytes, 0u);
  ASSERT_TRUE(RawByteSize(DType::kI4, 5, &bytes));
  EXPECT_EQ(bytes, 3u);
  ASSERT_TRUE(RawByteSize(DType::kU4, 6, &bytes));
  EXPECT_EQ(bytes, 3u);
  ASSERT_TRUE(RawByteSize(DType::kI4, kMax, &bytes));  // ceil without (n + 1) overflowing
  EXPECT_EQ(bytes, kMax / 2 + 1);
  ASSERT_TRUE(RawByteSize(DType::kF32, 3, &bytes));
  EXPECT_EQ(bytes, 12u);
  EXPECT_FALSE(RawByteSize(DType::kF32, kMax / 2, &bytes));
  EXPECT_FALSE(RawByteSize(DType::kString, 1, &bytes));
  EXPECT_FALSE(RawByteSize(DType::kUnknown, 1, &bytes));
}

TEST(Int4DTypeTest, ElementCountRejectsNegativeDimsAndOverflow) {
  uint64_t n = 0;
  ASSERT_TRUE(ElementCount({}, &n));
  EXPECT_EQ(n, 1u);
  ASSERT_TRUE(ElementCount({3, 0, kHuge}, &n));
  EXPECT_EQ(n, 0u);
  ASSERT_TRUE(ElementCount({kHuge, 1 << 20}, &n));
  EXPECT_EQ(n, uint64_t{1} << 60);
  EXPECT_FALSE(ElementCount({kHuge, kHuge}, &n));
  EXPECT_FALSE(ElementCount({2, -1}, &n));
}

// --- ONNX ---

TensorInfo OnnxOne(DType dtype, std::vector<int64_t> dims, std::string_view raw,
                   std::string* file) {
  OnnxBuilder b;
  b.AddInitializer("w", dtype, std::move(dims), raw);
  *file = b.Build();
  Result<TensorIndex> r = IndexOnnx(*file);
  EXPECT_OK(r.status());
  if (!r.ok() || r->tensors.size() != 1) return {};
  return r->tensors[0];
}

TEST(Int4OnnxTest, DataTypesMapToPackedTypes) {
  EXPECT_EQ(oxide::testing::OnnxDataType(DType::kU4), 21);
  EXPECT_EQ(oxide::testing::OnnxDataType(DType::kI4), 22);
  std::string file;
  const std::string raw = PackInt4(RandomInt4(64, 1, true));
  const TensorInfo t = OnnxOne(DType::kI4, {8, 8}, raw, &file);
  EXPECT_EQ(t.dtype, DType::kI4);
  EXPECT_EQ(t.dims, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(t.storage, Storage::kRaw);
  EXPECT_EQ(Slice(file, t), raw);
  EXPECT_EQ(OnnxOne(DType::kU4, {64}, raw, &file).dtype, DType::kU4);
}

TEST(Int4OnnxTest, OddElementCountHoldsAPaddedByte) {
  std::string file;
  const TensorInfo t = OnnxOne(DType::kI4, {5}, PackInt4({1, -2, 3, -4, 7}), &file);
  EXPECT_EQ(t.dtype, DType::kI4);
  EXPECT_EQ(t.length, 3u);
  EXPECT_EQ(t.dims, (std::vector<int64_t>{5}));
  EXPECT_EQ(OnnxOne(DType::kU4, {1, 3, 1}, "\x21\x03", &file).dtype, DType::kU4);
}

TEST(Int4OnnxTest, SizeMismatchesAreOpaqueBytes) {
  struct Case {
    const char* what;
    std::vector<int64_t> dims;
    std::string raw;
  };
  const Case kCases[] = {
      {"one byte short", {6}, "ab"},
      {"one byte long (odd count)", {5}, "abcd"},
      {"one element per byte", {4}, "abcd"},
      {"scalar with two bytes", {}, "ab"},
      {"negative dim", {-2, -2}, "ab"},
      {"count x 4 bits overflows", {kHuge, kHuge, kHuge}, "ab"},
      {"count fits, bytes do not match", {kHuge, 1 << 20}, "ab"},
      {"zero elements, one byte", {0, 7}, "a"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.what);
    std::string file;
    const TensorInfo t = OnnxOne(DType::kI4, c.dims, c.raw, &file);
    EXPECT_EQ(t.dtype, DType::kU8);
    EXPECT_EQ(t.dims, (std::vector<int64_t>{static_cast<int64_t>(c.raw.size())}));
    EXPECT_EQ(Slice(file, t), c.raw);
  }
}

TEST(Int4OnnxTest, PackedInt32DataAndExternalKeepTheirStorage) {
  OnnxTensor packed;
  packed.name = "p";
  packed.dtype = DType::kI4;
  packed.dims = {4};
  packed.data = OnnxTensor::Data::kInt32Data;
  packed.ints = {0x21, 0x43};  // int32_data holds one packed byte per element
  OnnxTensor external;
  external.name = "e";
  external.dtype = DType::kU4;
  external.dims = {3};
  external.data = OnnxTensor::Data::kExternal;
  external.location = "w.bin";
  OnnxBuilder b;
  b.AddTensorInitializer(packed).AddTensorInitializer(external);
  const std::string file = b.Build();
  Result<TensorIndex> r = IndexOnnx(file);
  ASSERT_OK(r.status());
  EXPECT_EQ(Find(*r, "p")->storage, Storage::kPackedVarint);
  EXPECT_EQ(Find(*r, "p")->dtype, DType::kI4);
  EXPECT_EQ(Find(*r, "p")->group_width(), 1u);
  EXPECT_EQ(Find(*r, "e")->storage, Storage::kExternal);
  EXPECT_EQ(Find(*r, "e")->dtype, DType::kU4);
}

TEST(Int4OnnxTest, SignatureNamesSurviveTheStoredJson) {
  ModelSignature s;
  s.inputs.push_back({"q", DType::kI4, {{4, ""}}, true});
  s.outputs.push_back({"r", DType::kU4, {}, false});
  Result<ModelSignature> back = DecodeSignature(EncodeSignature(s));
  ASSERT_OK(back.status());
  EXPECT_EQ(*back, s);
}

// --- TFLite ---

TEST(Int4TfliteTest, Int4AndUint4AreTyped) {
  TfliteBuilder b;
  const std::string even = PackInt4(RandomInt4(64, 2, true));
  const std::string odd = PackInt4({1, 2, 3, 4, 5, 6, 7});
  b.AddTensor("even", TfliteBuilder::kInt4, {4, 16}, b.AddBuffer(even));
  b.AddTensor("odd", TfliteBuilder::kUInt4, {7}, b.AddBuffer(odd));
  b.AddTensor("int2", TfliteBuilder::kInt2, {8}, b.AddBuffer("ab"));
  const std::string file = b.Build();
  Result<TensorIndex> r = IndexTflite(file);
  ASSERT_OK(r.status());
  EXPECT_EQ(Find(*r, "even")->dtype, DType::kI4);
  EXPECT_EQ(Find(*r, "even")->dims, (std::vector<int64_t>{4, 16}));
  EXPECT_EQ(Slice(file, *Find(*r, "even")), even);
  EXPECT_EQ(Find(*r, "odd")->dtype, DType::kU4);
  EXPECT_EQ(Find(*r, "odd")->length, 4u);
  EXPECT_EQ(Find(*r, "int2")->dtype, DType::kU8);  // INT2 is known but stays opaque
}

TEST(Int4TfliteTest, SizeMismatchesAreOpaqueBytes) {
  struct Case {
    const char* what;
    std::vector<int32_t> shape;
    std::string data;
  };
  const Case kCases[] = {
      {"one byte short", {6}, "ab"},
      {"one byte long (odd count)", {5}, "abcd"},
      {"one element per byte", {4}, "abcd"},
      {"negative dim", {-2, -2}, "ab"},
      {"count x 4 bits past any buffer", {1 << 30, 1 << 30, 1 << 30}, "ab"},
      {"count just over twice the bytes", {5}, "ab"},
  };
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.what);
    TfliteBuilder b;
    b.AddTensor("w", TfliteBuilder::kInt4, c.shape, b.AddBuffer(c.data));
    const std::string file = b.Build();
    Result<TensorIndex> r = IndexTflite(file);
    ASSERT_OK(r.status());
    const TensorInfo* t = Find(*r, "w");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->dtype, DType::kU8);
    EXPECT_EQ(t->dims, (std::vector<int64_t>{static_cast<int64_t>(c.data.size())}));
  }
}

TEST(Int4TfliteTest, TypesPastUint4AreUnsupported) {
  TfliteBuilder b;
  b.AddTensor("w", 21, {2}, b.AddBuffer("ab"));
  EXPECT_STATUS(IndexTflite(b.Build()).status(), ErrorCode::kUnsupported);
}

// --- SafeTensors has no 4-bit integer dtype: the names are not invented for it ---

TEST(Int4SafetensorsTest, PackedNamesAreUnsupported) {
  for (const char* name : {"I4", "U4"}) {
    SCOPED_TRACE(name);
    const std::string header =
        std::string(R"({"w":{"dtype":")") + name + R"(","shape":[4],"data_offsets":[0,2]}})";
    EXPECT_STATUS(
        IndexSafeTensors(oxide::testing::SafetensorsBuilder::Assemble(header, "ab")).status(),
        ErrorCode::kUnsupported);
  }
}

}  // namespace
}  // namespace oxide::tensor
