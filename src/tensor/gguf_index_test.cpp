// GGUF indexer: layout of valid files (v2, v3, custom alignment, nested arrays) and a table of
// malformed files, each refused with its specific message.
#include <gtest/gtest.h>

#include <cstring>

#include "tensor/tensor_index.hpp"
#include "tensor/test_util.hpp"
#include "testing/gguf_builder.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::tensor {
namespace {

using oxide::testing::GgufBuilder;
using testutil::Find;
using testutil::Slice;

std::string Value(const TensorIndex& index, std::string_view key) {
  for (const auto& [k, v] : index.metadata) {
    if (k == key) return v;
  }
  return "<missing>";
}

TEST(GgufIndexTest, IndexesVersion2And3) {
  for (uint32_t version : {2u, 3u}) {
    SCOPED_TRACE(version);
    const std::string file = oxide::testing::SampleGguf(version);
    EXPECT_EQ(DetectFormat(file), ModelFormat::kGguf);
    EXPECT_EQ(ClaimedFormat(file), ModelFormat::kGguf);
    Result<TensorIndex> r = IndexModel(file, ModelFormat::kGguf);
    ASSERT_OK(r.status());
    EXPECT_EQ(r->format, ModelFormat::kGguf);
    ASSERT_EQ(r->tensors.size(), 5u);
    const TensorInfo* emb = Find(*r, "token_embd.weight");
    ASSERT_NE(emb, nullptr);
    EXPECT_EQ(emb->dtype, DType::kF32);
    EXPECT_EQ(emb->dims, (std::vector<int64_t>{64, 32}));
    EXPECT_EQ(emb->length, 64u * 32 * 4);
    EXPECT_EQ(emb->offset % 32, 0u);
    EXPECT_EQ(Slice(file, *emb), oxide::testing::RandomNormalF32(64 * 32, 1));
    EXPECT_EQ(Find(*r, "blk.0.attn_q.weight")->dtype, DType::kF16);
    EXPECT_EQ(Find(*r, "blk.0.ffn_up.weight")->dtype, DType::kBF16);
    EXPECT_EQ(Find(*r, "output_norm.bias")->dtype, DType::kI8);
    // Q8_0: 64 x 8 elements in 16 blocks of 34 bytes, indexed as opaque bytes.
    const TensorInfo* q = Find(*r, "blk.0.ffn_down.weight");
    EXPECT_EQ(q->dtype, DType::kU8);
    EXPECT_EQ(q->dims, (std::vector<int64_t>{16 * 34}));
    EXPECT_EQ(q->length, 16u * 34);
    EXPECT_EQ(Value(*r, "general.architecture"), "llama");
    EXPECT_EQ(Value(*r, "llama.context_length"), "128");
    EXPECT_EQ(Value(*r, "tokenizer.ggml.tokens"), "[4 x string]");
  }
}

TEST(GgufIndexTest, HonoursGeneralAlignmentAndQuantisedSizes) {
  GgufBuilder b;
  b.SetAlignment(64);
  b.AddTensor("a", GgufBuilder::kQ4_0, {64, 3}, std::string(2 * 3 * 18, 'a'));
  b.AddTensor("b", GgufBuilder::kQ4_K, {256}, std::string(144, 'b'));
  b.AddTensor("c", GgufBuilder::kF32, {}, std::string(4, 'c'));  // a scalar
  const std::string file = b.Build();
  Result<TensorIndex> r = IndexGguf(file);
  ASSERT_OK(r.status());
  ASSERT_EQ(r->tensors.size(), 3u);
  EXPECT_EQ(b.data_start() % 64, 0u);
  for (const TensorInfo& t : r->tensors) {
    EXPECT_EQ((t.offset - b.data_start()) % 64, 0u) << t.name;
    EXPECT_EQ(Slice(file, t), std::string(t.length, t.name[0])) << t.name;
  }
  EXPECT_EQ(Find(*r, "a")->length, 108u);
  EXPECT_EQ(Find(*r, "b")->length, 144u);
  EXPECT_EQ(Value(*r, "general.alignment"), "64");
}

TEST(GgufIndexTest, NestedArraysAndEmptyModels) {
  // [[1, 2], [3]] of uint8, and an array of arrays of strings.
  const std::string inner1 = GgufBuilder::U32(0) + GgufBuilder::U64(2) + "\x01\x02";
  const std::string inner2 = GgufBuilder::U32(0) + GgufBuilder::U64(1) + "\x03";
  GgufBuilder b(2);
  b.AddRaw("nested", GgufBuilder::kTypeArray,
           GgufBuilder::U32(GgufBuilder::kTypeArray) + GgufBuilder::U64(2) + inner1 + inner2);
  b.AddRaw("strings", GgufBuilder::kTypeArray,
           GgufBuilder::U32(GgufBuilder::kTypeArray) + GgufBuilder::U64(1) +
               GgufBuilder::U32(GgufBuilder::kTypeString) + GgufBuilder::U64(1) +
               GgufBuilder::Str("x"));
  Result<TensorIndex> r = IndexGguf(b.Build());
  ASSERT_OK(r.status());
  EXPECT_TRUE(r->tensors.empty());
  EXPECT_EQ(Value(*r, "nested"), "[2 x array]");
}

TEST(GgufIndexTest, RefusesVersion1AndBigEndian) {
  std::string v1 = oxide::testing::SampleGguf(3);
  v1[4] = 1;
  EXPECT_STATUS(IndexGguf(v1).status(), ErrorCode::kUnsupported);
  EXPECT_NE(IndexGguf(v1).status().message().find("version 1"), std::string::npos);
  std::string be = oxide::testing::SampleGguf(3);
  be.replace(4, 4, std::string("\0\0\0\3", 4));
  EXPECT_STATUS(IndexGguf(be).status(), ErrorCode::kUnsupported);
  EXPECT_NE(IndexGguf(be).status().message().find("big-endian"), std::string::npos);
  be[7] = 9;
  EXPECT_STATUS(IndexGguf(be).status(), ErrorCode::kUnsupported);  // a future version
}

TEST(GgufIndexTest, FloatMetadataKeepsItsPrecision) {
  auto f32 = [](float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return GgufBuilder::U32(bits);
  };
  auto f64 = [](double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return GgufBuilder::U64(bits);
  };
  GgufBuilder b;
  b.AddRaw("eps32", GgufBuilder::kTypeF32, f32(1e-12f));
  b.AddRaw("eps64", 12, f64(1e-12));
  b.AddRaw("theta", GgufBuilder::kTypeF32, f32(10000.0f));
  b.AddRaw("third", 12, f64(1.0 / 3));
  Result<TensorIndex> r = IndexGguf(b.Build());
  ASSERT_OK(r.status());
  // Shortest text that reads back as the same value (std::to_string printed 1e-12 as 0.000000).
  EXPECT_EQ(Value(*r, "eps32"), "1e-12");
  EXPECT_EQ(Value(*r, "eps64"), "1e-12");
  EXPECT_EQ(Value(*r, "theta"), "10000");
  EXPECT_EQ(Value(*r, "third"), "0.3333333333333333");
}

// --- Malformed files ---

std::string Header(uint64_t tensors, uint64_t kvs) {
  return "GGUF" + GgufBuilder::U32(3) + GgufBuilder::U64(tensors) + GgufBuilder::U64(kvs);
}
std::string Kv(std::string_view key, uint32_t type, std::string_view value) {
  return GgufBuilder::Str(key) + GgufBuilder::U32(type) + std::string(value);
}
std::string Info(std::string_view name, std::vector<uint64_t> dims, uint32_t type,
                 uint64_t offset) {
  std::string s = GgufBuilder::Str(name) + GgufBuilder::U32(static_cast<uint32_t>(dims.size()));
  for (uint64_t d : dims) s += GgufBuilder::U64(d);
  return s + GgufBuilder::U32(type) + GgufBuilder::U64(offset);
}
std::string Pad(std::string s, size_t to = 32) {
  s.resize((s.size() + to - 1) / to * to, '\0');
  return s;
}
std::string NestedArray(int depth) {
  std::string v = GgufBuilder::U32(0) + GgufBuilder::U64(0);
  for (int i = 0; i < depth; ++i) v = GgufBuilder::U32(9) + GgufBuilder::U64(1) + v;
  return v;
}

TEST(GgufCorruptTest, MalformedFiles) {
  using B = GgufBuilder;
  const std::string f32x4(16, '\0');
  struct Case {
    const char* what;
    std::string file;
    ErrorCode code;
    const char* message;
  };
  const Case cases[] = {
      {"empty", "", ErrorCode::kCorrupt, "magic missing"},
      {"short magic", "GGU", ErrorCode::kCorrupt, "magic missing"},
      {"no version", "GGUF", ErrorCode::kCorrupt, "truncated in version"},
      {"version 0", "GGUF" + B::U32(0), ErrorCode::kCorrupt, "version 0"},
      {"no tensor count", "GGUF" + B::U32(3) + "abc", ErrorCode::kCorrupt,
       "truncated in tensor count"},
      {"no metadata count", "GGUF" + B::U32(2) + B::U64(0), ErrorCode::kCorrupt,
       "truncated in metadata count"},
      {"huge metadata count", Header(0, uint64_t{1} << 60), ErrorCode::kCorrupt,
       "metadata count 1152921504606846976 past end of file"},
      {"key length past end", Header(0, 1) + B::U64(1000) + "abcde", ErrorCode::kCorrupt,
       "metadata key length 1000 past end of file"},
      {"no value type", Header(0, 1) + B::Str("key") + std::string("\x04\0", 2),
       ErrorCode::kCorrupt, "truncated in metadata value type"},
      {"unknown value type", Header(0, 1) + Kv("k", 99, "....."), ErrorCode::kCorrupt,
       "metadata value type 99 unknown"},
      {"scalar cut", Header(0, 1) + Kv("key", 10, "\1\2"), ErrorCode::kCorrupt,
       "truncated in metadata value"},
      {"string value past end", Header(0, 1) + Kv("k", 8, B::U64(77) + "x"), ErrorCode::kCorrupt,
       "metadata string length 77 past end of file"},
      {"array element type unknown", Header(0, 1) + Kv("k", 9, B::U32(42) + B::U64(0)),
       ErrorCode::kCorrupt, "array element type 42 unknown"},
      {"array length cut", Header(0, 1) + Kv("k", 9, B::U32(0) + "\1\2"), ErrorCode::kCorrupt,
       "truncated in array length"},
      {"huge array", Header(0, 1) + Kv("k", 9, B::U32(0) + B::U64(uint64_t{1} << 62)),
       ErrorCode::kCorrupt, "array of 4611686018427387904 uint8 values past end of file"},
      {"huge string array", Header(0, 1) + Kv("k", 9, B::U32(8) + B::U64(3) + B::Str("ab")),
       ErrorCode::kCorrupt, "array of 3 string values past end of file"},
      {"string element past end",
       Header(0, 1) + Kv("k", 9, B::U32(8) + B::U64(1) + B::U64(99) + "abcdefgh"),
       ErrorCode::kCorrupt, "metadata string length 99 past end of file"},
      {"arrays nested too deep", Header(0, 1) + Kv("k", 9, NestedArray(4)), ErrorCode::kCorrupt,
       "nested deeper than 4"},
      {"duplicate key", Header(0, 2) + Kv("k", 0, "\1") + Kv("k", 0, "\2"), ErrorCode::kCorrupt,
       "duplicate metadata key 'k'"},
      {"alignment not u32", Header(0, 1) + Kv("general.alignment", 10, B::U64(32)),
       ErrorCode::kCorrupt, "general.alignment is not a uint32"},
      {"alignment 0", Header(0, 1) + Kv("general.alignment", 4, B::U32(0)), ErrorCode::kCorrupt,
       "general.alignment 0 is not a power of two"},
      {"alignment 48", Header(0, 1) + Kv("general.alignment", 4, B::U32(48)), ErrorCode::kCorrupt,
       "general.alignment 48 is not a power of two"},
      {"huge tensor count", Header(uint64_t{1} << 40, 0) + std::string(64, '\0'),
       ErrorCode::kCorrupt, "tensor count 1099511627776 past end of file"},
      {"tensor name past end", Header(1, 0) + B::U64(500) + std::string(24, 'n'),
       ErrorCode::kCorrupt, "tensor name length 500 past end of file"},
      {"n_dims garbage", Header(1, 0) + B::Str("t") + "\1\0" + std::string(14, 'x'),
       ErrorCode::kCorrupt, "gguf tensor 't' has"},
      {"five dims", Header(1, 0) + Info("t", {1, 1, 1, 1, 1}, 0, 0), ErrorCode::kCorrupt,
       "gguf tensor 't' has 5 dimensions (max 4)"},
      {"dims cut", Header(1, 0) + B::Str("t") + B::U32(2) + B::U64(4) + "\1\2\3",
       ErrorCode::kCorrupt, "truncated in tensor dims"},
      {"negative dim", Pad(Header(1, 0) + Info("t", {uint64_t{1} << 63}, 0, 0)),
       ErrorCode::kCorrupt, "gguf tensor 't' has a negative dimension"},
      {"element overflow",
       Pad(Header(1, 0) + Info("t", {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0)),
       ErrorCode::kCorrupt, "gguf tensor 't' element count overflows"},
      {"type cut", Header(1, 0) + B::Str("t") + B::U32(1) + B::U64(4) + std::string(3, '\0'),
       ErrorCode::kCorrupt, "truncated in tensor type"},
      {"offset cut", Header(1, 0) + B::Str("t") + B::U32(1) + B::U64(4) + B::U32(0) + "\0\0",
       ErrorCode::kCorrupt, "truncated in tensor offset"},
      {"removed ggml type", Pad(Header(1, 0) + Info("t", {32}, 4, 0)) + f32x4,
       ErrorCode::kUnsupported, "gguf tensor 't' has unknown ggml type 4"},
      {"unknown ggml type", Pad(Header(1, 0) + Info("t", {4}, 1000, 0)) + f32x4,
       ErrorCode::kUnsupported, "unknown ggml type 1000"},
      {"partial block", Pad(Header(1, 0) + Info("t", {33}, 8, 0)) + std::string(68, '\0'),
       ErrorCode::kCorrupt, "first dimension 33 is not a multiple of the Q8_0 block size 32"},
      {"byte size overflow", Pad(Header(1, 0) + Info("t", {uint64_t{1} << 62}, 28, 0)),
       ErrorCode::kCorrupt, "gguf tensor 't' byte size overflows"},
      {"misaligned offset", Pad(Header(1, 0) + Info("t", {4}, 0, 8)) + f32x4 + f32x4,
       ErrorCode::kCorrupt, "gguf tensor 't' offset 8 is not a multiple of the alignment 32"},
      {"offset past end", Pad(Header(1, 0) + Info("t", {4}, 0, 64)) + f32x4, ErrorCode::kCorrupt,
       "gguf tensor 't' offset 64 past end of file"},
      {"data past end", Pad(Header(1, 0) + Info("t", {8}, 0, 0)) + f32x4, ErrorCode::kCorrupt,
       "tensor 't' data range past end of file"},
      {"data section past end", Header(1, 0) + Info("t", {0}, 0, 0), ErrorCode::kCorrupt,
       "data section starts at 64, past end of file"},
      {"overlapping tensors",
       Pad(Header(2, 0) + Info("a", {8}, 0, 0) + Info("b", {4}, 0, 0)) + f32x4 + f32x4,
       ErrorCode::kCorrupt, "tensors 'b' and 'a' overlap"},
      {"duplicate tensor names",
       Pad(Header(2, 0) + Info("a", {4}, 0, 0) + Info("a", {4}, 0, 32)) + Pad(f32x4) + f32x4,
       ErrorCode::kCorrupt, "duplicate tensor name 'a'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Status s = IndexGguf(c.file).status();
    EXPECT_STATUS(s, c.code);
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.ToString();
  }
}

TEST(GgufCorruptTest, NestedArraysUpToTheLimitAreAccepted) {
  EXPECT_OK(IndexGguf(Header(0, 1) + Kv("k", 9, NestedArray(3))).status());
}

TEST(GgufCorruptTest, EveryTruncationIsCorrupt) {
  const std::string file = oxide::testing::SampleGguf(3);
  for (size_t n = 0; n < file.size(); ++n) {
    Status s = IndexGguf(std::string_view(file).substr(0, n)).status();
    ASSERT_STATUS(s, ErrorCode::kCorrupt) << "prefix " << n;
  }
}

TEST(GgufCorruptTest, EveryByteFlipIsRefusedOrInRange) {
  const std::string file = oxide::testing::SampleGguf(2);
  const size_t header_end = file.find("blk.0.ffn_down.weight") + 64;  // past the tensor infos
  for (size_t i = 0; i < header_end; ++i) {
    for (int mask : {0x01, 0x80, 0xff}) {
      std::string bad = file;
      bad[i] = static_cast<char>(static_cast<uint8_t>(bad[i]) ^ mask);
      Result<TensorIndex> r = IndexGguf(bad);
      const ErrorCode code = r.status().code();
      ASSERT_TRUE(r.ok() || code == ErrorCode::kCorrupt || code == ErrorCode::kUnsupported)
          << "byte " << i << ": " << r.status().ToString();
      if (!r.ok()) continue;
      for (const TensorInfo& t : r->tensors) ASSERT_LE(t.offset + t.length, bad.size());
    }
  }
}

}  // namespace
}  // namespace oxide::tensor
