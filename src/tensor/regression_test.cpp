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
#include "testing/onnx_builder.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::tensor {
namespace {

namespace fs = std::filesystem;
using oxide::testing::F32Bytes;
using oxide::testing::OnnxBuilder;
using oxide::testing::OnnxGraph;
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
    Status s = p.extension() == ".safetensors" ? IndexSafeTensors(*data).status()
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
  std::string past_end = SafetensorsBuilder::Assemble("{}", "");
  past_end[0] = 64;
  Write(reject / "tensor-st-header-past-end.safetensors", past_end);
}

}  // namespace
}  // namespace oxide::tensor
