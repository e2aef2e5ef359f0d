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

TEST_F(Cli, DiffThreadsDoNotChangeThePatch) {
  ASSERT_EQ(Run({"diff", dir.File("v1.onnx"), dir.File("v2.onnx"), "-o", dir.File("p1"),
                 "--threads", "1"}),
            0);
  ASSERT_EQ(Run({"diff", dir.File("v1.onnx"), dir.File("v2.onnx"), "-o", dir.File("p3"),
                 "--threads", "3"}),
            0);
  EXPECT_EQ(*ReadFileToString(dir.File("p1")), *ReadFileToString(dir.File("p3")));
  EXPECT_EQ(Run({"diff", dir.File("v1.onnx"), dir.File("v2.onnx"), "-o", dir.File("p"), "--threads",
                 "0"}),
            2)
      << "out of range";
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

// Usage errors exit 2 (README's table), never CLI11's own 105-109.
TEST_F(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(Run({"diff", dir.File("v1.onnx")}), 2) << "missing positional and -o";
  EXPECT_EQ(Run({"frobnicate"}), 2) << "unknown subcommand";
  EXPECT_EQ(Run({}), 2) << "no subcommand";
  EXPECT_EQ(Run({"inspect", "--bogus", dir.File("v1.onnx")}), 2) << "unknown flag";
  EXPECT_EQ(
      Run({"diff", dir.File("v1.onnx"), dir.File("v2.onnx"), "-o", dir.File("p"), "--level", "99"}),
      2)
      << "value out of range";
  EXPECT_EQ(Run({"inspect", "--log-level", "loud", dir.File("v1.onnx")}), 2) << "bad log level";
  EXPECT_EQ(Run({"help", "frobnicate"}), 2);
  EXPECT_EQ(Run({"help", "diff", "patch"}), 2);
}

class CliHelp : public Cli {
 protected:
  // Runs with two stand-in external commands and returns what was printed on stdout.
  std::string Help(std::vector<std::string> args, int want_exit = 0) {
    args.insert(args.begin(), "/usr/local/bin/oxide");
    std::vector<ExternalCommand> external = {
        {"serve", "Run the control plane", [this](const auto& a) { return Ran(a, 41); }},
        {"agent", "Run the device agent", [this](const auto& a) { return Ran(a, 42); }}};
    ::testing::internal::CaptureStdout();
    int rc = Main(args, external);
    std::string out = ::testing::internal::GetCapturedStdout();
    EXPECT_EQ(rc, want_exit) << out;
    return out;
  }
  int Ran(const std::vector<std::string>& args, int rc) {
    external_args = args;
    return rc;
  }
  std::vector<std::string> external_args;
};

TEST_F(CliHelp, ListsEveryCommandIncludingServeAndAgent) {
  for (auto args : std::vector<std::vector<std::string>>{{"--help"}, {"help"}}) {
    std::string out = Help(args);
    EXPECT_EQ(out.rfind("oxide: tensor-aware", 0), 0u) << out;
    EXPECT_NE(out.find("Usage: oxide [OPTIONS] SUBCOMMAND"), std::string::npos) << out;
    for (const char* cmd : {"diff", "patch", "inspect", "delta-bench", "serve", "agent"}) {
      EXPECT_NE(out.find(std::string("\n  ") + cmd + " "), std::string::npos) << cmd << "\n" << out;
    }
    EXPECT_NE(out.find("oxide help COMMAND"), std::string::npos) << out;
  }
}

TEST_F(CliHelp, EachCommandsUsageStartsWithOxideAndItsName) {
  for (const char* cmd : {"diff", "patch", "inspect", "info", "delta-bench"}) {
    std::string via_help = Help({"help", cmd});
    EXPECT_NE(via_help.find(std::string("Usage: oxide ") + cmd + " [OPTIONS]"), std::string::npos)
        << via_help;
    EXPECT_NE(via_help.find("--log-level"), std::string::npos) << via_help;
    EXPECT_NE(via_help.find("-v,--verbose"), std::string::npos) << via_help;
    EXPECT_EQ(Help({cmd, "--help"}), via_help);
  }
}

TEST_F(CliHelp, ExternalCommandsGetTheWholeCommandLine) {
  Help({"help", "serve"}, 41);
  EXPECT_EQ(external_args, (std::vector<std::string>{"/usr/local/bin/oxide", "serve", "--help"}));
  Help({"agent", "--once", "-v"}, 42);
  EXPECT_EQ(external_args,
            (std::vector<std::string>{"/usr/local/bin/oxide", "agent", "--once", "-v"}));
}

TEST_F(Cli, VerboseShowsDebugLinesOnStderr) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Run({"inspect", dir.File("v1.onnx")}), 0);
  std::string quiet = ::testing::internal::GetCapturedStderr();
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(Run({"inspect", "-v", dir.File("v1.onnx")}), 0);
  ::testing::internal::GetCapturedStdout();
  std::string verbose = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(quiet.find("running inspect"), std::string::npos) << quiet;
  EXPECT_NE(verbose.find("debug oxide: running inspect"), std::string::npos) << verbose;
  EXPECT_EQ(Run({"inspect", "-vv", "--log-level", "error", dir.File("v1.onnx")}), 0);
}

}  // namespace
}  // namespace oxide::cli
