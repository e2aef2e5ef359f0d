// Exact exit codes (README "Exit codes") and error lines of `oxide diff`, `patch` and `inspect`
// on bad input, using the committed golden and must-reject files where they fit.
#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "cli/cli_main.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::cli {
namespace {

const std::string kGolden = std::string(OXIDE_SOURCE_DIR) + "/tests/golden/";
const std::string kBase = kGolden + "patch-v2/base.onnx";
const std::string kReject = kGolden + "must-reject/";

class PatchCli : public ::testing::Test {
 protected:
  // Runs `oxide args...`; keeps what it printed to stderr in err_.
  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "oxide");
    ::testing::internal::CaptureStderr();
    int rc = Main(args);
    err_ = ::testing::internal::GetCapturedStderr();
    return rc;
  }
  int Patch(const std::string& base, const std::string& patch) {
    return Run({"patch", base, patch, "-o", dir_.File("out")});
  }
  bool OutputExists() const { return ReadableFile::Open(dir_.File("out")).ok(); }

  testing::TempDir dir_;
  std::string err_;
};

TEST_F(PatchCli, GoldenPatchesExitZero) {
  for (const char* p : {"tensor.oxd", "binary.oxd", "full.oxd"}) {
    EXPECT_EQ(Patch(kBase, kGolden + "patch-v2/" + p), 0) << p << ": " << err_;
  }
}

// A first install: `oxide diff EMPTY MODEL` treats the empty base as a model with no tensors,
// `oxide patch EMPTY PATCH` rebuilds the model byte for byte, and `--max-patch-version 2` keeps
// the patch readable by version-2 agents.
TEST_F(PatchCli, EmptyBaseDiffAndPatchRoundTrip) {
  const std::string model = oxide::testing::SampleOnnxModel(2);
  ASSERT_OK(AtomicWriteFile(dir_.File("empty"), ""));
  ASSERT_OK(AtomicWriteFile(dir_.File("model"), model));
  for (const char* version : {"3", "2"}) {
    ASSERT_EQ(Run({"diff", dir_.File("empty"), dir_.File("model"), "-o", dir_.File("p"),
                   "--max-patch-version", version}),
              0)
        << err_;
    auto patch = ReadFileToString(dir_.File("p"));
    ASSERT_OK(patch.status());
    if (std::string(version) == "2") {
      EXPECT_EQ((*patch)[4], 2);
    }
    ASSERT_EQ(Patch(dir_.File("empty"), dir_.File("p")), 0) << err_;
    auto out = ReadFileToString(dir_.File("out"));
    ASSERT_OK(out.status());
    EXPECT_TRUE(*out == model);
  }
}

TEST_F(PatchCli, WrongBaseExits4AndNamesTheBasesRealDigest) {
  auto base = ReadFileToString(kBase);
  ASSERT_OK(base.status());
  EXPECT_EQ(Patch(kBase, kReject + "patch-wrong-base.oxd"), 4);
  EXPECT_NE(err_.find("failed_precondition: base SHA-256 " + ToHex(Sha256::Of(*base))),
            std::string::npos)
      << err_;
  EXPECT_EQ(err_.find(ToHex(Sha256::Of(""))), std::string::npos) << "digest of empty input";
  EXPECT_FALSE(OutputExists());
}

TEST_F(PatchCli, CorruptPatchesExit5) {
  for (const char* p : {"patch-truncated-body.oxd", "patch-bad-header-check.oxd",
                        "patch-bad-zstd-checksum.oxd", "patch-trailing-garbage.oxd"}) {
    EXPECT_EQ(Patch(kBase, kReject + p), 5) << p << ": " << err_;
    EXPECT_EQ(err_.rfind("oxide: corrupt: ", 0), 0u) << err_;
    EXPECT_FALSE(OutputExists()) << p;
  }
}

TEST_F(PatchCli, UnsupportedPatchesExit6) {
  for (const char* p : {"patch-version-1.oxd", "patch-bad-record-tag.oxd"}) {
    EXPECT_EQ(Patch(kBase, kReject + p), 6) << p << ": " << err_;
  }
}

TEST_F(PatchCli, MissingFilesExit3) {
  EXPECT_EQ(Patch(kBase, dir_.File("no-such-patch")), 3) << err_;
  EXPECT_EQ(Patch(dir_.File("no-such-base"), kGolden + "patch-v2/tensor.oxd"), 3) << err_;
  EXPECT_EQ(Run({"diff", dir_.File("nope"), kBase, "-o", dir_.File("p")}), 3) << err_;
  EXPECT_EQ(Run({"diff", kBase, dir_.File("nope"), "-o", dir_.File("p")}), 3) << err_;
  EXPECT_EQ(Run({"inspect", dir_.File("nope")}), 3) << err_;
}

TEST_F(PatchCli, InspectExitsWithTheHeadersError) {
  EXPECT_EQ(Run({"inspect", kGolden + "patch-v2/tensor.oxd"}), 0) << err_;
  EXPECT_EQ(Run({"inspect", kReject + "patch-bad-header-check.oxd"}), 5) << err_;
  EXPECT_EQ(Run({"inspect", kReject + "patch-version-1.oxd"}), 6) << err_;
  EXPECT_EQ(Run({"inspect", kReject + "tensor-onnx-duplicate-name.onnx"}), 5) << err_;
  EXPECT_EQ(Run({"inspect", kReject + "tensor-st-overlap.safetensors"}), 5) << err_;
  EXPECT_EQ(Run({"inspect", kReject + "tensor-st-bad-dtype.safetensors"}), 6) << err_;
}

TEST_F(PatchCli, OutputInAMissingDirectoryExits3) {
  const std::string out = dir_.File("no-such-dir/out");
  EXPECT_EQ(Run({"patch", kBase, kGolden + "patch-v2/tensor.oxd", "-o", out}), 3) << err_;
  EXPECT_EQ(Run({"diff", kBase, kGolden + "patch-v2/target.onnx", "-o", out}), 3) << err_;
}

TEST_F(PatchCli, UnwritableOutputExits8) {
  ASSERT_OK(AtomicWriteFile(dir_.File("a-file"), "x"));
  const std::string out = dir_.File("a-file/out");  // ENOTDIR: an I/O error, not "not found"
  EXPECT_EQ(Run({"patch", kBase, kGolden + "patch-v2/tensor.oxd", "-o", out}), 8) << err_;
  EXPECT_EQ(Run({"diff", kBase, kGolden + "patch-v2/target.onnx", "-o", out}), 8) << err_;
}

}  // namespace
}  // namespace oxide::cli
