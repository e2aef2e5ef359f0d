// Golden check routes (issue #11): PUT/GET/DELETE /api/v1/models/:id/versions/:ver/golden, the
// version JSON's "golden" object and the heartbeat assignment's golden_sha256/size.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "base/sha256.hpp"
#include "inference/golden.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"
#include "server/service/test_env.hpp"

namespace oxide::server::api {
namespace {

std::string GoldenBytes(float y, std::optional<double> budget = 25) {
  auto f32 = [](std::string name, float v) {
    inference::NamedTensor t;
    t.name = std::move(name);
    t.dims = {1};
    t.data.resize(4);
    std::memcpy(t.data.data(), &v, 4);
    return t;
  };
  inference::Golden g;
  g.inputs.tensors.push_back(f32("x", 1));
  g.outputs.tensors.push_back(f32("y", y));
  g.tolerance = 0.001;
  g.latency_budget_ms = budget;
  return *inference::SerializeGolden(g);
}

class GoldenRoutesTest : public ::testing::Test {
 protected:
  Response Call(Method m, const std::string& path, const std::string& body = "",
                const std::string& token = "") {
    Request r;
    r.method = m;
    r.path = path;
    r.body = body;
    r.With("authorization", "Bearer " + (token.empty() ? env.admin_token : token));
    return env.router->Handle(r);
  }
  Response AsDevice(Method m, const std::string& path, const std::string& device,
                    const std::string& secret) {
    Request r;
    r.method = m;
    r.path = path;
    server::testing::TestEnv::AddDeviceAuth(&r, device, secret);
    return env.router->Handle(r);
  }
  std::string Token(const std::string& role) {
    auto r = Call(Method::kPost, "/api/v1/tokens", Json{{"name", role}, {"role", role}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return Json::parse(r.body)["token"].get<std::string>();
  }
  static Json Body(const Response& r) { return Json::parse(r.body, nullptr, false); }
  static std::string Error(const Response& r) {
    Json j = Body(r);
    return j.contains("error") ? j["error"].value("message", "") : "";
  }

  server::testing::TestEnv env;
  const std::string golden_path = "/api/v1/models/m/versions/v1/golden";
};

TEST_F(GoldenRoutesTest, UploadShowsInTheVersionAndDownloadsAndRemoves) {
  env.Upload("m", "v1", "model version one");
  EXPECT_TRUE(Body(Call(Method::kGet, "/api/v1/models/m"))["versions"][0]["golden"].is_null());
  const std::string bytes = GoldenBytes(2);
  auto put = Call(Method::kPut, golden_path, bytes);
  ASSERT_EQ(put.status, 200) << put.body;
  const std::string sha = ToHex(Sha256::Of(bytes));
  EXPECT_EQ(Body(put)["sha256"], sha);
  Json v = Body(Call(Method::kGet, "/api/v1/models/m"))["versions"][0]["golden"];
  EXPECT_EQ(v["sha256"], sha);
  EXPECT_EQ(v["size_bytes"], bytes.size());
  EXPECT_EQ(v["tolerance"], 0.001);
  EXPECT_EQ(v["latency_budget_ms"], 25.0);
  EXPECT_EQ(Body(Call(Method::kGet, "/api/v1/models/m/versions/v1/meta"))["golden"]["sha256"], sha);
  auto got = Call(Method::kGet, golden_path);
  ASSERT_EQ(got.status, 200);
  ASSERT_TRUE(got.file.has_value());
  EXPECT_EQ(got.file->length, bytes.size());
  EXPECT_EQ(got.file->sha256, sha);
  // Garbage collection keeps the golden blob.
  ASSERT_TRUE(env.models->CollectGarbage(std::chrono::milliseconds(0)).ok());
  EXPECT_TRUE(env.blobs->Exists(sha));
  ASSERT_EQ(Call(Method::kDelete, golden_path).status, 200);
  EXPECT_TRUE(Body(Call(Method::kGet, "/api/v1/models/m"))["versions"][0]["golden"].is_null());
  EXPECT_EQ(Call(Method::kGet, golden_path).status, 404);
  EXPECT_EQ(Call(Method::kDelete, golden_path).status, 404);
}

TEST_F(GoldenRoutesTest, RefusesWhatIsNotAGoldenFile) {
  env.Upload("m", "v1", "model version one");
  auto junk = Call(Method::kPut, golden_path, "not a safetensors file");
  EXPECT_EQ(junk.status, 422);
  EXPECT_FALSE(Error(junk).empty());
  inference::TensorSet plain;  // valid SafeTensors, no golden marker
  plain.tensors.push_back(inference::NamedTensor{"input.x", tensor::DType::kF32, {1}, "abcd"});
  auto unmarked = Call(Method::kPut, golden_path, *inference::SerializeTensorSet(plain));
  EXPECT_EQ(unmarked.status, 422);
  EXPECT_EQ(Error(unmarked), "not a golden file: no \"oxide.golden\" metadata");
  EXPECT_TRUE(Body(Call(Method::kGet, "/api/v1/models/m"))["versions"][0]["golden"].is_null());
}

TEST_F(GoldenRoutesTest, MissingBlobIs503AndACorruptBlobIsRemovedWhenServed) {
  env.Upload("m", "v1", "model version one");
  const std::string bytes = GoldenBytes(2);
  ASSERT_EQ(Call(Method::kPut, golden_path, bytes).status, 200);
  const std::string sha = ToHex(Sha256::Of(bytes));
  // Same size, other bytes: only the hash of what is sent shows it; the net layer then calls
  // on_corrupt, which must remove the blob (else devices retry the same bad bytes forever).
  std::string bad = bytes;
  bad[bad.size() / 2] ^= 0x5a;
  {
    std::FILE* f = std::fopen(env.blobs->PathFor(sha).c_str(), "wb");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fwrite(bad.data(), 1, bad.size(), f), bad.size());
    std::fclose(f);
  }
  auto got = Call(Method::kGet, golden_path);
  ASSERT_EQ(got.status, 200);
  ASSERT_TRUE(got.on_corrupt != nullptr);
  got.on_corrupt();
  EXPECT_FALSE(env.blobs->Exists(sha));
  // Missing from disk: retryable like a model download, not "no golden file".
  auto missing = Call(Method::kGet, golden_path);
  EXPECT_EQ(missing.status, 503) << missing.body;
  EXPECT_FALSE(missing.file.has_value());
}

TEST_F(GoldenRoutesTest, UnknownVersionIs404) {
  env.Upload("m", "v1", "model version one");
  EXPECT_EQ(Call(Method::kPut, "/api/v1/models/m/versions/v9/golden", GoldenBytes(1)).status, 404);
  EXPECT_EQ(Call(Method::kGet, "/api/v1/models/m/versions/v9/golden").status, 404);
  EXPECT_EQ(Call(Method::kDelete, "/api/v1/models/m/versions/v9/golden").status, 404);
  EXPECT_EQ(Call(Method::kGet, "/api/v1/models/m/versions/v1/golden").status, 404);  // none yet
}

TEST_F(GoldenRoutesTest, BodyLimitIs64MiBWhateverTheModelLimit) {
  ApiLimits limits;
  limits.max_upload = uint64_t{4} << 30;
  ApiDeps deps{*env.devices, *env.fleets, *env.models, *env.campaigns, *env.heartbeats,
               *env.blobs,   env.metrics, limits,      *env.auth,      *env.authenticator};
  Router router(deps);
  Router::BodyPolicy golden = router.PolicyFor(Method::kPut, golden_path);
  EXPECT_TRUE(golden.upload);
  EXPECT_EQ(golden.max_bytes, ModelService::kMaxGoldenBytes);
  EXPECT_EQ(router.PolicyFor(Method::kPost, "/api/v1/models/m/versions/v1").max_bytes,
            limits.max_upload);
  // A lower server limit applies to golden files too.
  EXPECT_EQ(env.router->PolicyFor(Method::kPut, golden_path).max_bytes, 1024u * 1024u);
}

TEST_F(GoldenRoutesTest, ViewersAndDevicesMayNotWrite) {
  env.Upload("m", "v1", "model version one");
  const std::string viewer = Token("viewer");
  EXPECT_EQ(Call(Method::kPut, golden_path, GoldenBytes(1), viewer).status, 403);
  ASSERT_EQ(Call(Method::kPut, golden_path, GoldenBytes(1)).status, 200);
  EXPECT_EQ(Call(Method::kDelete, golden_path, "", viewer).status, 403);
  EXPECT_EQ(Call(Method::kGet, golden_path, "", viewer).status, 200);
  std::string s1 = env.EnrollDevice("d1");
  EXPECT_EQ(AsDevice(Method::kDelete, golden_path, "d1", s1).status, 403);
}

TEST_F(GoldenRoutesTest, DeviceReadsOnlyTheGoldenOfItsAssignmentAndHeartbeatNamesIt) {
  std::string s1 = env.EnrollDevice("d1");
  env.Upload("m", "v1", "model version one");
  env.Upload("m", "v2", "model version two");
  const std::string bytes = GoldenBytes(3);
  ASSERT_EQ(Call(Method::kPut, "/api/v1/models/m/versions/v2/golden", bytes).status, 200);
  ASSERT_EQ(Call(Method::kPut, golden_path, GoldenBytes(1)).status, 200);
  EXPECT_EQ(AsDevice(Method::kGet, "/api/v1/models/m/versions/v2/golden", "d1", s1).status, 403);
  ASSERT_EQ(Call(Method::kPost, "/api/v1/fleets", R"({"id":"f","name":"F"})").status, 201);
  ASSERT_EQ(Call(Method::kPost, "/api/v1/fleets/f/devices/d1").status, 200);
  ASSERT_EQ(
      Call(Method::kPost, "/api/v1/fleets/f/deploy", R"({"model_id":"m","model_version":"v2"})")
          .status,
      200);
  EXPECT_EQ(AsDevice(Method::kGet, "/api/v1/models/m/versions/v2/golden", "d1", s1).status, 200);
  EXPECT_EQ(AsDevice(Method::kGet, golden_path, "d1", s1).status, 403);
  auto beat = env.Beat("d1", protocol::HeartbeatRequest{});
  ASSERT_TRUE(beat.assignment.has_value());
  EXPECT_EQ(beat.assignment->golden_sha256, ToHex(Sha256::Of(bytes)));
  EXPECT_EQ(beat.assignment->golden_size, bytes.size());
}

}  // namespace
}  // namespace oxide::server::api
