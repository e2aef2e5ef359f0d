#include "crypto/encrypted_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "base/file_util.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::crypto {
namespace {

class EncryptedFileTest : public ::testing::Test {
 protected:
  EncryptedFileTest() : key_(*EncryptionKey::Generate()) {
    std::mt19937 rng(1);
    plain_.resize(300000);
    for (char& c : plain_) c = static_cast<char>(rng());
    EXPECT_OK(AtomicWriteFile(dir_.File("m.onnx"), plain_));
  }

  // Entries in the directory: a failed run must leave no temp file behind.
  std::vector<std::string> Entries() {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path())) {
      names.push_back(e.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  testing::TempDir dir_;
  EncryptionKey key_;
  std::string plain_;
};

TEST_F(EncryptedFileTest, RoundTrip) {
  auto enc = EncryptFile(dir_.File("m.onnx"), dir_.File("m.enc"), key_, {});
  ASSERT_OK(enc.status());
  EXPECT_EQ(enc->input_bytes, plain_.size());
  EXPECT_EQ(enc->output_bytes, EncryptedSize(plain_.size(), kEncDefaultChunkSize));
  auto dec = DecryptFile(dir_.File("m.enc"), dir_.File("m.out"), key_, {});
  ASSERT_OK(dec.status());
  EXPECT_EQ(*ReadFileToString(dir_.File("m.out")), plain_);
}

TEST_F(EncryptedFileTest, RefusesExistingOutputUnlessOverwrite) {
  ASSERT_OK(AtomicWriteFile(dir_.File("m.enc"), "keep"));
  EXPECT_STATUS(EncryptFile(dir_.File("m.onnx"), dir_.File("m.enc"), key_, {}).status(),
                ErrorCode::kFailedPrecondition);
  EXPECT_EQ(*ReadFileToString(dir_.File("m.enc")), "keep");
  CryptFileOptions force;
  force.overwrite = true;
  EXPECT_OK(EncryptFile(dir_.File("m.onnx"), dir_.File("m.enc"), key_, force).status());
}

TEST_F(EncryptedFileTest, NeverOverwritesTheInputEvenWithForce) {
  CryptFileOptions force;
  force.overwrite = true;
  EXPECT_STATUS(EncryptFile(dir_.File("m.onnx"), dir_.File("m.onnx"), key_, force).status(),
                ErrorCode::kInvalidArgument);
  ASSERT_EQ(::symlink(dir_.File("m.onnx").c_str(), dir_.File("alias").c_str()), 0);
  EXPECT_STATUS(EncryptFile(dir_.File("m.onnx"), dir_.File("alias"), key_, force).status(),
                ErrorCode::kInvalidArgument);
  EXPECT_STATUS(DecryptFile(dir_.File("m.onnx"), dir_.File("alias"), key_, force).status(),
                ErrorCode::kInvalidArgument);
  EXPECT_EQ(*ReadFileToString(dir_.File("m.onnx")), plain_);
}

TEST_F(EncryptedFileTest, TamperedFileLeavesNoOutput) {
  ASSERT_OK(EncryptFile(dir_.File("m.onnx"), dir_.File("m.enc"), key_, {}).status());
  std::string sealed = *ReadFileToString(dir_.File("m.enc"));
  // Tampered in the last chunk: every chunk before it verified and was written to the temp file.
  sealed[sealed.size() - 1] ^= 1;
  ASSERT_OK(AtomicWriteFile(dir_.File("m.enc"), sealed));
  auto before = Entries();
  EXPECT_STATUS(DecryptFile(dir_.File("m.enc"), dir_.File("m.out"), key_, {}).status(),
                ErrorCode::kCorrupt);
  EXPECT_EQ(Entries(), before);  // no m.out, no temp file
}

TEST_F(EncryptedFileTest, FailedDecryptKeepsTheOldOutput) {
  ASSERT_OK(EncryptFile(dir_.File("m.onnx"), dir_.File("m.enc"), key_, {}).status());
  std::string sealed = *ReadFileToString(dir_.File("m.enc"));
  ASSERT_OK(AtomicWriteFile(dir_.File("m.enc"), sealed.substr(0, sealed.size() - 1)));
  ASSERT_OK(AtomicWriteFile(dir_.File("m.out"), "old"));
  CryptFileOptions force;
  force.overwrite = true;
  EXPECT_STATUS(DecryptFile(dir_.File("m.enc"), dir_.File("m.out"), key_, force).status(),
                ErrorCode::kCorrupt);
  EXPECT_EQ(*ReadFileToString(dir_.File("m.out")), "old");
}

TEST_F(EncryptedFileTest, WrongKeyAndPlainInputAreRefusedBeforeWriting) {
  ASSERT_OK(EncryptFile(dir_.File("m.onnx"), dir_.File("m.enc"), key_, {}).status());
  auto before = Entries();
  EXPECT_STATUS(
      DecryptFile(dir_.File("m.enc"), dir_.File("m.out"), *EncryptionKey::Generate(), {}).status(),
      ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(DecryptFile(dir_.File("m.onnx"), dir_.File("m.out"), key_, {}).status(),
                ErrorCode::kCorrupt);
  EXPECT_EQ(Entries(), before);
}

// The key id is compared before the output's temp file is created: where nothing can be created
// (a missing or read-only directory) a wrong key is still reported as a wrong key.
TEST_F(EncryptedFileTest, WrongKeyIsReportedBeforeTheOutputDirectoryIsTouched) {
  ASSERT_OK(EncryptFile(dir_.File("m.onnx"), dir_.File("m.enc"), key_, {}).status());
  auto other = EncryptionKey::Generate();
  ASSERT_OK(other.status());
  EXPECT_STATUS(
      DecryptFile(dir_.File("m.enc"), dir_.File("no-such-dir/m.out"), *other, {}).status(),
      ErrorCode::kFailedPrecondition);
  if (::geteuid() == 0) return;  // root writes into a read-only directory anyway
  ASSERT_EQ(::mkdir(dir_.File("ro").c_str(), 0555), 0);
  EXPECT_STATUS(DecryptFile(dir_.File("m.enc"), dir_.File("ro/m.out"), *other, {}).status(),
                ErrorCode::kFailedPrecondition);
}

TEST_F(EncryptedFileTest, MissingInput) {
  EXPECT_STATUS(EncryptFile(dir_.File("nope"), dir_.File("x"), key_, {}).status(),
                ErrorCode::kNotFound);
}

}  // namespace
}  // namespace oxide::crypto
