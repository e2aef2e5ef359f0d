// Malformed ONNX input: every failure must be kCorrupt with no crash, hang or huge allocation.
#include <gtest/gtest.h>

#include "tensor/tensor_index.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::tensor {
namespace {

using oxide::testing::F32Bytes;
using oxide::testing::OnnxBuilder;
using oxide::testing::OnnxGraph;
using oxide::testing::ProtoWriter;

// ModelProto with ir_version followed by `rest` verbatim.
std::string ModelWith(std::string_view rest) {
  std::string m = ProtoWriter().Varint(1, 8).str();
  m.append(rest);
  return m;
}

bool OkOrCorrupt(const Status& s) { return s.ok() || s.code() == ErrorCode::kCorrupt; }

TEST(OnnxCorruptTest, EveryTruncationIsCorruptOrOk) {
  const std::string model = oxide::testing::SampleOnnxModel(3);
  for (size_t n = 0; n < model.size(); ++n) {
    Status s = IndexOnnx(std::string_view(model).substr(0, n)).status();
    ASSERT_TRUE(OkOrCorrupt(s)) << "prefix " << n << ": " << s.ToString();
  }
}

TEST(OnnxCorruptTest, EveryByteFlipIsCorruptOrOk) {
  const std::string model = oxide::testing::SampleOnnxModel(4);
  for (size_t i = 0; i < model.size(); ++i) {
    for (int mask : {0x01, 0x80, 0xff}) {
      std::string bad = model;
      bad[i] = static_cast<char>(static_cast<uint8_t>(bad[i]) ^ mask);
      Result<TensorIndex> r = IndexOnnx(bad);
      ASSERT_TRUE(OkOrCorrupt(r.status())) << "byte " << i << ": " << r.status().ToString();
      if (!r.ok()) continue;
      for (const TensorInfo& t : r->tensors) ASSERT_LE(t.offset + t.length, bad.size());
    }
  }
}

TEST(OnnxCorruptTest, MalformedModels) {
  ProtoWriter bad_float_tensor;
  bad_float_tensor.Varint(2, 1).Bytes(8, "f").Bytes(4, "12345");  // 5 bytes of fixed32 floats
  ProtoWriter no_location;
  no_location.Varint(2, 1).Bytes(8, "e").Varint(14, 1);
  struct Case {
    const char* what;
    std::string model;
  };
  const Case cases[] = {
      {"empty file", ""},
      {"no ir_version", ProtoWriter().Bytes(7, "").str()},
      {"no graph", ProtoWriter().Varint(1, 8).str()},
      {"graph length past end", ModelWith(std::string("\x3a\xe8\x07", 3) + "abcde")},
      {"graph length overflows", ModelWith(std::string("\x3a") + std::string(9, '\xff') + "\x01")},
      {"varint overflow", ModelWith(std::string("\x28") + std::string(11, '\x80'))},
      {"group wire type", ModelWith("\x3b")},
      {"field number zero", ModelWith(std::string("\x02\x00", 2))},
      {"nested length past end", ModelWith(ProtoWriter()
                                               .Bytes(7, std::string("\x2a\x10"
                                                                     "short",
                                                                     7))
                                               .str())},
      {"packed float_data not a multiple of 4",
       ModelWith(
           ProtoWriter().Bytes(7, ProtoWriter().Bytes(5, bad_float_tensor.str()).str()).str())},
      {"external tensor without location",
       ModelWith(ProtoWriter().Bytes(7, ProtoWriter().Bytes(5, no_location.str()).str()).str())},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_STATUS(IndexOnnx(c.model).status(), ErrorCode::kCorrupt);
  }
}

// Each level wraps the graph in Loop(body=...): a few bytes per level.
std::string NestedModel(int levels) {
  OnnxGraph g("leaf");
  g.AddConstantNode("k", "k", DType::kF32, {1}, F32Bytes({1.0f}));
  for (int i = 0; i < levels; ++i) {
    OnnxGraph outer("g");
    outer.AddLoopNode("l", g);
    g = outer;
  }
  OnnxBuilder b;
  b.AddLoopNode("top", g);
  return b.Build();
}

TEST(OnnxCorruptTest, NestingBombIsRejected) {
  EXPECT_TRUE(IndexOnnx(NestedModel(60)).ok());
  Result<TensorIndex> r = IndexOnnx(NestedModel(200));
  EXPECT_STATUS(r.status(), ErrorCode::kCorrupt);
  EXPECT_NE(r.status().message().find("nesting too deep"), std::string::npos);
}

TEST(OnnxCorruptTest, LongNamesAreBoundedInSyntheticPaths) {
  const std::string long_name(10000, 'n');
  OnnxGraph inner("inner");
  for (int i = 0; i < 3; ++i) inner.AddConstantNode("", "o", DType::kF32, {1}, F32Bytes({1.f}));
  OnnxBuilder b;
  b.AddLoopNode(long_name, inner);
  Result<TensorIndex> r = IndexOnnx(b.Build());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->tensors.size(), 3u);
  for (const TensorInfo& t : r->tensors) EXPECT_LE(t.name.size(), 256u) << t.name;
  EXPECT_NE(r->tensors[0].name, r->tensors[1].name);
}

}  // namespace
}  // namespace oxide::tensor
