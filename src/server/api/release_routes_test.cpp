// Signed releases on the server: PUT/GET .../release, PUT/GET /api/v1/keys, and the release in
// the heartbeat assignment.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/sha256.hpp"
#include "crypto/release.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"
#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server::api {
namespace {

constexpr int64_t kFarFuture = 4102444800;  // 2100-01-01

class ReleaseRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* k : {&a_, &b_}) {
      auto key = crypto::SigningKey::Generate();
      ASSERT_OK(key.status());
      *k = std::move(key).value();
    }
  }
  Response Call(Method m, const std::string& path, const std::string& body = "") {
    Request r;
    r.method = m;
    r.path = path;
    r.body = body;
    r.With("authorization", "Bearer " + env.admin_token);
    return env.router->Handle(r);
  }
  std::string Release(const std::string& model, const std::string& version,
                      const std::string& bytes, const crypto::SigningKey& key) {
    crypto::ReleaseMetadata m{model,        version, ToHex(Sha256::Of(bytes)),
                              bytes.size(), 1,       kFarFuture};
    auto e =
        crypto::SignEnvelope(crypto::kReleasePayloadType, crypto::EncodeReleaseMetadata(m), {key});
    EXPECT_OK(e.status());
    return crypto::EncodeEnvelope(*e);
  }
  std::string KeySet(uint64_t version, const crypto::SigningKey& key,
                     const std::vector<crypto::SigningKey>& signers) {
    crypto::KeySet k{version, 1, {{crypto::KeyId(key.public_key()), key.public_key()}}, kFarFuture};
    auto e = crypto::SignEnvelope(crypto::kKeysPayloadType, crypto::EncodeKeySet(k), signers);
    EXPECT_OK(e.status());
    return crypto::EncodeEnvelope(*e);
  }

  server::testing::TestEnv env;
  crypto::SigningKey a_ = *crypto::SigningKey::Generate(), b_ = a_;
};

TEST_F(ReleaseRoutesTest, PutChecksTheVersionAndGetServesIt) {
  env.Upload("m", "v1", "model bytes one");
  const std::string path = "/api/v1/models/m/versions/v1/release";
  EXPECT_EQ(Call(Method::kGet, path).status, 404);
  EXPECT_EQ(Call(Method::kPut, path, "{not json").status, 422);
  EXPECT_EQ(Call(Method::kPut, path, Release("m", "v1", "other bytes", a_)).status, 422)
      << "sha256/size differ from the stored version";
  EXPECT_EQ(Call(Method::kPut, path, Release("m", "v2", "model bytes one", a_)).status, 422)
      << "signed for another version";
  EXPECT_EQ(Call(Method::kPut, "/api/v1/models/m/versions/v9/release",
                 Release("m", "v9", "model bytes one", a_))
                .status,
            404);
  const std::string good = Release("m", "v1", "model bytes one", a_);
  auto put = Call(Method::kPut, path, good);
  EXPECT_EQ(put.status, 200) << put.body;
  auto got = Call(Method::kGet, path);
  ASSERT_EQ(got.status, 200);
  auto e = crypto::ParseEnvelope(got.body);
  ASSERT_OK(e.status());
  EXPECT_EQ(crypto::EncodeEnvelope(*e), good);
}

TEST_F(ReleaseRoutesTest, KeyChainAppendsOnlyVerifiedSuccessors) {
  auto empty = Call(Method::kGet, "/api/v1/keys");
  ASSERT_EQ(empty.status, 200);
  EXPECT_EQ(empty.body, R"({"key_sets":[]})");
  EXPECT_EQ(Call(Method::kPut, "/api/v1/keys", KeySet(1, a_, {b_})).status, 422)
      << "the first set must be self-signed";
  auto v2_first = Call(Method::kPut, "/api/v1/keys", KeySet(2, a_, {a_}));
  EXPECT_EQ(v2_first.status, 422) << "the chain starts at v1 (devices step from v1 one by one)";
  EXPECT_THAT(v2_first.body, ::testing::HasSubstr("must be v1"));
  EXPECT_EQ(Call(Method::kPut, "/api/v1/keys", KeySet(1, a_, {a_})).status, 201);
  EXPECT_EQ(Call(Method::kPut, "/api/v1/keys", KeySet(1, a_, {a_})).status, 422) << "not v2";
  EXPECT_EQ(Call(Method::kPut, "/api/v1/keys", KeySet(2, b_, {b_})).status, 422)
      << "v2 signed only by its own key";
  EXPECT_EQ(Call(Method::kPut, "/api/v1/keys", KeySet(2, b_, {a_, b_})).status, 201);
  auto chain = crypto::ParseKeyChain(Call(Method::kGet, "/api/v1/keys").body);
  ASSERT_OK(chain.status());
  EXPECT_EQ(chain->size(), 2u);

  // With a chain, a release must be signed by the current set (b), not the rotated-out key.
  env.Upload("m", "v1", "model bytes one");
  const std::string path = "/api/v1/models/m/versions/v1/release";
  EXPECT_EQ(Call(Method::kPut, path, Release("m", "v1", "model bytes one", a_)).status, 422);
  EXPECT_EQ(Call(Method::kPut, path, Release("m", "v1", "model bytes one", b_)).status, 200);
}

TEST_F(ReleaseRoutesTest, HeartbeatAssignmentCarriesTheRelease) {
  env.SeedFleet("f", 1);
  env.Upload("m", "v2", "v2");
  const std::string release = Release("m", "v2", "v2", a_);
  ASSERT_EQ(Call(Method::kPut, "/api/v1/models/m/versions/v2/release", release).status, 200);
  auto c = Call(Method::kPost, "/api/v1/campaigns",
                R"({"id":"c1","fleet_id":"f","model_id":"m","model_version":"v2"})");
  ASSERT_EQ(c.status / 100, 2) << c.body;
  auto beat = env.Beat("d0", {});
  ASSERT_TRUE(beat.assignment.has_value());
  EXPECT_EQ(beat.assignment->release, release);
}

}  // namespace
}  // namespace oxide::server::api
