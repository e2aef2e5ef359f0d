// oxide keys generate|rotate and oxide release sign, through cli::Main.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "cli/cli_main.hpp"
#include "crypto/release.hpp"
#include "crypto/release_verify.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::cli {
namespace {

using ::testing::StartsWith;

class SignCli : public ::testing::Test {
 protected:
  int Run(std::vector<std::string> args) {
    args.insert(args.begin(), "oxide");
    return Main(args);
  }
  crypto::Envelope Envelope(const std::string& name) {
    auto text = ReadFileToString(dir.File(name));
    EXPECT_OK(text.status());
    auto e = crypto::ParseEnvelope(*text);
    EXPECT_OK(e.status());
    return *e;
  }
  testing::TempDir dir;
};

TEST_F(SignCli, GenerateSignAndVerify) {
  ASSERT_EQ(Run({"keys", "generate", "--out", dir.File("release")}), 0);
  struct stat st {};
  ASSERT_EQ(::stat(dir.File("release.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto root = crypto::VerifyRootKeySet(Envelope("release.keys.json"));
  ASSERT_OK(root.status());
  EXPECT_EQ(root->version, 1u);
  EXPECT_EQ(Run({"keys", "generate", "--out", dir.File("release")}), 1) << "never overwrites";

  ASSERT_OK(AtomicWriteFile(dir.File("model.bin"), std::string(100000, 'x')));
  ASSERT_EQ(Run({"release", "sign", dir.File("model.bin"), "--model", "m", "--version", "v1",
                 "--counter", "3", "--expires-in", "90d", "--key", dir.File("release.pem"), "-o",
                 dir.File("v1.release.json")}),
            0);
  auto m = crypto::VerifyRelease(Envelope("v1.release.json"), *root, "m", "v1", 3, 0);
  ASSERT_OK(m.status());
  EXPECT_EQ(m->sha256, ToHex(*Sha256File(dir.File("model.bin"))));
  EXPECT_EQ(m->size, 100000u);
  EXPECT_EQ(m->counter, 3u);
}

TEST_F(SignCli, SignRefusesBadInput) {
  ASSERT_EQ(Run({"keys", "generate", "--out", dir.File("k")}), 0);
  ASSERT_OK(AtomicWriteFile(dir.File("model.bin"), "abc"));
  auto sign = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {
        "release",         "sign", dir.File("model.bin"), "--model", "m",
        "--version",       "v1",   "--counter",           "1",       "--key",
        dir.File("k.pem"), "-o",   dir.File("out.json")};
    a.insert(a.end(), extra.begin(), extra.end());
    return Run(a);
  };
  EXPECT_EQ(sign({"--expires", "2001-01-01T00:00:00Z"}), 2) << "past expiry";
  EXPECT_EQ(sign({"--expires", "tomorrow"}), 2);
  EXPECT_EQ(sign({}), 2) << "no expiry";
  EXPECT_EQ(
      Run({"release", "sign", dir.File("nope"), "--model", "m", "--version", "v1", "--counter", "1",
           "--expires-in", "1d", "--key", dir.File("k.pem"), "-o", dir.File("out.json")}),
      3);
  EXPECT_EQ(sign({"--expires-in", "1d", "--model", "../x"}), 2);
  // Past 9999-12-31 the expiry has no YYYY spelling, and devices would refuse the release.
  EXPECT_EQ(sign({"--expires-in", "3000000d"}), 2) << "year > 9999";
  EXPECT_EQ(Run({"keys", "generate", "--out", dir.File("far"), "--expires-in", "3000000d"}), 2);
  EXPECT_EQ(sign({"--expires-in", "1d"}), 0);
}

TEST_F(SignCli, ReleaseSignWithRepeatedKeysMeetsAThresholdOfTwo) {
  ASSERT_EQ(Run({"keys", "generate", "--out", dir.File("k1")}), 0);
  ASSERT_EQ(Run({"keys", "generate", "--out", dir.File("k2")}), 0);
  ASSERT_EQ(Run({"keys", "rotate", "--keys", dir.File("k1.keys.json"), "--sign-with",
                 dir.File("k1.pem"), "--sign-with", dir.File("k2.pem"), "--add", dir.File("k2.pub"),
                 "--threshold", "2", "-o", dir.File("v2.keys.json")}),
            0);
  auto v1 = crypto::VerifyRootKeySet(Envelope("k1.keys.json"));
  ASSERT_OK(v1.status());
  auto v2 = crypto::VerifyKeySetUpdate(*v1, Envelope("v2.keys.json"));
  ASSERT_OK(v2.status());
  ASSERT_EQ(v2->threshold, 2u);
  ASSERT_OK(AtomicWriteFile(dir.File("model.bin"), "abc"));
  auto sign = [&](std::vector<std::string> keys, const std::string& out) {
    std::vector<std::string> a = {
        "release",   "sign", dir.File("model.bin"), "--model", "m",  "--version",  "v1",
        "--counter", "1",    "--expires-in",        "1d",      "-o", dir.File(out)};
    for (const auto& k : keys) {
      a.push_back("--key");
      a.push_back(dir.File(k));
    }
    return Run(a);
  };
  ASSERT_EQ(sign({"k1.pem"}, "one.json"), 0);
  EXPECT_THAT(crypto::VerifyRelease(Envelope("one.json"), *v2, "m", "v1", 0, 0).status().message(),
              StartsWith("bad signature"));
  ASSERT_EQ(sign({"k1.pem", "k2.pem"}, "two.json"), 0);
  EXPECT_EQ(Envelope("two.json").signatures.size(), 2u);
  EXPECT_OK(crypto::VerifyRelease(Envelope("two.json"), *v2, "m", "v1", 0, 0).status());
  EXPECT_EQ(sign({"k1.pem", "k1.pem"}, "dup.json"), 2) << "the same key twice";
}

TEST_F(SignCli, RotateNeedsOldAndNewKeys) {
  ASSERT_EQ(Run({"keys", "generate", "--out", dir.File("old")}), 0);
  ASSERT_EQ(Run({"keys", "generate", "--out", dir.File("new")}), 0);
  auto v1 = crypto::VerifyRootKeySet(Envelope("old.keys.json"));
  ASSERT_OK(v1.status());
  const std::string old_id = v1->keys[0].keyid;
  // Only the new key signs: refused before anything is written.
  EXPECT_EQ(Run({"keys", "rotate", "--keys", dir.File("old.keys.json"), "--sign-with",
                 dir.File("new.pem"), "--add", dir.File("new.pub"), "--remove", old_id, "-o",
                 dir.File("v2.keys.json")}),
            4);
  EXPECT_FALSE(ReadableFile::Open(dir.File("v2.keys.json")).ok());
  ASSERT_EQ(Run({"keys", "rotate", "--keys", dir.File("old.keys.json"), "--sign-with",
                 dir.File("old.pem"), "--sign-with", dir.File("new.pem"), "--add",
                 dir.File("new.pub"), "--remove", old_id, "-o", dir.File("v2.keys.json")}),
            0);
  auto v2 = crypto::VerifyKeySetUpdate(*v1, Envelope("v2.keys.json"));
  ASSERT_OK(v2.status());
  EXPECT_EQ(v2->version, 2u);
  ASSERT_EQ(v2->keys.size(), 1u);
  EXPECT_NE(v2->keys[0].keyid, old_id);
}

}  // namespace
}  // namespace oxide::cli
