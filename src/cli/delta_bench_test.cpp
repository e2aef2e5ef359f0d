// `oxide delta-bench` runs the real competitor tools (zstd, xdelta3, bsdiff/bspatch: installed by
// scripts/bootstrap) on a tiny generated pair. PATH is pointed at a directory of symlinks so a
// test can hide exactly one tool.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "base/file_util.hpp"
#include "cli/bench_process.hpp"
#include "cli/cli_main.hpp"
#include "cli/commands.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::cli {
namespace {

const std::vector<std::string> kTools = {"zstd", "xdelta3", "bsdiff", "bspatch"};

// Sets PATH for the test's lifetime and restores it after.
class ScopedPath {
 public:
  explicit ScopedPath(const std::string& path) {
    const char* old = std::getenv("PATH");
    had_ = old != nullptr;
    if (had_) old_ = old;
    ::setenv("PATH", path.c_str(), 1);
  }
  ~ScopedPath() {
    if (had_) {
      ::setenv("PATH", old_.c_str(), 1);
    } else {
      ::unsetenv("PATH");
    }
  }

 private:
  bool had_ = false;
  std::string old_;
};

class DeltaBench : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& t : kTools) {
      std::string real = FindOnPath(t);
      ASSERT_FALSE(real.empty()) << t << " is not installed; run scripts/bootstrap";
      real_[t] = real;
    }
    std::string pair = corpus.File("tiny-finetune");
    ASSERT_EQ(::mkdir(pair.c_str(), 0755), 0);
    std::string w = testing::RandomNormalF32(4096, /*seed=*/3);
    std::string w2 = testing::FineTuneF32(w, /*seed=*/4);
    std::string b = testing::RandomNormalF32(64, /*seed=*/5);
    testing::SafetensorsBuilder v1, v2;
    v1.AddTensor("fc.weight", tensor::DType::kF32, {64, 64}, w)
        .AddTensor("fc.bias", tensor::DType::kF32, {64}, b);
    v2.AddTensor("fc.weight", tensor::DType::kF32, {64, 64}, w2)
        .AddTensor("fc.bias", tensor::DType::kF32, {64}, b);
    ASSERT_OK(AtomicWriteFile(pair + "/v1.safetensors", v1.Build()));
    ASSERT_OK(AtomicWriteFile(pair + "/v2.safetensors", v2.Build()));
  }

  // A PATH directory holding symlinks to every competitor tool except `hidden`.
  std::string ToolDir(const std::string& hidden) {
    std::string dir = bin.File("bin-without-" + (hidden.empty() ? "none" : hidden));
    EXPECT_EQ(::mkdir(dir.c_str(), 0755), 0);
    for (const auto& [name, real] : real_) {
      if (name == hidden) continue;
      EXPECT_EQ(::symlink(real.c_str(), (dir + "/" + name).c_str()), 0) << name;
    }
    return dir;
  }

  // Runs RunDeltaBench with the report written to a file; returns the report.
  std::string Report(const DeltaBenchArgs& args_in, Status* status) {
    DeltaBenchArgs args = args_in;
    std::FILE* f = std::tmpfile();
    EXPECT_NE(f, nullptr);
    args.out = f;
    *status = RunDeltaBench(args);
    std::string text;
    std::rewind(f);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
    std::fclose(f);
    return text;
  }

  testing::TempDir corpus, bin;
  std::map<std::string, std::string> real_;
};

TEST_F(DeltaBench, AllCompetitorsInstalledRunsEveryOneAndVerifiesIt) {
  ScopedPath path(ToolDir(""));
  Status s;
  std::string report = Report({corpus.path()}, &s);
  ASSERT_OK(s) << report;
  for (const char* c : {"zstd-3", "zstd-19-long", "xdelta3-9", "xdelta3-9-djw", "bsdiff"}) {
    EXPECT_NE(report.find(c), std::string::npos) << c << "\n" << report;
  }
  EXPECT_NE(report.find("5 competitor runs verified"), std::string::npos) << report;
  EXPECT_EQ(report.find("missing"), std::string::npos) << report;
  EXPECT_EQ(report.find("FAILED"), std::string::npos) << report;
  EXPECT_EQ(report.find("ncomplete"), std::string::npos) << report;
  EXPECT_NE(report.find("geometric mean oxide/best-other over 1 real-training pairs"),
            std::string::npos)
      << report;
}

// Competitors run in a scratch directory: a corpus given relative to the caller's directory
// must still reach them (e.g. `oxide delta-bench ../corpus` from a build directory).
TEST_F(DeltaBench, RelativeCorpusPathWorks) {
  ScopedPath path(ToolDir(""));
  const std::filesystem::path old_cwd = std::filesystem::current_path();
  const std::filesystem::path corpus_path(corpus.path());
  std::filesystem::current_path(corpus_path.parent_path());
  Status s;
  std::string report = Report({corpus_path.filename().string()}, &s);
  std::filesystem::current_path(old_cwd);
  ASSERT_OK(s) << report;
  EXPECT_NE(report.find("5 competitor runs verified"), std::string::npos) << report;
}

TEST_F(DeltaBench, HiddenToolFailsTheRunAndNamesIt) {
  ScopedPath path(ToolDir("xdelta3"));
  Status s;
  std::string report = Report({corpus.path()}, &s);
  EXPECT_STATUS(s, ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("xdelta3"), std::string::npos) << s.ToString();
  EXPECT_EQ(report, "") << "no partial table is printed";
  // Through the command line: a non-zero exit code (kFailedPrecondition → 4).
  EXPECT_EQ(Main({"oxide", "delta-bench", corpus.path()}), 4);
}

TEST_F(DeltaBench, HiddenDecoderAloneAlsoFails) {
  ScopedPath path(ToolDir("bspatch"));
  Status s;
  Report({corpus.path()}, &s);
  EXPECT_STATUS(s, ErrorCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("bspatch"), std::string::npos) << s.ToString();
}

TEST_F(DeltaBench, AllowMissingRunsTheRestAndSaysIncomplete) {
  ScopedPath path(ToolDir("bsdiff"));
  DeltaBenchArgs args{corpus.path()};
  args.allow_missing = true;
  Status s;
  std::string report = Report(args, &s);
  ASSERT_OK(s) << report;
  EXPECT_NE(report.find("incomplete: missing tools: bsdiff"), std::string::npos) << report;
  EXPECT_NE(report.find("4 competitor runs verified"), std::string::npos) << report;
  EXPECT_NE(report.find("| missing |"), std::string::npos) << report;
  // The ratio line itself carries the caveat, so it cannot be quoted without it.
  size_t mean = report.find("geometric mean");
  ASSERT_NE(mean, std::string::npos) << report;
  EXPECT_NE(report.find("INCOMPLETE", mean), std::string::npos) << report;
  // The flag is registered on the command line too.
  EXPECT_EQ(Main({"oxide", "delta-bench", "--allow-missing", corpus.path()}), 0);
}

TEST_F(DeltaBench, BrokenCompetitorRunIsNotCountedAndFailsTheRun) {
  // A bspatch stand-in that fails: bsdiff's patch cannot be verified, so it must not count.
  std::string dir = ToolDir("bspatch");
  ASSERT_OK(AtomicWriteFile(dir + "/bspatch", "#!/bin/sh\necho 'bspatch: boom' >&2\nexit 3\n"));
  ASSERT_EQ(::chmod((dir + "/bspatch").c_str(), 0755), 0);
  ScopedPath path(dir);
  Status s;
  std::string report = Report({corpus.path()}, &s);
  EXPECT_STATUS(s, ErrorCode::kInternal);
  EXPECT_NE(report.find("| FAILED |"), std::string::npos) << report;
  EXPECT_NE(report.find("bsdiff: decoder exited 3 (bspatch: boom)"), std::string::npos) << report;
  EXPECT_NE(report.find("4 competitor runs verified"), std::string::npos) << report;
  EXPECT_NE(report.find("INCOMPLETE"), std::string::npos) << report;
}

// A generated-corpus pair (bench/corpus/generate.py) is named base/target; pair.json's "group"
// (else "scenario") groups it, and the summary gives a geometric mean per group and overall.
TEST_F(DeltaBench, GroupsPairsByPairJsonAndReportsAMeanPerGroup) {
  testing::TempDir grouped;
  auto add_pair = [&](const std::string& name, const char* v1, const char* v2, uint64_t seed,
                      const std::string& pair_json) {
    std::string dir = grouped.File(name);
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    std::string w = testing::RandomNormalF32(4096, seed);
    testing::SafetensorsBuilder base, target;
    base.AddTensor("w", tensor::DType::kF32, {64, 64}, w);
    target.AddTensor("w", tensor::DType::kF32, {64, 64}, testing::FineTuneF32(w, seed + 1));
    ASSERT_OK(AtomicWriteFile(dir + "/" + v1 + ".safetensors", base.Build()));
    ASSERT_OK(AtomicWriteFile(dir + "/" + v2 + ".safetensors", target.Build()));
    if (!pair_json.empty()) {
      ASSERT_OK(AtomicWriteFile(dir + "/pair.json", pair_json));
    }
  };
  add_pair("a-generated", "base", "target", 10, R"({"name":"a","group":"heads","scenario":"x"})");
  add_pair("b-generated", "base", "target", 20, R"({"group":"heads"})");
  add_pair("c-handmade", "v1", "v2", 30, R"({"scenario":"all-layers-sgd"})");
  add_pair("d-no-json", "base", "target", 40, "");
  add_pair("e-bad-json", "v1", "v2", 50, "{not json");
  // Neither naming: not a pair, skipped.
  ASSERT_EQ(::mkdir(grouped.File("f-not-a-pair").c_str(), 0755), 0);
  ASSERT_OK(AtomicWriteFile(grouped.File("f-not-a-pair/base.safetensors"), "x"));

  ScopedPath path(ToolDir(""));
  Status s;
  std::string report = Report({grouped.path()}, &s);
  ASSERT_OK(s) << report;
  EXPECT_NE(report.find("| a-generated | heads | safetensors |"), std::string::npos) << report;
  EXPECT_NE(report.find("| c-handmade | all-layers-sgd | safetensors |"), std::string::npos)
      << report;
  EXPECT_NE(report.find("| e-bad-json | - | safetensors |"), std::string::npos) << report;
  EXPECT_EQ(report.find("f-not-a-pair"), std::string::npos) << report;
  EXPECT_NE(report.find("25 competitor runs verified"), std::string::npos) << report;
  EXPECT_NE(report.find("| heads | 2 |"), std::string::npos) << report;
  EXPECT_NE(report.find("| - | 2 |"), std::string::npos) << report;
  EXPECT_NE(report.find("| overall | 5 |"), std::string::npos) << report;
  EXPECT_NE(report.find("geometric mean oxide/best-other over 5 real-training pairs"),
            std::string::npos)
      << report;
  // A group of one pair has exactly that pair's ratio (the column before "oxide enc s").
  size_t row = report.find("| c-handmade |");
  ASSERT_NE(row, std::string::npos);
  std::string line = report.substr(row, report.find('\n', row) - row);
  std::vector<std::string> cells;
  for (size_t at = 0; (at = line.find('|', at)) != std::string::npos; ++at) {
    size_t end = line.find('|', at + 1);
    if (end == std::string::npos) break;
    cells.push_back(line.substr(at + 2, end - at - 3));
  }
  ASSERT_GE(cells.size(), 4u) << line;
  const std::string ratio = cells[cells.size() - 3];
  EXPECT_NE(report.find("| all-layers-sgd | 1 | " + ratio + " |"), std::string::npos)
      << ratio << "\n"
      << report;
}

TEST(BenchProcess, RunsArgvWithoutAShellAndReportsTheExitStatus) {
  testing::TempDir dir;
  Result<ScratchDir> scratch = ScratchDir::Create("oxide-proc-test");
  ASSERT_OK(scratch.status());
  std::string err = scratch->File("stderr");
  // A file name with shell metacharacters reaches the tool as one argument.
  std::string odd = dir.File("a b;$(touch pwned)'\"");
  ASSERT_OK(AtomicWriteFile(odd, "hello"));
  Result<int> rc = RunProcess({"cp", odd, dir.File("copy")}, scratch->path(), err);
  ASSERT_OK(rc.status());
  EXPECT_EQ(*rc, 0);
  EXPECT_EQ(*ReadFileToString(dir.File("copy")), "hello");
  EXPECT_FALSE(ReadableFile::Open(scratch->File("pwned")).ok());
  rc = RunProcess({"false"}, scratch->path(), err);
  ASSERT_OK(rc.status());
  EXPECT_EQ(*rc, 1);
  EXPECT_STATUS(RunProcess({"oxide-no-such-tool"}, scratch->path(), err).status(),
                ErrorCode::kNotFound);
}

TEST(BenchProcess, ScratchDirIsPrivateAndRemoved) {
  std::string path;
  {
    Result<ScratchDir> a = ScratchDir::Create("oxide-proc-test");
    Result<ScratchDir> b = ScratchDir::Create("oxide-proc-test");
    ASSERT_OK(a.status());
    ASSERT_OK(b.status());
    EXPECT_NE(a->path(), b->path());
    struct stat st;
    ASSERT_EQ(::stat(a->path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    path = a->path();
  }
  struct stat st;
  EXPECT_NE(::stat(path.c_str(), &st), 0);
}

}  // namespace
}  // namespace oxide::cli
