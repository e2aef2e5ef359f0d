// Replays committed inputs (golden must-reject cases, fuzzer crashes and seeds) through the
// indexers, and regenerates the tensor seeds / must-reject files on request:
//   OXIDE_REGENERATE_TEST_DATA=1 oxide_tensor_test --gtest_filter='TestData.Regenerate'
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "base/file_util.hpp"
#include "tensor/tensor_index.hpp"
#include "tensor/tflite_hostile_files.hpp"
#include "testing/gguf_builder.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/packed_int4.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/tflite_builder.hpp"

namespace oxide::tensor {
namespace {

namespace fs = std::filesystem;
using oxide::testing::F32Bytes;
using oxide::testing::OnnxBuilder;
using oxide::testing::OnnxGraph;
using oxide::testing::PackInt4;
using oxide::testing::RandomInt4;
using oxide::testing::SafetensorsBuilder;

const fs::path kTests = fs::path(OXIDE_SOURCE_DIR) / "tests";

std::vector<fs::path> FilesUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec)) out.push_back(it->path());
  }
  return out;
}

bool Acceptable(const Status& s) {
  return s.ok() || s.code() == ErrorCode::kCorrupt || s.code() == ErrorCode::kUnsupported;
}

void ReplayEverywhere(const fs::path& path) {
  SCOPED_TRACE(path.string());
  Result<std::string> data = ReadFileToString(path.string());
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  const std::string& f = *data;
  EXPECT_TRUE(Acceptable(IndexOnnx(f).status()));
  EXPECT_TRUE(Acceptable(IndexSafeTensors(f).status()));
  EXPECT_TRUE(Acceptable(IndexGguf(f).status()));
  EXPECT_TRUE(Acceptable(IndexTflite(f).status()));
  EXPECT_TRUE(Acceptable(IndexModel(f, DetectFormat(f)).status()));
}

TEST(RegressionTest, GoldenMustRejectTensorCasesAreRejected) {
  int checked = 0;
  for (const fs::path& p : FilesUnder(kTests / "golden" / "must-reject")) {
    const std::string name = p.filename().string();
    if (name.rfind("tensor-", 0) != 0) continue;  // other modules' cases (patches, ...)
    SCOPED_TRACE(name);
    Result<std::string> data = ReadFileToString(p.string());
    ASSERT_TRUE(data.ok()) << data.status().ToString();
    const std::string ext = p.extension().string();
    Status s = ext == ".safetensors" ? IndexSafeTensors(*data).status()
               : ext == ".gguf"      ? IndexGguf(*data).status()
               : ext == ".tflite"    ? IndexTflite(*data).status()
                                     : IndexOnnx(*data).status();
    EXPECT_TRUE(s.code() == ErrorCode::kCorrupt || s.code() == ErrorCode::kUnsupported)
        << s.ToString();
    ++checked;
  }
  EXPECT_GT(checked, 0) << "no tensor-* files under " << kTests / "golden" / "must-reject";
}

TEST(RegressionTest, ReplayedInputsNeverCrash) {
  for (const fs::path& p : FilesUnder(kTests / "golden" / "must-reject")) ReplayEverywhere(p);
  // Seeds and crashes of every fuzzer, including fuzz_patch_apply's (cheap, and the indexers
  // must survive any bytes).
  for (const fs::path& p : FilesUnder(kTests / "fuzz")) ReplayEverywhere(p);
}

// --- Regeneration of the committed test data ---

std::string NestedLoops(int levels) {
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

void Write(const fs::path& path, const std::string& bytes) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  ASSERT_OK(AtomicWriteFile(path.string(), bytes));
}

// Seeds (small valid files, under the fuzzers' 16 KiB max_len) and must-reject cases for the
// GGUF and TFLite indexers.
void WriteGgufAndTflite(const fs::path& tests) {
  using oxide::testing::GgufBuilder;
  using oxide::testing::TfliteBuilder;
  const fs::path gguf_seeds = tests / "fuzz" / "fuzz_gguf_index";
  const fs::path tflite_seeds = tests / "fuzz" / "fuzz_tflite_index";
  const fs::path reject = tests / "golden" / "must-reject";
  for (uint32_t version : {2u, 3u}) {
    GgufBuilder b(version);
    b.AddString("general.architecture", "llama");
    b.AddU32("llama.context_length", 64);
    b.AddStringArray("tokenizer.ggml.tokens", {"<s>", "a"});
    b.AddRaw("nested", GgufBuilder::kTypeArray,
             GgufBuilder::U32(GgufBuilder::kTypeArray) + GgufBuilder::U64(1) + GgufBuilder::U32(0) +
                 GgufBuilder::U64(2) + "\x01\x02");
    b.AddTensor("w", GgufBuilder::kF32, {4, 2}, F32Bytes({1, 2, 3, 4, 5, 6, 7, 8}));
    b.AddTensor("h", GgufBuilder::kF16, {2}, std::string("\x00\x3c\x00\x40", 4));
    b.AddTensor("q", GgufBuilder::kQ4_0, {32}, std::string(18, '\x11'));
    Write(gguf_seeds / ("v" + std::to_string(version) + ".gguf"), b.Build());
  }
  GgufBuilder aligned;
  aligned.SetAlignment(64).AddTensor("x", GgufBuilder::kI8, {3}, "abc");
  Write(gguf_seeds / "aligned.gguf", aligned.Build());
  Write(tflite_seeds / "sample.tflite", oxide::testing::SampleTflite());
  TfliteBuilder big;
  big.AddTensor("w", TfliteBuilder::kFloat32, {2}, big.AddOffsetBuffer(F32Bytes({1, 2})));
  Write(tflite_seeds / "offset_buffer.tflite", big.Build());
  // Packed 4-bit tensors: INT4 (odd count), UINT4, and one whose shape does not match (opaque).
  TfliteBuilder int4;
  int4.AddTensor("q", TfliteBuilder::kInt4, {3, 5},
                 int4.AddBuffer(PackInt4(RandomInt4(15, 1, true))));
  int4.AddTensor("u", TfliteBuilder::kUInt4, {8},
                 int4.AddBuffer(PackInt4(RandomInt4(8, 2, false))));
  int4.AddTensor("bad", TfliteBuilder::kInt4, {9}, int4.AddBuffer("abc"));
  Write(tflite_seeds / "int4.tflite", int4.Build());

  std::string v1 = oxide::testing::SampleGguf(3);
  v1[4] = 1;
  Write(reject / "tensor-gguf-version1.gguf", v1);
  const std::string gguf = oxide::testing::SampleGguf(3);
  Write(reject / "tensor-gguf-truncated.gguf", gguf.substr(0, gguf.size() - 1));
  Write(reject / "tensor-gguf-huge-count.gguf",
        "GGUF" + GgufBuilder::U32(3) + GgufBuilder::U64(~uint64_t{0}) + GgufBuilder::U64(0));
  const std::string tflite = oxide::testing::SampleTflite();
  Write(reject / "tensor-tflite-truncated.tflite", tflite.substr(0, tflite.size() / 2));
  std::string self_loop = tflite;
  self_loop.replace(0, 4, std::string(4, '\0'));  // root offset 0: the table is the offset
  Write(reject / "tensor-tflite-self-offset.tflite", self_loop);

  // Hostile layouts (tflite_hostile_files.hpp, gguf lying count): accepted ones as seeds, the
  // refused ones as must-reject.
  Write(tflite_seeds / "hostile-long-shared-shape.tflite", hostile::SharedShapeFile(40, 40, false));
  Write(tflite_seeds / "hostile-shape-16-dims.tflite", hostile::SharedShapeFile(3, 16, false));
  Write(tflite_seeds / "hostile-metadata-nuls.tflite", hostile::SharedMetadataFile(50, 400, false));
  Write(reject / "tensor-tflite-shared-buffer-table.tflite",
        hostile::SharedShapeFile(100, 100, true));
  Write(reject / "tensor-tflite-shared-empty-buffer-table.tflite",
        hostile::SharedEmptyBufferFile(1000));
  Write(reject / "tensor-tflite-shared-metadata-table.tflite",
        hostile::SharedMetadataFile(100, 16, true));
  Write(reject / "tensor-tflite-shared-long-name.tflite", hostile::SharedNameFile(50, 2000));
  std::string lying = "GGUF" + GgufBuilder::U32(3) + GgufBuilder::U64(4096 / 24) +
                      GgufBuilder::U64(0) + GgufBuilder::U64(~uint64_t{0});
  lying.resize(lying.size() + 4096 - 8, '\0');
  Write(reject / "tensor-gguf-lying-tensor-count.gguf", lying);
}

TEST(TestData, Regenerate) {
  if (std::getenv("OXIDE_REGENERATE_TEST_DATA") == nullptr) {
    GTEST_SKIP() << "set OXIDE_REGENERATE_TEST_DATA=1 to rewrite tests/fuzz and must-reject";
  }
  const fs::path onnx_seeds = kTests / "fuzz" / "fuzz_onnx_index";
  const fs::path st_seeds = kTests / "fuzz" / "fuzz_safetensors_index";
  const fs::path reject = kTests / "golden" / "must-reject";

  Write(onnx_seeds / "sample.onnx", oxide::testing::SampleOnnxModel(1));
  OnnxBuilder tiny;
  tiny.AddInitializer("w", DType::kF32, {2}, F32Bytes({1.0f, 2.0f}));
  Write(onnx_seeds / "tiny.onnx", tiny.Build());
  Write(onnx_seeds / "nested.onnx", NestedLoops(3));
  // Packed 4-bit tensors: INT4 (odd count), UINT4, and one whose dims do not match (opaque).
  OnnxBuilder int4;
  int4.AddInitializer("q", DType::kI4, {3, 5}, PackInt4(RandomInt4(15, 1, true)));
  int4.AddInitializer("u", DType::kU4, {8}, PackInt4(RandomInt4(8, 2, false)));
  int4.AddInitializer("bad", DType::kI4, {9}, "abc");
  Write(onnx_seeds / "int4.onnx", int4.Build());

  Write(st_seeds / "sample.safetensors", oxide::testing::SampleSafetensors(1));
  Write(st_seeds / "empty.safetensors", SafetensorsBuilder::Assemble("{}      ", ""));

  const std::string sample = oxide::testing::SampleOnnxModel(1);
  Write(reject / "tensor-onnx-truncated.onnx", sample.substr(0, sample.size() / 2));
  Write(reject / "tensor-onnx-nesting-bomb.onnx", NestedLoops(100));
  OnnxBuilder dup;
  dup.AddInitializer("x", DType::kF32, {1}, F32Bytes({1.0f}));
  dup.AddInitializer("x", DType::kF32, {1}, F32Bytes({2.0f}));
  Write(reject / "tensor-onnx-duplicate-name.onnx", dup.Build());
  Write(reject / "tensor-onnx-varint-overflow.onnx",
        std::string("\x08\x08\x28", 3) + std::string(11, '\x80'));
  const std::string entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string data(16, '\0');
  Write(reject / "tensor-st-duplicate-key.safetensors",
        SafetensorsBuilder::Assemble("{" + entry + "," + entry + "}", data));
  Write(reject / "tensor-st-overlap.safetensors",
        SafetensorsBuilder::Assemble(
            "{" + entry + R"(,"u":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", data));
  Write(reject / "tensor-st-bad-dtype.safetensors",
        SafetensorsBuilder::Assemble(R"({"t":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}})",
                                     data));
  WriteGgufAndTflite(kTests);

  std::string past_end = SafetensorsBuilder::Assemble("{}", "");
  past_end[0] = 64;
  Write(reject / "tensor-st-header-past-end.safetensors", past_end);
}

}  // namespace
}  // namespace oxide::tensor
