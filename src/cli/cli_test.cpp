// The CLI as a function: arguments in, exit code out (Mender's cli::Main pattern).
#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "cli/cli_main.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::cli {
namespace {

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(AtomicWriteFile(dir.File("v1.onnx"), testing::SampleOnnxModel(1)));
    ASSERT_OK(AtomicWriteFile(dir.File("v2.onnx"), testing::SampleOnnxModel(1, 9)));
  }
  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "oxide");
    return Main(args);
  }
  testing::TempDir dir;
};

TEST_F(Cli, DiffThenPatchRebuildsTheTarget) {
  EXPECT_EQ(Run({"diff", dir.File("v1.onnx"), dir.File("v2.onnx"), "-o", dir.File("p")}), 0);
  EXPECT_EQ(Run({"patch", dir.File("v1.onnx"), dir.File("p"), "-o", dir.File("out")}), 0);
  EXPECT_EQ(*ReadFileToString(dir.File("out")), *ReadFileToString(dir.File("v2.onnx")));
  EXPECT_EQ(Run({"inspect", dir.File("p")}), 0);
  EXPECT_EQ(Run({"inspect", "--json", dir.File("v2.onnx")}), 0);
}

TEST_F(Cli, WrongBaseExitsWithFailedPrecondition) {
  ASSERT_EQ(Run({"diff", dir.File("v1.onnx"), dir.File("v2.onnx"), "-o", dir.File("p")}), 0);
  EXPECT_EQ(Run({"patch", dir.File("v2.onnx"), dir.File("p"), "-o", dir.File("out")}), 4);
  EXPECT_FALSE(ReadableFile::Open(dir.File("out")).ok()) << "no partial output";
}

TEST_F(Cli, CorruptPatchExitsWithCorrupt) {
  ASSERT_OK(AtomicWriteFile(dir.File("p"), "OXDL\x02 not really a patch"));
  EXPECT_EQ(Run({"patch", dir.File("v1.onnx"), dir.File("p"), "-o", dir.File("out")}), 5);
}

TEST_F(Cli, MissingFileExitsWithNotFound) {
  EXPECT_EQ(Run({"diff", dir.File("nope"), dir.File("v2.onnx"), "-o", dir.File("p")}), 3);
}

TEST_F(Cli, UsageErrorsExitNonZero) {
  EXPECT_NE(Run({"diff", dir.File("v1.onnx")}), 0);
  EXPECT_NE(Run({"frobnicate"}), 0);
  EXPECT_NE(Run({}), 0);
}

}  // namespace
}  // namespace oxide::cli
