#include <gtest/gtest.h>

#include "base/coding.hpp"
#include "tensor/tensor_index.hpp"
#include "tensor/test_util.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::tensor {
namespace {

using oxide::testing::F32Bytes;
using oxide::testing::I64Bytes;
using oxide::testing::OnnxBuilder;
using oxide::testing::OnnxGraph;
using oxide::testing::OnnxTensor;
using oxide::testing::ProtoWriter;
using oxide::testing::RandomNormalF32;
using testutil::Find;
using testutil::Slice;

TensorIndex MustIndex(const std::string& model) {
  Result<TensorIndex> r = IndexOnnx(model);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : TensorIndex{};
}

std::string VarintBytes(const std::vector<int64_t>& values) {
  std::string out;
  for (int64_t v : values) PutVarint64(&out, static_cast<uint64_t>(v));
  return out;
}

TEST(OnnxIndexTest, RawDataInitializers) {
  const std::string w1 = RandomNormalF32(16, 1);
  const std::string b1(8, '\x3c');
  OnnxBuilder b;
  b.AddInitializer("w1", DType::kF32, {4, 4}, w1);
  b.AddInitializer("b1", DType::kF16, {4}, b1);
  const std::string model = b.Build();
  const TensorIndex index = MustIndex(model);
  EXPECT_EQ(index.format, ModelFormat::kOnnx);
  ASSERT_EQ(index.tensors.size(), 2u);
  EXPECT_EQ(index.tensors[0].name, "w1");  // file order
  const TensorInfo& t = index.tensors[0];
  EXPECT_EQ(t.dtype, DType::kF32);
  EXPECT_EQ(t.dims, (std::vector<int64_t>{4, 4}));
  EXPECT_EQ(t.storage, Storage::kRaw);
  EXPECT_EQ(t.group_width(), 4u);
  EXPECT_EQ(Slice(model, t), w1);
  EXPECT_EQ(index.tensors[1].dtype, DType::kF16);
  EXPECT_EQ(Slice(model, index.tensors[1]), b1);
  EXPECT_LT(index.tensors[0].offset + index.tensors[0].length, index.tensors[1].offset);
}

TEST(OnnxIndexTest, PackedTypedFields) {
  OnnxBuilder b;
  OnnxTensor f;
  f.name = "floats";
  f.dims = {3};
  f.data = OnnxTensor::Data::kFloatData;
  f.reals = {1.0, -2.5, 0.125};
  b.AddTensorInitializer(f);
  OnnxTensor d = f;
  d.name = "doubles";
  d.dtype = DType::kF64;
  d.data = OnnxTensor::Data::kDoubleData;
  b.AddTensorInitializer(d);
  OnnxTensor i64;
  i64.name = "ints";
  i64.dtype = DType::kI64;
  i64.dims = {3};
  i64.data = OnnxTensor::Data::kInt64Data;
  i64.ints = {1, -1, 1 << 20};
  b.AddTensorInitializer(i64);
  OnnxTensor i32 = i64;
  i32.name = "halfs";
  i32.dtype = DType::kF16;  // float16 values travel in int32_data
  i32.data = OnnxTensor::Data::kInt32Data;
  b.AddTensorInitializer(i32);
  OnnxTensor u64 = i64;
  u64.name = "u64";
  u64.dtype = DType::kU64;
  u64.data = OnnxTensor::Data::kUint64Data;
  b.AddTensorInitializer(u64);
  const std::string model = b.Build();
  const TensorIndex index = MustIndex(model);
  ASSERT_EQ(index.tensors.size(), 5u);

  const TensorInfo* floats = Find(index, "floats");
  ASSERT_NE(floats, nullptr);
  EXPECT_EQ(floats->storage, Storage::kPackedFixed);
  EXPECT_EQ(floats->group_width(), 4u);
  EXPECT_EQ(Slice(model, *floats), F32Bytes({1.0f, -2.5f, 0.125f}));
  const TensorInfo* doubles = Find(index, "doubles");
  ASSERT_NE(doubles, nullptr);
  EXPECT_EQ(doubles->storage, Storage::kPackedFixed);
  EXPECT_EQ(doubles->length, 24u);
  EXPECT_EQ(doubles->group_width(), 8u);
  for (const char* name : {"ints", "halfs", "u64"}) {
    SCOPED_TRACE(name);
    const TensorInfo* t = Find(index, name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->storage, Storage::kPackedVarint);
    EXPECT_EQ(t->group_width(), 1u);
    EXPECT_EQ(Slice(model, *t), VarintBytes({1, -1, 1 << 20}));
  }
  EXPECT_EQ(Find(index, "halfs")->dtype, DType::kF16);
}

TEST(OnnxIndexTest, TensorsWithoutIndexableDataAreFraming) {
  OnnxBuilder b;
  OnnxTensor unpacked;
  unpacked.name = "unpacked";
  unpacked.dims = {2};
  unpacked.data = OnnxTensor::Data::kFloatDataUnpacked;
  unpacked.reals = {1.0, 2.0};
  b.AddTensorInitializer(unpacked);
  OnnxTensor none;
  none.name = "none";
  none.data = OnnxTensor::Data::kNone;
  b.AddTensorInitializer(none);
  b.AddInitializer("w", DType::kF32, {1}, F32Bytes({3.0f}));
  const TensorIndex index = MustIndex(b.Build());
  ASSERT_EQ(index.tensors.size(), 1u);
  EXPECT_EQ(index.tensors[0].name, "w");
}

TEST(OnnxIndexTest, ConstantNodeTensorsGetSyntheticNames) {
  OnnxBuilder b;
  b.AddConstantNode("c0", "out0", DType::kI64, {2}, I64Bytes({1, 2}));
  b.AddConstantNode("", "out1", DType::kF32, {1}, F32Bytes({1.0f}));  // unnamed: by index
  const std::string model = b.Build();
  const TensorIndex index = MustIndex(model);
  ASSERT_EQ(index.tensors.size(), 2u);
  EXPECT_EQ(index.tensors[0].name, "main/c0/value");
  EXPECT_EQ(index.tensors[0].dtype, DType::kI64);
  EXPECT_EQ(Slice(model, index.tensors[0]), I64Bytes({1, 2}));
  EXPECT_EQ(index.tensors[1].name, "main/#1/value");
}

TEST(OnnxIndexTest, NodeNameAfterAttributesStillNamesTheTensor) {
  OnnxTensor t;
  t.raw = F32Bytes({1.0f});
  t.dims = {1};
  ProtoWriter node;
  node.Bytes(5, oxide::testing::TensorAttr("value", t)).Bytes(3, "late").Bytes(4, "Constant");
  OnnxBuilder b;
  b.AddNode(node.str());
  const TensorIndex index = MustIndex(b.Build());
  ASSERT_EQ(index.tensors.size(), 1u);
  EXPECT_EQ(index.tensors[0].name, "main/late/value");
}

TEST(OnnxIndexTest, SubgraphsTwoLevelsDeep) {
  OnnxGraph body("body");
  body.AddInitializer("body.w", DType::kF32, {2}, F32Bytes({1.0f, 2.0f}));
  body.AddConstantNode("k", "k_out", DType::kI64, {1}, I64Bytes({42}));
  OnnxGraph then_branch("then");
  then_branch.AddLoopNode("loop0", body);
  OnnxGraph else_branch("else");
  else_branch.AddConstantNode("e", "e_out", DType::kF32, {1}, F32Bytes({5.0f}));
  OnnxBuilder b;
  b.AddIfNode("if0", then_branch, else_branch);
  const std::string model = b.Build();
  const TensorIndex index = MustIndex(model);
  ASSERT_EQ(index.tensors.size(), 3u);
  const TensorInfo* k = Find(index, "main/if0/then_branch/loop0/body/k/value");
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(Slice(model, *k), I64Bytes({42}));
  const TensorInfo* w = Find(index, "body.w");  // subgraph initializers keep their names
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(Slice(model, *w), F32Bytes({1.0f, 2.0f}));
  EXPECT_NE(Find(index, "main/if0/else_branch/e/value"), nullptr);
}

TEST(OnnxIndexTest, FunctionsAreWalked) {
  OnnxGraph body("fn");
  body.AddConstantNode("fc", "f", DType::kF32, {2}, F32Bytes({1.0f, 2.0f}));
  OnnxBuilder b;
  b.AddInitializer("w", DType::kF32, {1}, F32Bytes({0.5f}));
  b.AddFunction("MyFn", body);
  const std::string model = b.Build();
  const TensorIndex index = MustIndex(model);
  ASSERT_EQ(index.tensors.size(), 2u);
  const TensorInfo* f = Find(index, "fn:MyFn/fc/value");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Slice(model, *f), F32Bytes({1.0f, 2.0f}));
}

TEST(OnnxIndexTest, TrainingGraphsAndFunctionDefaultAttributes) {
  OnnxGraph init("init");
  init.AddInitializer("step", DType::kI64, {1}, I64Bytes({0}));
  OnnxTensor def;
  def.dims = {1};
  def.raw = F32Bytes({0.5f});
  ProtoWriter training, function;
  training.Bytes(1, init.Encode());  // TrainingInfoProto.initialization
  function.Bytes(1, "Fn").Bytes(11, oxide::testing::TensorAttr("alpha", def));  // attribute_proto
  OnnxBuilder b;
  b.AddRawModelBytes(ProtoWriter().Bytes(20, training.str()).Bytes(25, function.str()).str());
  const std::string model = b.Build();
  const TensorIndex index = MustIndex(model);
  ASSERT_EQ(index.tensors.size(), 2u);
  ASSERT_NE(Find(index, "step"), nullptr);
  ASSERT_NE(Find(index, "fn:Fn/default/alpha"), nullptr);
  EXPECT_EQ(Slice(model, *Find(index, "fn:Fn/default/alpha")), F32Bytes({0.5f}));
}

TEST(OnnxIndexTest, SparseInitializer) {
  OnnxTensor values, indices;
  values.name = "sp";
  values.dims = {2};
  values.raw = F32Bytes({1.0f, 2.0f});
  indices.dtype = DType::kI64;
  indices.dims = {2};
  indices.raw = I64Bytes({3, 7});
  OnnxBuilder b;
  b.AddSparseInitializer(values, indices);
  const std::string model = b.Build();
  const TensorIndex index = MustIndex(model);
  ASSERT_EQ(index.tensors.size(), 2u);
  ASSERT_NE(Find(index, "sp"), nullptr);
  EXPECT_EQ(Slice(model, *Find(index, "sp")), F32Bytes({1.0f, 2.0f}));
  ASSERT_NE(Find(index, "sp/indices"), nullptr);
  EXPECT_EQ(Find(index, "sp/indices")->dtype, DType::kI64);
  EXPECT_EQ(Slice(model, *Find(index, "sp/indices")), I64Bytes({3, 7}));
}

TEST(OnnxIndexTest, ExternalData) {
  OnnxTensor ext;
  ext.name = "big";
  ext.dims = {1 << 20};
  ext.data = OnnxTensor::Data::kExternal;
  ext.location = "big.bin";
  OnnxBuilder b;
  b.AddTensorInitializer(ext);
  const TensorIndex index = MustIndex(b.Build());
  ASSERT_EQ(index.tensors.size(), 1u);
  EXPECT_EQ(index.tensors[0].storage, Storage::kExternal);
  EXPECT_EQ(index.tensors[0].external_location, "big.bin");
  EXPECT_EQ(index.tensors[0].length, 0u);
  EXPECT_EQ(index.tensors[0].dims, (std::vector<int64_t>{1 << 20}));
}

TEST(OnnxIndexTest, UnknownFieldsAreSkipped) {
  ProtoWriter unknown;
  unknown.Varint(99, 7).Fixed64(100, 1).Bytes(101, "future").Fixed32(102, 2);
  OnnxBuilder plain, extended;
  for (OnnxBuilder* b : {&plain, &extended}) {
    b->AddInitializer("w", DType::kF32, {1}, F32Bytes({1.0f}));
    b->AddConstantNode("c", "c_out", DType::kF32, {1}, F32Bytes({2.0f}));
  }
  extended.AddRawBytes(unknown.str());
  extended.AddRawModelBytes(unknown.str());
  // Known field numbers with unexpected wire types are unknown fields too (as in protobuf).
  extended.AddRawModelBytes(ProtoWriter().Varint(7, 1).Fixed32(25, 0).str());
  const TensorIndex a = MustIndex(plain.Build());
  const TensorIndex b = MustIndex(extended.Build());
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
}

TEST(OnnxIndexTest, NestedNameCollisionsGetSuffixes) {
  OnnxGraph sub("sub");
  sub.AddInitializer("w", DType::kF32, {1}, F32Bytes({1.0f}));
  OnnxBuilder b;
  b.AddLoopNode("loop", sub);  // nodes are encoded before initializers: walked first
  b.AddConstantNode("c", "o1", DType::kF32, {1}, F32Bytes({2.0f}));
  b.AddConstantNode("c", "o2", DType::kF32, {1}, F32Bytes({3.0f}));
  b.AddInitializer("w", DType::kF32, {1}, F32Bytes({4.0f}));
  const std::string model = b.Build();
  const TensorIndex index = MustIndex(model);
  ASSERT_EQ(index.tensors.size(), 4u);
  EXPECT_EQ(Slice(model, *Find(index, "w")), F32Bytes({4.0f}));  // top level keeps its name
  EXPECT_EQ(Slice(model, *Find(index, "w#2")), F32Bytes({1.0f}));
  EXPECT_EQ(Slice(model, *Find(index, "main/c/value")), F32Bytes({2.0f}));
  EXPECT_EQ(Slice(model, *Find(index, "main/c/value#2")), F32Bytes({3.0f}));
}

TEST(OnnxIndexTest, DuplicateInitializerNamesAreCorrupt) {
  OnnxBuilder b;
  b.AddInitializer("x", DType::kF32, {1}, F32Bytes({1.0f}));
  b.AddInitializer("x", DType::kF32, {1}, F32Bytes({2.0f}));
  Result<TensorIndex> r = IndexOnnx(b.Build());
  EXPECT_STATUS(r.status(), ErrorCode::kCorrupt);
  EXPECT_NE(r.status().message().find("duplicate tensor name 'x'"), std::string::npos);

  OnnxGraph sub("sub");
  sub.AddInitializer("y", DType::kF32, {1}, F32Bytes({1.0f}));
  sub.AddInitializer("y", DType::kF32, {1}, F32Bytes({2.0f}));
  OnnxBuilder nested;
  nested.AddLoopNode("loop", sub);
  EXPECT_STATUS(IndexOnnx(nested.Build()).status(), ErrorCode::kCorrupt);
}

TEST(OnnxIndexTest, DataTypeMapping) {
  const std::pair<int, DType> kTable[] = {
      {1, DType::kF32},        {2, DType::kU8},         {3, DType::kI8},
      {4, DType::kU16},        {5, DType::kI16},        {6, DType::kI32},
      {7, DType::kI64},        {8, DType::kString},     {9, DType::kBool},
      {10, DType::kF16},       {11, DType::kF64},       {12, DType::kU32},
      {13, DType::kU64},       {14, DType::kComplex64}, {15, DType::kComplex128},
      {16, DType::kBF16},      {17, DType::kF8E4M3},    {19, DType::kF8E5M2},
      {21, DType::kU4},        {22, DType::kI4},        {0, DType::kUnknown},
      {18, DType::kUnknown},   {20, DType::kUnknown},   {23, DType::kUnknown},
      {1000, DType::kUnknown},
  };
  for (const auto& [onnx_type, dtype] : kTable) {
    SCOPED_TRACE(onnx_type);
    ProtoWriter tensor;
    tensor.Varint(1, 4).Varint(2, static_cast<uint64_t>(onnx_type)).Bytes(8, "t").Bytes(9, "ab");
    OnnxBuilder b;
    b.AddRawBytes(ProtoWriter().Bytes(5, tensor.str()).str());
    const TensorIndex index = MustIndex(b.Build());
    ASSERT_EQ(index.tensors.size(), 1u);
    EXPECT_EQ(index.tensors[0].dtype, dtype);
  }
}

TEST(OnnxIndexTest, BuilderDTypesRoundTrip) {
  for (int v = 1; v <= static_cast<int>(DType::kComplex128); ++v) {
    const auto dtype = static_cast<DType>(v);
    SCOPED_TRACE(ToString(dtype));
    OnnxBuilder b;
    b.AddInitializer("t", dtype, {1}, "abcd");
    const TensorIndex index = MustIndex(b.Build());
    ASSERT_EQ(index.tensors.size(), 1u);
    EXPECT_EQ(index.tensors[0].dtype, dtype);
  }
}

TEST(OnnxIndexTest, SampleModelCoversEveryLocationAndIsStableUnderFineTuning) {
  const std::string base = oxide::testing::SampleOnnxModel(1);
  const std::string tuned = oxide::testing::SampleOnnxModel(1, /*finetune_seed=*/7);
  const TensorIndex a = MustIndex(base);
  const TensorIndex b = MustIndex(tuned);
  ASSERT_EQ(a.tensors.size(), 12u);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
    EXPECT_EQ(a.tensors[i].offset, b.tensors[i].offset);
    EXPECT_EQ(a.tensors[i].dims, b.tensors[i].dims);
  }
  EXPECT_NE(base, tuned);
  EXPECT_EQ(a.metadata.size(), 1u);
  for (const char* name :
       {"conv.weight", "scale", "shape", "big.weight", "sparse.weight", "sparse.weight/indices",
        "main/const0/value", "body.weight", "main/if0/then_branch/loop0/body/#0/value",
        "main/if0/else_branch/else_const/value", "fn:LocalFn/fn_const/value"}) {
    EXPECT_NE(Find(a, name), nullptr) << name;
  }
}

}  // namespace
}  // namespace oxide::tensor
