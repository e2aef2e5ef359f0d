#include "crypto/key_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/file_util.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::crypto {
namespace {

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0);
  return st.st_mode & 07777;
}

TEST(KeyFile, GenerateWriteLoadRoundTrip) {
  testing::TempDir dir;
  auto key = EncryptionKey::Generate();
  ASSERT_TRUE(key.ok());
  ASSERT_OK(WriteKeyFile(dir.File("k"), *key, false));
  auto loaded = LoadKeyFile(dir.File("k"));
  ASSERT_OK(loaded.status());
  EXPECT_EQ(loaded->bytes(), key->bytes());
  EXPECT_EQ(loaded->IdHex(), key->IdHex());
  EXPECT_EQ(loaded->IdHex().size(), 16u);
}

TEST(KeyFile, GeneratedKeysDiffer) {
  auto a = EncryptionKey::Generate(), b = EncryptionKey::Generate();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->bytes(), b->bytes());
}

TEST(KeyFile, WrittenWithMode0600WhateverTheUmask) {
  testing::TempDir dir;
  mode_t old = ::umask(0);
  Status s = WriteKeyFile(dir.File("k"), *EncryptionKey::Generate(), false);
  ::umask(old);
  ASSERT_OK(s);
  EXPECT_EQ(ModeOf(dir.File("k")), 0600u);
}

TEST(KeyFile, RefusesToReplaceAnExistingFileUnlessAsked) {
  testing::TempDir dir;
  ASSERT_OK(AtomicWriteFile(dir.File("k"), "precious"));
  EXPECT_STATUS(WriteKeyFile(dir.File("k"), *EncryptionKey::Generate(), false),
                ErrorCode::kFailedPrecondition);
  EXPECT_EQ(*ReadFileToString(dir.File("k")), "precious");
  EXPECT_OK(WriteKeyFile(dir.File("k"), *EncryptionKey::Generate(), true));
}

// Without overwrite the key is put in place by link() (never replaces, unlike rename()); the
// temp name is gone afterwards and the key file is a single link.
TEST(KeyFile, NewKeyLeavesOnlyTheKeyFile) {
  testing::TempDir dir;
  ASSERT_OK(WriteKeyFile(dir.File("k"), *EncryptionKey::Generate(), false));
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    names.push_back(e.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"k"});
  struct stat st;
  ASSERT_EQ(::stat(dir.File("k").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_OK(LoadKeyFile(dir.File("k")).status());
}

TEST(KeyFile, RefusesGroupOrWorldAccessibleFiles) {
  testing::TempDir dir;
  ASSERT_OK(WriteKeyFile(dir.File("k"), *EncryptionKey::Generate(), false));
  for (mode_t mode : {0640, 0604, 0644, 0660, 0610, 0601}) {
    ASSERT_EQ(::chmod(dir.File("k").c_str(), mode), 0);
    auto loaded = LoadKeyFile(dir.File("k"));
    EXPECT_STATUS(loaded.status(), ErrorCode::kFailedPrecondition) << std::oct << mode;
    EXPECT_NE(loaded.status().message().find("chmod 600"), std::string::npos);
  }
  for (mode_t mode : {0600, 0400}) {
    ASSERT_EQ(::chmod(dir.File("k").c_str(), mode), 0);
    EXPECT_OK(LoadKeyFile(dir.File("k")).status()) << std::oct << mode;
  }
}

TEST(KeyFile, RefusesSymlinksDirectoriesAndMissingFiles) {
  testing::TempDir dir;
  ASSERT_OK(WriteKeyFile(dir.File("k"), *EncryptionKey::Generate(), false));
  ASSERT_EQ(::symlink(dir.File("k").c_str(), dir.File("link").c_str()), 0);
  EXPECT_STATUS(LoadKeyFile(dir.File("link")).status(), ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(LoadKeyFile(dir.File("missing")).status(), ErrorCode::kNotFound);
  ASSERT_EQ(::mkdir(dir.File("d").c_str(), 0700), 0);
  EXPECT_STATUS(LoadKeyFile(dir.File("d")).status(), ErrorCode::kFailedPrecondition);
}

TEST(KeyFile, ParseRejectsMalformedText) {
  std::array<uint8_t, kEncKeySize> bytes{};
  bytes[0] = 1;
  std::string good = FormatKeyFile(EncryptionKey(bytes));
  ASSERT_OK(ParseKeyFile(good).status());
  std::string no_newline = good.substr(0, good.size() - 1);
  EXPECT_OK(ParseKeyFile(no_newline).status());

  std::string wrong_id = good;
  wrong_id[wrong_id.find("id ") + 3] ^= 1;  // a hex digit changes to another hex digit
  std::vector<std::string> bad = {
      "",
      "oxide-encryption-key v2" + good.substr(good.find('\n')),
      good.substr(0, good.size() - 3) + "\n",    // key 1 byte short
      good.substr(0, good.size() - 2) + "zz\n",  // not hex
      good + "extra\n",
      wrong_id,
      std::string(64, 'a'),  // the reference's bare hex key
  };
  for (const std::string& text : bad) {
    EXPECT_STATUS(ParseKeyFile(text).status(), ErrorCode::kInvalidArgument) << text;
  }
}

}  // namespace
}  // namespace oxide::crypto
