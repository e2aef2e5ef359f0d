#include "crypto/release_verify.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.hpp"

namespace oxide::crypto {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kNow = 1800000000;
constexpr int64_t kLater = kNow + 86400;

class ReleaseVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* k : {&a_, &b_, &c_}) {
      auto key = SigningKey::Generate();
      ASSERT_OK(key.status());
      *k = std::move(key).value();
    }
  }

  static KeySet SetOf(uint64_t version, const std::vector<SigningKey>& keys,
                      int64_t expires = kLater, uint32_t threshold = 1) {
    KeySet k{version, threshold, {}, expires};
    for (const SigningKey& s : keys) k.keys.push_back({KeyId(s.public_key()), s.public_key()});
    return k;
  }

  static Envelope SignedSet(const KeySet& k, const std::vector<SigningKey>& signers) {
    auto e = SignEnvelope(kKeysPayloadType, EncodeKeySet(k), signers);
    EXPECT_OK(e.status());
    return *e;
  }

  static Envelope Release(uint64_t counter, const std::vector<SigningKey>& signers,
                          int64_t expires = kLater, std::string model = "m",
                          std::string version = "v2") {
    ReleaseMetadata m{std::move(model), std::move(version), std::string(64, 'b'), 10, counter,
                      expires};
    auto e = SignEnvelope(kReleasePayloadType, EncodeReleaseMetadata(m), signers);
    EXPECT_OK(e.status());
    return *e;
  }

  static std::string Refusal(const Result<ReleaseMetadata>& r) { return r.status().message(); }

  SigningKey a_ = *SigningKey::Generate(), b_ = a_, c_ = a_;
};

TEST_F(ReleaseVerifyTest, AcceptsAValidRelease) {
  auto m = VerifyRelease(Release(5, {a_}), SetOf(1, {a_}), "m", "v2", 5, kNow);
  ASSERT_OK(m.status());
  EXPECT_EQ(m->counter, 5u);
  EXPECT_OK(VerifyAssignment(*m, std::string(64, 'b'), 10));
}

TEST_F(ReleaseVerifyTest, AnUnauthenticatedPayloadTypeReachesTheRefusalEscapedAndCapped) {
  // The type is checked before the signatures: whatever it holds is the sender's text, and it
  // ends up in logs and failure reports.
  Envelope e = Release(5, {a_});
  e.payload_type = "evil\n2026-11-30T00:00:00Z info fake line\x1b[31m" + std::string(300, 'x');
  const std::string refusal = Refusal(VerifyRelease(e, SetOf(1, {a_}), "m", "v2", 0, kNow));
  EXPECT_THAT(refusal, StartsWith("wrong type:"));
  EXPECT_EQ(refusal.find('\n'), std::string::npos) << refusal;
  EXPECT_EQ(refusal.find('\x1b'), std::string::npos) << refusal;
  EXPECT_THAT(refusal, HasSubstr("evil\\x0a"));
  EXPECT_LT(refusal.size(), 200u) << refusal;
}

TEST_F(ReleaseVerifyTest, RefusesEachReasonPrecisely) {
  const KeySet trusted = SetOf(1, {a_});
  EXPECT_THAT(Refusal(VerifyRelease(Release(5, {}), trusted, "m", "v2", 0, kNow)),
              StartsWith("unsigned:"));
  EXPECT_THAT(Refusal(VerifyRelease(Release(5, {b_}), trusted, "m", "v2", 0, kNow)),
              StartsWith("unknown key:"));
  Envelope tampered = Release(5, {a_});
  tampered.payload[tampered.payload.find("\"counter\":5") + 10] = '9';
  EXPECT_THAT(Refusal(VerifyRelease(tampered, trusted, "m", "v2", 0, kNow)),
              StartsWith("bad signature:"));
  Envelope retyped = Release(5, {a_});
  retyped.payload_type = std::string(kKeysPayloadType);
  EXPECT_THAT(Refusal(VerifyRelease(retyped, trusted, "m", "v2", 0, kNow)),
              StartsWith("wrong type:"));
  EXPECT_THAT(Refusal(VerifyRelease(Release(5, {a_}), trusted, "other", "v2", 0, kNow)),
              StartsWith("wrong model:"));
  EXPECT_THAT(Refusal(VerifyRelease(Release(5, {a_}), trusted, "m", "v3", 0, kNow)),
              StartsWith("wrong version:"));
  EXPECT_THAT(Refusal(VerifyRelease(Release(4, {a_}), trusted, "m", "v2", 5, kNow)),
              StartsWith("rollback:"));
  EXPECT_THAT(Refusal(VerifyRelease(Release(5, {a_}, kNow), trusted, "m", "v2", 0, kNow)),
              StartsWith("expired:"));
  EXPECT_THAT(Refusal(VerifyRelease(Release(5, {a_}), SetOf(1, {a_}, kNow), "m", "v2", 0, kNow)),
              AllOf(StartsWith("expired:"), HasSubstr("key set")));
  auto m = VerifyRelease(Release(5, {a_}), trusted, "m", "v2", 0, kNow);
  ASSERT_OK(m.status());
  EXPECT_THAT(VerifyAssignment(*m, std::string(64, 'c'), 10).message(),
              StartsWith("hash mismatch:"));
  EXPECT_THAT(VerifyAssignment(*m, std::string(64, 'b'), 11).message(),
              StartsWith("size mismatch:"));
}

TEST_F(ReleaseVerifyTest, ThresholdCountsDistinctValidKeys) {
  const KeySet two = SetOf(1, {a_, b_}, kLater, 2);
  Envelope once = Release(1, {a_});
  EXPECT_THAT(Refusal(VerifyRelease(once, two, "m", "v2", 0, kNow)), StartsWith("bad signature:"));
  Envelope twice = Release(1, {a_, a_});  // the same key twice is one key
  EXPECT_THAT(Refusal(VerifyRelease(twice, two, "m", "v2", 0, kNow)), StartsWith("bad signature:"));
  EXPECT_OK(VerifyRelease(Release(1, {a_, b_}), two, "m", "v2", 0, kNow).status());
}

TEST_F(ReleaseVerifyTest, RootKeySetMustBeSelfSigned) {
  KeySet v1 = SetOf(1, {a_});
  EXPECT_OK(VerifyRootKeySet(SignedSet(v1, {a_})).status());
  EXPECT_THAT(VerifyRootKeySet(SignedSet(v1, {b_})).status().message(), StartsWith("unknown key:"));
}

TEST_F(ReleaseVerifyTest, RotationNeedsOldAndNewKeys) {
  KeySet v1 = SetOf(1, {a_});
  KeySet v2 = SetOf(2, {b_});
  auto next = VerifyKeySetUpdate(v1, SignedSet(v2, {a_, b_}));
  ASSERT_OK(next.status());
  EXPECT_EQ(next->version, 2u);
  // Only the new key: a server holding a key of its own cannot install it.
  EXPECT_THAT(VerifyKeySetUpdate(v1, SignedSet(v2, {b_})).status().message(),
              StartsWith("unknown key:"));
  // Only the old key: the new key set must prove its keys are held.
  EXPECT_THAT(VerifyKeySetUpdate(v1, SignedSet(v2, {a_})).status().message(),
              StartsWith("unknown key:"));
  // Never down, never skipping.
  EXPECT_THAT(VerifyKeySetUpdate(v1, SignedSet(SetOf(1, {a_}), {a_})).status().message(),
              StartsWith("wrong version:"));
  EXPECT_THAT(VerifyKeySetUpdate(v1, SignedSet(SetOf(3, {a_}), {a_})).status().message(),
              StartsWith("wrong version:"));
  // An expired current set still rotates to a fresh one.
  KeySet old = SetOf(1, {a_}, kNow - 1);
  EXPECT_OK(VerifyKeySetUpdate(old, SignedSet(v2, {a_, b_})).status());
  // The rotated-to key signs releases; the old key no longer does.
  EXPECT_OK(VerifyRelease(Release(1, {b_}), *next, "m", "v2", 0, kNow).status());
  EXPECT_THAT(Refusal(VerifyRelease(Release(1, {a_}), *next, "m", "v2", 0, kNow)),
              StartsWith("unknown key:"));
}

}  // namespace
}  // namespace oxide::crypto
