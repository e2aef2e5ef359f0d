// Committed patches must keep applying: a format change gets a new version, never an edit of
// these files. Regenerate only on purpose: OXIDE_REGEN_GOLDEN=1 oxide_delta_build_test
// --gtest_filter='Golden*' (writes tests/golden/patch-v2/).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "base/file_util.hpp"
#include "delta/build/patch_builder.hpp"
#include "delta/patch_applier.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::delta {
namespace {

const std::string kDir = std::string(OXIDE_SOURCE_DIR) + "/tests/golden/patch-v2";

struct Case {
  const char* name;
  Strategy strategy;
};
constexpr Case kCases[] = {
    {"tensor", Strategy::kTensor}, {"binary", Strategy::kBinary}, {"full", Strategy::kFull}};

TEST(Golden, RegenerateWhenAsked) {
  if (std::getenv("OXIDE_REGEN_GOLDEN") == nullptr) GTEST_SKIP() << "set OXIDE_REGEN_GOLDEN=1";
  std::filesystem::create_directories(kDir);
  std::string base = testing::SampleOnnxModel(1), target = testing::SampleOnnxModel(1, 3);
  ASSERT_OK(AtomicWriteFile(kDir + "/base.onnx", base));
  ASSERT_OK(AtomicWriteFile(kDir + "/target.onnx", target));
  for (const auto& c : kCases) {
    DiffOptions o;
    o.try_tensor = c.strategy == Strategy::kTensor;
    o.try_binary = c.strategy == Strategy::kBinary;
    o.try_full = c.strategy == Strategy::kFull;
    o.max_patch_version = 2;  // the committed patches are version 2
    auto d = BuildPatch(base, target, o);
    ASSERT_OK(d.status());
    ASSERT_OK(AtomicWriteFile(kDir + "/" + c.name + ".oxd", d->patch));
  }
  // SHA256SUMS, in `sha256sum` format (so `sha256sum -c SHA256SUMS` works in the directory).
  std::string sums;
  for (const char* f : {"base.onnx", "target.onnx", "tensor.oxd", "binary.oxd", "full.oxd"}) {
    sums += ToHex(Sha256::Of(*ReadFileToString(kDir + "/" + f))) + "  " + f + "\n";
  }
  ASSERT_OK(AtomicWriteFile(kDir + "/SHA256SUMS", sums));
}

TEST(Golden, CommittedFilesMatchTheirSha256Sums) {
  auto sums = ReadFileToString(kDir + "/SHA256SUMS");
  ASSERT_OK(sums.status());
  std::istringstream in(*sums);
  std::string hex, name;
  int files = 0;
  while (in >> hex >> name) {
    auto bytes = ReadFileToString(kDir + "/" + name);
    ASSERT_OK(bytes.status()) << name;
    EXPECT_EQ(ToHex(Sha256::Of(*bytes)), hex) << name << " changed: golden files are never edited";
    ++files;
  }
  EXPECT_EQ(files, 5);
}

TEST(Golden, CommittedPatchesStillApply) {
  for (const auto& c : kCases) {
    testing::TempDir tmp;
    auto st = ApplyPatchFile(kDir + "/base.onnx", kDir + "/" + c.name + ".oxd", tmp.File("out"));
    ASSERT_OK(st.status()) << c.name;
    EXPECT_EQ(st->header.strategy, c.strategy);
    EXPECT_EQ(*ReadFileToString(tmp.File("out")), *ReadFileToString(kDir + "/target.onnx"))
        << c.name;
  }
}

}  // namespace
}  // namespace oxide::delta
