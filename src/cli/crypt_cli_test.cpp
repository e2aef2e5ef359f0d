// oxide encrypt / decrypt / enc-key: exit codes and refusals through cli::Main.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/file_util.hpp"
#include "cli/cli_main.hpp"
#include "crypto/encrypted_format.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::cli {
namespace {

class CryptCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(AtomicWriteFile(dir.File("m.onnx"), std::string(200000, 'm') + "end"));
    ASSERT_EQ(Run({"enc-key", "generate", "-o", dir.File("k")}), 0);
  }
  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "oxide");
    return Main(args);
  }
  std::string Read(const std::string& name) { return *ReadFileToString(dir.File(name)); }
  bool Exists(const std::string& name) { return ReadableFile::Open(dir.File(name)).ok(); }
  testing::TempDir dir;
};

TEST_F(CryptCli, RoundTripWithDefaultNames) {
  ASSERT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k")}), 0);
  ASSERT_TRUE(Exists("m.onnx.enc"));
  ASSERT_EQ(::rename(dir.File("m.onnx").c_str(), dir.File("orig").c_str()), 0);
  ASSERT_EQ(Run({"decrypt", dir.File("m.onnx.enc"), "--key", dir.File("k")}), 0);
  EXPECT_EQ(Read("m.onnx"), Read("orig"));
}

TEST_F(CryptCli, ChunkSizeOption) {
  ASSERT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k"), "--chunk-size", "4096",
                 "-o", dir.File("e")}),
            0);
  ASSERT_EQ(Run({"decrypt", dir.File("e"), "--key", dir.File("k"), "-o", dir.File("d")}), 0);
  EXPECT_EQ(Read("d"), Read("m.onnx"));
  EXPECT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k"), "--chunk-size", "1", "-o",
                 dir.File("e2")}),
            2);
  EXPECT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k"), "--chunk-size", "0", "-o",
                 dir.File("e3")}),
            2)
      << "0 is not a chunk size (it used to mean the default)";
  EXPECT_FALSE(Exists("e3"));
}

TEST_F(CryptCli, RefusesToOverwriteUnlessForced) {
  ASSERT_OK(AtomicWriteFile(dir.File("m.onnx.enc"), "keep"));
  EXPECT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k")}), 4);
  EXPECT_EQ(Read("m.onnx.enc"), "keep");
  EXPECT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k"), "--force"}), 0);
  // Decrypting next to the original would replace it: refused without --force.
  EXPECT_EQ(Run({"decrypt", dir.File("m.onnx.enc"), "--key", dir.File("k")}), 4);
  EXPECT_EQ(Run({"enc-key", "generate", "-o", dir.File("k")}), 4) << "a key is never replaced";
}

TEST_F(CryptCli, NeverOverwritesTheInput) {
  EXPECT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k"), "-o", dir.File("m.onnx"),
                 "--force"}),
            2);
  EXPECT_EQ(Read("m.onnx"), std::string(200000, 'm') + "end");
}

TEST_F(CryptCli, TamperedInputExitsCorruptAndWritesNothing) {
  ASSERT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k"), "-o", dir.File("e")}), 0);
  std::string sealed = Read("e");
  sealed[sealed.size() / 2] ^= 0x40;
  ASSERT_OK(AtomicWriteFile(dir.File("e"), sealed));
  EXPECT_EQ(Run({"decrypt", dir.File("e"), "--key", dir.File("k"), "-o", dir.File("d")}), 5);
  EXPECT_FALSE(Exists("d"));
  ASSERT_OK(AtomicWriteFile(dir.File("e"), sealed.substr(0, crypto::kEncHeaderSize)));
  EXPECT_EQ(Run({"decrypt", dir.File("e"), "--key", dir.File("k"), "-o", dir.File("d")}), 5);
  EXPECT_EQ(Run({"decrypt", dir.File("m.onnx"), "--key", dir.File("k"), "-o", dir.File("d")}), 5)
      << "a plain file is not an encrypted one";
  EXPECT_FALSE(Exists("d"));
}

TEST_F(CryptCli, WrongKeyExitsFailedPrecondition) {
  ASSERT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k"), "-o", dir.File("e")}), 0);
  ASSERT_EQ(Run({"enc-key", "generate", "-o", dir.File("k2")}), 0);
  EXPECT_EQ(Run({"decrypt", dir.File("e"), "--key", dir.File("k2"), "-o", dir.File("d")}), 4);
  EXPECT_FALSE(Exists("d"));
}

TEST_F(CryptCli, KeyFileProblems) {
  struct stat st {};
  ASSERT_EQ(::stat(dir.File("k").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::chmod(dir.File("k").c_str(), 0644), 0);
  EXPECT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k")}), 4);
  EXPECT_FALSE(Exists("m.onnx.enc"));
  EXPECT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("nokey")}), 3);
  EXPECT_EQ(Run({"encrypt", dir.File("m.onnx")}), 2) << "--key is required";
}

TEST_F(CryptCli, DecryptNeedsOutputWhenNoEncSuffix) {
  ASSERT_EQ(Run({"encrypt", dir.File("m.onnx"), "--key", dir.File("k"), "-o", dir.File("e")}), 0);
  EXPECT_EQ(Run({"decrypt", dir.File("e"), "--key", dir.File("k")}), 2);
}

}  // namespace
}  // namespace oxide::cli
