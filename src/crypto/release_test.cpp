#include "crypto/release.hpp"

#include <gtest/gtest.h>

#include "crypto/base64.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::crypto {
namespace {

const std::string kHash(64, 'a');

ReleaseMetadata Sample() { return ReleaseMetadata{"resnet", "v2", kHash, 1234, 7, 1830297600}; }

TEST(ReleaseFormat, MetadataRoundTrip) {
  std::string text = EncodeReleaseMetadata(Sample());
  EXPECT_NE(text.find("\"expires\":\"2028-01-01T00:00:00Z\""), std::string::npos) << text;
  auto m = ParseReleaseMetadata(text);
  ASSERT_OK(m.status());
  EXPECT_EQ(m->model, "resnet");
  EXPECT_EQ(m->version, "v2");
  EXPECT_EQ(m->sha256, kHash);
  EXPECT_EQ(m->size, 1234u);
  EXPECT_EQ(m->counter, 7u);
  EXPECT_EQ(m->expires_unix, 1830297600);
}

TEST(ReleaseFormat, MetadataRefusesEveryBadField) {
  const std::string ok_tail = R"("size":1,"counter":1,"expires":"2030-01-01T00:00:00Z"})";
  const std::string h = "\"" + kHash + "\"";
  for (std::string bad : {
           std::string("[]"),
           std::string("{"),
           R"({"model":"m","version":"v","sha256":)" + h +
               R"(,"size":-1,"counter":1,"expires":"2030-01-01T00:00:00Z"})",
           R"({"model":"m","version":"v","sha256":)" + h +
               R"(,"size":1.5,"counter":1,"expires":"2030-01-01T00:00:00Z"})",
           R"({"model":"m","version":"v","sha256":)" + h +
               R"(,"size":1,"counter":"1","expires":"2030-01-01T00:00:00Z"})",
           R"({"model":"m","version":"v","sha256":)" + h +
               R"(,"size":1,"counter":1,"expires":"2030-01-01"})",
           R"({"model":"m","version":"v","sha256":)" + h +
               R"(,"size":1,"counter":1,"expires":"2030-02-30T00:00:00Z"})",
           R"({"model":"../x","version":"v","sha256":)" + h + "," + ok_tail,
           R"({"model":"m","version":"","sha256":)" + h + "," + ok_tail,
           R"({"model":"m","version":"v","sha256":"ABC",)" + ok_tail,
           R"({"model":"m","version":"v","sha256":")" + std::string(64, 'A') + "\"," + ok_tail,
           R"({"model":1,"version":"v","sha256":)" + h + "," + ok_tail,
           R"({"version":"v","sha256":)" + h + "," + ok_tail,
       }) {
    EXPECT_STATUS(ParseReleaseMetadata(bad).status(), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(ReleaseFormat, EnvelopeRoundTripAndChecks) {
  auto key = SigningKey::Generate();
  ASSERT_OK(key.status());
  auto e = SignEnvelope(kReleasePayloadType, EncodeReleaseMetadata(Sample()), {*key});
  ASSERT_OK(e.status());
  std::string text = EncodeEnvelope(*e);
  auto back = ParseEnvelope(text);
  ASSERT_OK(back.status());
  EXPECT_EQ(back->payload, e->payload);
  EXPECT_EQ(back->payload_type, kReleasePayloadType);
  ASSERT_EQ(back->signatures.size(), 1u);
  EXPECT_EQ(back->signatures[0].keyid, KeyId(key->public_key()));
  EXPECT_EQ(back->signatures[0].sig, e->signatures[0].sig);

  const std::string keyid = "\"" + KeyId(key->public_key()) + "\"";
  const std::string sig = "\"" + Base64Encode(std::string(64, 'x')) + "\"";
  for (std::string bad : {
           std::string(R"({"payload_type":"t","payload":"Zg==","signatures":{}})"),
           std::string(R"({"payload_type":"t","payload":"Zg=","signatures":[]})"),
           std::string(R"({"payload_type":1,"payload":"Zg==","signatures":[]})"),
           R"({"payload_type":"t","payload":"Zg==","signatures":[{"keyid":"abc","sig":)" + sig +
               "}]}",
           R"({"payload_type":"t","payload":"Zg==","signatures":[{"keyid":)" + keyid +
               R"(,"sig":"Zg=="}]})",
           std::string(R"({"payload_type":"t","payload":"Zg==","signatures":[7]})"),
           std::string(kMaxEnvelopeSize + 1, ' '),
       }) {
    EXPECT_STATUS(ParseEnvelope(bad).status(), ErrorCode::kInvalidArgument) << bad.substr(0, 200);
  }
}

TEST(ReleaseFormat, KeySetRoundTripAndChecks) {
  auto a = SigningKey::Generate();
  auto b = SigningKey::Generate();
  ASSERT_OK(a.status());
  ASSERT_OK(b.status());
  KeySet k{3,
           2,
           {{KeyId(a->public_key()), a->public_key()}, {KeyId(b->public_key()), b->public_key()}},
           1830297600};
  auto back = ParseKeySet(EncodeKeySet(k));
  ASSERT_OK(back.status());
  EXPECT_EQ(back->version, 3u);
  EXPECT_EQ(back->threshold, 2u);
  ASSERT_EQ(back->keys.size(), 2u);
  EXPECT_EQ(back->keys[1].public_key, b->public_key());
  EXPECT_NE(back->Find(KeyId(a->public_key())), nullptr);

  KeySet dup = k;
  dup.keys[1] = dup.keys[0];
  EXPECT_STATUS(ParseKeySet(EncodeKeySet(dup)).status(), ErrorCode::kInvalidArgument);
  KeySet wrong_id = k;
  wrong_id.keys[0].keyid = KeyId(b->public_key());
  EXPECT_STATUS(ParseKeySet(EncodeKeySet(wrong_id)).status(), ErrorCode::kInvalidArgument);
  KeySet threshold = k;
  threshold.threshold = 3;
  EXPECT_STATUS(ParseKeySet(EncodeKeySet(threshold)).status(), ErrorCode::kInvalidArgument);
  threshold.threshold = 0;
  EXPECT_STATUS(ParseKeySet(EncodeKeySet(threshold)).status(), ErrorCode::kInvalidArgument);
  KeySet none = k;
  none.keys.clear();
  EXPECT_STATUS(ParseKeySet(EncodeKeySet(none)).status(), ErrorCode::kInvalidArgument);
  KeySet zero = k;
  zero.version = 0;
  EXPECT_STATUS(ParseKeySet(EncodeKeySet(zero)).status(), ErrorCode::kInvalidArgument);
}

TEST(ReleaseFormat, KeyChainRoundTrip) {
  auto key = SigningKey::Generate();
  ASSERT_OK(key.status());
  auto e = SignEnvelope(kKeysPayloadType, "{}", {*key});
  ASSERT_OK(e.status());
  auto chain = ParseKeyChain(EncodeKeyChain({*e, *e}));
  ASSERT_OK(chain.status());
  EXPECT_EQ(chain->size(), 2u);
  EXPECT_STATUS(ParseKeyChain(R"({"key_sets":{}})").status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ParseKeyChain("[]").status(), ErrorCode::kInvalidArgument);
}

TEST(ReleaseFormat, UtcTime) {
  auto t = ParseUtcTime("1970-01-02T00:00:01Z");
  ASSERT_OK(t.status());
  EXPECT_EQ(*t, 86401);
  EXPECT_EQ(FormatUtcTime(86401), "1970-01-02T00:00:01Z");
  for (std::string_view bad : {"1970-01-02 00:00:01Z", "1970-01-02T00:00:01+00:00",
                               "1970-13-02T00:00:01Z", "1970-01-02T24:00:01Z", ""}) {
    EXPECT_STATUS(ParseUtcTime(bad).status(), ErrorCode::kInvalidArgument) << bad;
  }
}

// Civil-date arithmetic in 64 bits: past 2038 (where a 32-bit time_t ends) up to year 9999.
TEST(ReleaseFormat, UtcTimeBeyond2038AndLeapYears) {
  const std::pair<std::string_view, int64_t> cases[] = {
      {"2038-01-19T03:14:08Z", int64_t{1} << 31},  // one past the 32-bit time_t
      {"2100-03-01T00:00:00Z", 4107542400},       {"2400-02-29T12:00:00Z", 13574606400},
      {"9999-12-31T23:59:59Z", kMaxUtcTime},      {"0000-01-01T00:00:00Z", -62167219200},
  };
  for (const auto& [text, unix] : cases) {
    auto t = ParseUtcTime(text);
    ASSERT_OK(t.status()) << text;
    EXPECT_EQ(*t, unix) << text;
    EXPECT_EQ(FormatUtcTime(unix), text);
  }
  for (std::string_view bad :
       {"2100-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
        "2024-01-00T00:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:60Z"}) {
    EXPECT_STATUS(ParseUtcTime(bad).status(), ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_OK(ParseUtcTime("2024-02-29T23:59:59Z").status());
}

}  // namespace
}  // namespace oxide::crypto
