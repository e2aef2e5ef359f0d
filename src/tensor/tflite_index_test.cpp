// TFLite indexer: buffers of a valid model become tensors (inline and offset buffers, shared and
// unreferenced ones), and a table of malformed FlatBuffers, each refused with its message.
#include <gtest/gtest.h>

#include <functional>

#include "tensor/tensor_index.hpp"
#include "tensor/test_util.hpp"
#include "tensor/tflite_hostile_files.hpp"
#include "testing/gguf_builder.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/tflite_builder.hpp"

namespace oxide::tensor {
namespace {

using oxide::testing::F32Bytes;
using oxide::testing::TfliteBuilder;
using oxide::testing::TfliteLayout;
using testutil::Find;
using testutil::Slice;

std::string Value(const TensorIndex& index, std::string_view key) {
  for (const auto& [k, v] : index.metadata) {
    if (k == key) return v;
  }
  return "<missing>";
}

TEST(TfliteIndexTest, IndexesEveryBufferWithData) {
  const std::string file = oxide::testing::SampleTflite();
  EXPECT_EQ(DetectFormat(file), ModelFormat::kTflite);
  EXPECT_EQ(ClaimedFormat(file), ModelFormat::kTflite);
  Result<TensorIndex> r = IndexModel(file, ModelFormat::kTflite);
  ASSERT_OK(r.status());
  EXPECT_EQ(r->format, ModelFormat::kTflite);
  ASSERT_EQ(r->tensors.size(), 6u);
  const TensorInfo* dense = Find(*r, "dense/MatMul");
  ASSERT_NE(dense, nullptr);
  EXPECT_EQ(dense->dtype, DType::kF32);
  EXPECT_EQ(dense->dims, (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(dense->offset % 16, 0u);
  EXPECT_EQ(Slice(file, *dense), oxide::testing::RandomNormalF32(64 * 32, 1));
  EXPECT_EQ(Find(*r, "conv/Conv2D")->dtype, DType::kF16);
  EXPECT_EQ(Find(*r, "dense_1/bias")->dtype, DType::kI32);
  // Shared by two tensors: one range, named after the first.
  EXPECT_EQ(Find(*r, "dense_1/MatMul;quant")->dtype, DType::kI8);
  EXPECT_EQ(Find(*r, "while/cond/x"), nullptr);
  // Referenced by no tensor / by metadata only: kept as opaque ranges.
  const TensorInfo* orphan = Find(*r, "buffer/5");
  ASSERT_NE(orphan, nullptr);
  EXPECT_EQ(Slice(file, *orphan), "orphan bytes no tensor uses");
  EXPECT_EQ(Find(*r, "metadata/min_runtime_version")->dtype, DType::kU8);
  EXPECT_EQ(Value(*r, "min_runtime_version"), "1.14.0");
  EXPECT_EQ(Value(*r, "description"), "oxide test model");
  EXPECT_EQ(Value(*r, "version"), "3");
}

TEST(TfliteIndexTest, OffsetBuffersAndOpaqueTypes) {
  TfliteBuilder b;
  const uint32_t big = b.AddOffsetBuffer(F32Bytes({1, 2, 3, 4}));
  const uint32_t int4 = b.AddBuffer("\x12\x34");
  const uint32_t odd = b.AddBuffer("abc");  // shape says 4 floats: inconsistent
  b.AddTensor("big", TfliteBuilder::kFloat32, {2, 2}, big);
  b.AddTensor("packed", TfliteBuilder::kInt4, {4}, int4);
  b.AddTensor("odd", TfliteBuilder::kFloat32, {4}, odd);
  b.AddTensor("dup", TfliteBuilder::kFloat32, {1}, 0);
  b.AddSubgraph().AddTensor("dup", TfliteBuilder::kFloat32, {1}, 0);
  const std::string file = b.Build();
  Result<TensorIndex> r = IndexTflite(file);
  ASSERT_OK(r.status());
  ASSERT_EQ(r->tensors.size(), 3u);
  const TensorInfo* t = Find(*r, "big");
  EXPECT_EQ(t->dtype, DType::kF32);
  EXPECT_EQ(Slice(file, *t), F32Bytes({1, 2, 3, 4}));
  EXPECT_EQ(t->offset + t->length, file.size());     // after the FlatBuffer
  EXPECT_EQ(Find(*r, "packed")->dtype, DType::kI4);  // 4 elements, two per byte
  EXPECT_EQ(Find(*r, "packed")->dims, (std::vector<int64_t>{4}));
  EXPECT_EQ(Find(*r, "odd")->dtype, DType::kU8);
}

// --- Malformed files ---

void PutU32(std::string* f, uint64_t pos, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*f)[pos + i] = static_cast<char>(v >> (8 * i));
}
void PutU16(std::string* f, uint64_t pos, uint16_t v) {
  (*f)[pos] = static_cast<char>(v & 0xff);
  (*f)[pos + 1] = static_cast<char>(v >> 8);
}
uint32_t GetU32(const std::string& f, uint64_t pos) {
  return static_cast<uint32_t>(static_cast<uint8_t>(f[pos]) |
                               (static_cast<uint8_t>(f[pos + 1]) << 8) |
                               (static_cast<uint8_t>(f[pos + 2]) << 16) |
                               (static_cast<uint32_t>(static_cast<uint8_t>(f[pos + 3])) << 24));
}

// One weight tensor first (so its type and shape are read), then an activation.
std::string Small(TfliteLayout* layout, bool offset_buffer = false) {
  TfliteBuilder b;
  const std::string w = F32Bytes({1, 2, 3, 4});
  const uint32_t buf = offset_buffer ? b.AddOffsetBuffer(w) : b.AddBuffer(w);
  b.AddBuffer(F32Bytes({5, 6}));
  b.AddTensor("w", TfliteBuilder::kFloat32, {4}, buf);
  b.AddTensor("x", TfliteBuilder::kFloat32, {2}, 2);
  b.AddMetadata("m", 0);
  return b.Build(layout);
}

TEST(TfliteCorruptTest, MalformedFiles) {
  TfliteLayout lay;
  const std::string good = Small(&lay);
  ASSERT_OK(IndexTflite(good).status());
  // Tensor "w": vtable entries at +4 shape, +6 type, +8 buffer, +10 name; fields at table +4
  // (shape), +8 (type), +9 (buffer), +13 (name).
  const uint64_t tensor = lay.first_tensor_table;
  struct Case {
    const char* what;
    std::function<void(std::string*)> edit;
    ErrorCode code;
    const char* message;
  };
  const Case cases[] = {
      {"too short", [](std::string* f) { f->resize(6); }, ErrorCode::kCorrupt,
       "identifier TFL3 missing"},
      {"no identifier", [](std::string* f) { (*f)[4] = 'X'; }, ErrorCode::kCorrupt,
       "identifier TFL3 missing"},
      {"root past end", [](std::string* f) { PutU32(f, 0, static_cast<uint32_t>(f->size())); },
       ErrorCode::kCorrupt, "root table: offset"},
      {"root table in the last bytes",
       [](std::string* f) { PutU32(f, 0, static_cast<uint32_t>(f->size() - 2)); },
       ErrorCode::kCorrupt, "root table: table past end of file"},
      {"vector in the last bytes",
       [&](std::string* f) {
         const uint64_t slot = lay.model_table + 12;  // Model.buffers
         PutU32(f, slot, static_cast<uint32_t>(f->size() - 2 - slot));
       },
       ErrorCode::kCorrupt, "Model.buffers: vector length past end of file"},
      {"vtable before file",
       [&](std::string* f) {
         PutU32(f, lay.model_table, static_cast<uint32_t>(lay.model_table + 8));
       },
       ErrorCode::kCorrupt, "root table: vtable offset -8 outside the file"},
      {"vtable after file", [&](std::string* f) { PutU32(f, lay.model_table, 0x80000000u); },
       ErrorCode::kCorrupt, "vtable offset"},
      {"vtable size odd", [&](std::string* f) { PutU16(f, lay.model_vtable, 7); },
       ErrorCode::kCorrupt, "root table: vtable size 7 invalid"},
      {"vtable size too small", [&](std::string* f) { PutU16(f, lay.model_vtable, 2); },
       ErrorCode::kCorrupt, "root table: vtable size 2 invalid"},
      {"vtable past end", [&](std::string* f) { PutU16(f, lay.model_vtable, 0xfffe); },
       ErrorCode::kCorrupt, "root table: vtable size 65534 invalid"},
      {"table size past end", [&](std::string* f) { PutU16(f, lay.model_vtable + 2, 0xffff); },
       ErrorCode::kCorrupt, "root table: table size 65535 invalid"},
      {"field outside table", [&](std::string* f) { PutU16(f, lay.model_vtable + 4 + 2 * 4, 400); },
       ErrorCode::kCorrupt, "Model.buffers: field offset 400 outside its table"},
      {"field in the soffset", [&](std::string* f) { PutU16(f, lay.model_vtable + 4 + 2 * 4, 2); },
       ErrorCode::kCorrupt, "Model.buffers: field offset 2 outside its table"},
      {"buffers vector huge", [&](std::string* f) { PutU32(f, lay.buffers_vector, 0x3fffffff); },
       ErrorCode::kCorrupt, "Model.buffers: vector of 1073741823 elements past end of file"},
      {"buffers offset past end",
       [&](std::string* f) {
         const uint64_t slot = lay.model_table + 8;  // version at +4, subgraphs +8, buffers +12
         PutU32(f, slot + 4, 0x7ffffff0);
       },
       ErrorCode::kCorrupt, "Model.buffers: offset"},
      {"buffer table past end",
       [&](std::string* f) { PutU32(f, lay.buffers_vector + 8, static_cast<uint32_t>(f->size())); },
       ErrorCode::kCorrupt, "Model.buffers[]: offset"},
      {"data vector huge", [&](std::string* f) { PutU32(f, lay.buffer_data[1], 0x7fffffff); },
       ErrorCode::kCorrupt, "Buffer.data: vector of 2147483647 elements past end of file"},
      {"self-referencing offset (cycle)",
       [&](std::string* f) { PutU32(f, lay.buffers_vector + 4, 0); }, ErrorCode::kCorrupt,
       "Model.buffers[]: vtable size"},
      {"subgraphs vector huge",
       [&](std::string* f) { PutU32(f, lay.subgraphs_vector, 0xffffffff); }, ErrorCode::kCorrupt,
       "Model.subgraphs: vector of 4294967295 elements past end of file"},
      {"tensor vtable outside", [&](std::string* f) { PutU32(f, tensor, 0x7fffffff); },
       ErrorCode::kCorrupt, "SubGraph.tensors[]: vtable offset"},
      {"tensor buffer out of range", [&](std::string* f) { PutU32(f, tensor + 9, 999); },
       ErrorCode::kCorrupt, "tflite tensor 'w' references buffer 999 of 3"},
      {"tensor name unterminated", [&](std::string* f) { (*f)[lay.first_tensor_name + 5] = 'x'; },
       ErrorCode::kCorrupt, "Tensor.name: string not NUL-terminated"},
      {"tensor name past end",
       [&](std::string* f) { PutU32(f, lay.first_tensor_name, static_cast<uint32_t>(f->size())); },
       ErrorCode::kCorrupt, "Tensor.name: vector of"},
      {"unknown tensor type", [&](std::string* f) { (*f)[tensor + 8] = 77; },
       ErrorCode::kUnsupported, "tflite tensor 'w' has unknown type 77"},
      {"shape past end", [&](std::string* f) { PutU32(f, tensor + 4, 0x7ffffff0); },
       ErrorCode::kCorrupt, "Tensor.shape: offset"},
      {"overlapping buffers",
       [&](std::string* f) {
         // Buffer 1's data slot (its table's first field) is repointed at buffer 2's vector.
         const uint64_t slot = lay.buffer_tables[1] + 4;
         PutU32(f, slot, static_cast<uint32_t>(lay.buffer_data[2] - slot));
       },
       ErrorCode::kCorrupt, "overlap"},
      {"metadata buffer out of range",
       [&](std::string* f) {
         const uint64_t mvec = lay.model_table + 4 + 4 * 3;  // 5th field: metadata slot
         const uint64_t vec = mvec + GetU32(*f, mvec);
         const uint64_t table = vec + 4 + GetU32(*f, vec + 4);
         PutU32(f, table + 8, 12345);
       },
       ErrorCode::kCorrupt, "tflite metadata 'm' references buffer 12345 of 3"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::string bad = good;
    c.edit(&bad);
    Status s = IndexTflite(bad).status();
    EXPECT_STATUS(s, c.code);
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.ToString();
  }
}

TEST(TfliteCorruptTest, OffsetBufferChecks) {
  TfliteLayout lay;
  const std::string good = Small(&lay, /*offset_buffer=*/true);
  ASSERT_OK(IndexTflite(good).status());
  // The offset buffer's table: data slot +4, offset +8, size +16.
  const uint64_t table = lay.buffer_tables[1];
  std::string past = good;
  PutU32(&past, table + 16, 1000);
  Status s = IndexTflite(past).status();
  EXPECT_STATUS(s, ErrorCode::kCorrupt);
  EXPECT_NE(s.message().find("tflite buffer 1 range past end of file"), std::string::npos)
      << s.ToString();
  std::string both = good;
  PutU32(&both, lay.buffer_data[1], 1);  // the empty data vector now holds a byte
  s = IndexTflite(both).status();
  EXPECT_STATUS(s, ErrorCode::kCorrupt);
  EXPECT_NE(s.message().find("tflite buffer 1 has both inline data and an offset"),
            std::string::npos)
      << s.ToString();
}

TEST(TfliteCorruptTest, SharedSubgraphTablesCannotMultiplyTheWork) {
  TfliteBuilder b;
  for (int i = 0; i < 64; ++i) b.AddTensor("t" + std::to_string(i), 0, {1}, 0);
  for (int i = 0; i < 300; ++i) b.AddSubgraph();
  TfliteLayout lay;
  std::string f = b.Build(&lay);
  ASSERT_OK(IndexTflite(f).status());
  const uint64_t first = lay.subgraphs_vector + 4;
  const uint64_t target = first + GetU32(f, first);
  for (int i = 1; i <= 300; ++i) {
    const uint64_t slot = first + 4 * static_cast<uint64_t>(i);
    PutU32(&f, slot, static_cast<uint32_t>(target - slot));
  }
  // Every slot now points at subgraph 0's table (written after the vector: offsets stay forward).
  Status s = IndexTflite(f).status();
  EXPECT_STATUS(s, ErrorCode::kCorrupt);
  EXPECT_NE(s.message().find("more tensors than the file can hold"), std::string::npos)
      << s.ToString();
}

// --- Hostile files: tables and vectors shared so that a small file asks for a lot of work ---

TEST(TfliteHostileTest, SharedBufferTableIsRefused) {
  // Every buffer slot but 0 points at one Buffer table: before the check each tensor described
  // "its" buffer again, reading the whole shared shape each time.
  const std::string f = hostile::SharedShapeFile(1000, 1000, /*share_buffer_table=*/true);
  Status s = IndexTflite(f).status();
  EXPECT_STATUS(s, ErrorCode::kCorrupt);
  EXPECT_NE(s.message().find("tflite buffer 2 shares its Buffer table with an earlier buffer"),
            std::string::npos)
      << s.ToString();
}

TEST(TfliteHostileTest, LongSharedShapeIsOpaqueNotCopiedPerTensor) {
  // 1000 distinct buffers, 1000 tensors sharing one shape of 1000 ones: reading and keeping it
  // per tensor would be 10^6 dims from a 40 KB file. Longer than 16 dims: opaque bytes.
  const std::string f = hostile::SharedShapeFile(1000, 1000, /*share_buffer_table=*/false);
  Result<TensorIndex> r = IndexTflite(f);
  ASSERT_OK(r.status());
  ASSERT_EQ(r->tensors.size(), 1000u);
  uint64_t dims = 0, opaque = 0;
  for (const TensorInfo& t : r->tensors) {
    opaque += t.dtype == DType::kU8;
    dims += t.dims.size();
  }
  EXPECT_EQ(opaque, 1000u);
  EXPECT_EQ(dims, 1000u);
  // At the bound the shape is still read: 16 ones describe the 4-byte float.
  r = IndexTflite(hostile::SharedShapeFile(3, 16, false));
  ASSERT_OK(r.status());
  EXPECT_EQ(r->tensors[0].dtype, DType::kF32);
  EXPECT_EQ(r->tensors[0].dims.size(), 16u);
}

TEST(TfliteHostileTest, SlotsSharingOneEmptyBufferTableAreRefused) {
  // 4 bytes per slot, all at one empty Buffer table: each slot used to cost a full tensor record
  // (~40x the file in memory) and the file was accepted.
  Status s = IndexTflite(hostile::SharedEmptyBufferFile(10000)).status();
  EXPECT_STATUS(s, ErrorCode::kCorrupt);
  EXPECT_NE(s.message().find("tflite buffer 1 shares its Buffer table with an earlier buffer"),
            std::string::npos)
      << s.ToString();
}

TEST(TfliteHostileTest, SharedMetadataTableIsRefused) {
  const std::string f = hostile::SharedMetadataFile(1000, 16, /*share_table=*/true);
  Status s = IndexTflite(f).status();
  EXPECT_STATUS(s, ErrorCode::kCorrupt);
  EXPECT_NE(s.message().find("tflite metadata 1 shares its Metadata table with an earlier entry"),
            std::string::npos)
      << s.ToString();
}

TEST(TfliteHostileTest, LongMetadataValuesAreSummarisedUnread) {
  // 2000 entries naming one buffer of 100000 NULs: trimming the NULs per entry was 2*10^8 steps.
  // A value longer than the text limit plus padding is summarised by its size alone.
  const std::string f = hostile::SharedMetadataFile(2000, 100000, /*share_table=*/false);
  Result<TensorIndex> r = IndexTflite(f);
  ASSERT_OK(r.status());
  ASSERT_EQ(r->metadata.size(), 2001u);  // version, then the entries
  for (size_t i = 1; i < r->metadata.size(); ++i) {
    ASSERT_EQ(r->metadata[i].second, "<100000 bytes>") << i;
  }
  // Short padding is still trimmed.
  r = IndexTflite(hostile::SharedMetadataFile(2, 300, false));
  ASSERT_OK(r.status());
  EXPECT_EQ(r->metadata[1].second, "");
}

TEST(TfliteHostileTest, MetadataEntriesAreBoundedByTheFileSize) {
  // Distinct tables but one name shared by all: the text copied is charged against the file size.
  Status s = IndexTflite(hostile::SharedNameFile(500, 20000)).status();
  EXPECT_STATUS(s, ErrorCode::kCorrupt);
  EXPECT_NE(s.message().find("repeat more text than the file holds"), std::string::npos)
      << s.ToString();
}

TEST(TfliteCorruptTest, EveryTruncationAndByteFlipIsRefusedOrInRange) {
  const std::string file = oxide::testing::SampleTflite();
  for (size_t n = 0; n < file.size(); ++n) {
    Result<TensorIndex> r = IndexTflite(std::string_view(file).substr(0, n));
    ASSERT_STATUS(r.status(), ErrorCode::kCorrupt) << "prefix " << n;
  }
  for (size_t i = 0; i < file.size(); ++i) {
    for (int mask : {0x01, 0x80}) {
      std::string bad = file;
      bad[i] = static_cast<char>(static_cast<uint8_t>(bad[i]) ^ mask);
      Result<TensorIndex> r = IndexTflite(bad);
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
