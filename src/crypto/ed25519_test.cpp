#include "crypto/ed25519.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/file_util.hpp"
#include "base/sha256.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::crypto {
namespace {

TEST(Ed25519, SignVerify) {
  auto key = SigningKey::Generate();
  ASSERT_OK(key.status());
  auto sig = key->Sign("message");
  ASSERT_OK(sig.status());
  EXPECT_EQ(sig->size(), kSignatureSize);
  EXPECT_TRUE(Verify(key->public_key(), "message", *sig));
  EXPECT_FALSE(Verify(key->public_key(), "messagf", *sig));
  std::string flipped = *sig;
  flipped[10] ^= 1;
  EXPECT_FALSE(Verify(key->public_key(), "message", flipped));
  EXPECT_FALSE(Verify(key->public_key(), "message", sig->substr(0, 63)));
  auto other = SigningKey::Generate();
  ASSERT_OK(other.status());
  EXPECT_FALSE(Verify(other->public_key(), "message", *sig));
}

// RFC 8032 section 7.1, test 1 (empty message): fixes the key and signature encodings.
TEST(Ed25519, Rfc8032Vector) {
  const std::string pem =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
      "-----END PRIVATE KEY-----\n";
  auto key = SigningKey::FromPem(pem);
  ASSERT_OK(key.status());
  EXPECT_EQ(ToHex(key->public_key()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  auto sig = key->Sign("");
  ASSERT_OK(sig.status());
  Digest first, second;
  std::copy(sig->begin(), sig->begin() + 32, first.begin());
  std::copy(sig->begin() + 32, sig->end(), second.begin());
  EXPECT_EQ(ToHex(first) + ToHex(second),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
}

TEST(Ed25519, PemFileIsPrivateAndRoundTrips) {
  testing::TempDir dir;
  auto key = SigningKey::Generate();
  ASSERT_OK(key.status());
  const std::string path = dir.File("release.pem");
  ASSERT_OK(key->WritePemFile(path));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto back = SigningKey::ReadPemFile(path);
  ASSERT_OK(back.status());
  EXPECT_EQ(back->public_key(), key->public_key());
  auto pub = PublicKeyFromPem(PublicKeyToPem(key->public_key()));
  ASSERT_OK(pub.status());
  EXPECT_EQ(*pub, key->public_key());
  auto from_private = PublicKeyFromPem(key->ToPem());
  ASSERT_OK(from_private.status());
  EXPECT_EQ(*from_private, key->public_key());
}

TEST(Ed25519, RefusesOtherPem) {
  EXPECT_STATUS(SigningKey::FromPem("garbage").status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(
      PublicKeyFromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").status(),
      ErrorCode::kInvalidArgument);
}

TEST(Ed25519, KeyIdIsSha256OfRawKey) {
  PublicKey k{};
  EXPECT_EQ(KeyId(k), ToHex(Sha256::Of(k.data(), k.size())));
  EXPECT_EQ(KeyId(k).size(), 64u);
}

TEST(Ed25519, PaeMatchesDsse) {
  EXPECT_EQ(Pae("application/x", "hello"), "DSSEv1 13 application/x 5 hello");
  EXPECT_EQ(Pae("", ""), "DSSEv1 0  0 ");
}

}  // namespace
}  // namespace oxide::crypto
