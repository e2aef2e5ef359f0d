// Model routes: upload, listing, meta and the delta-aware download with Range/ETag.
#include <gtest/gtest.h>

#include <cerrno>

#include "protocol/patch_versions.hpp"
#include "server/api/errors.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"
#include "server/service/test_env.hpp"

namespace oxide::server::api {
namespace {

class ModelRoutesTest : public ::testing::Test {
 protected:
  Response Upload(const std::string& model, const std::string& version, const std::string& body) {
    Request r;
    r.method = Method::kPost;
    r.path = "/api/v1/models/" + model + "/versions/" + version;
    r.body = body;
    r.With("authorization", "Bearer " + env.admin_token);
    return env.router->Handle(r);
  }
  Response Download(const std::string& version,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    Request r;
    r.method = Method::kGet;
    r.path = "/api/v1/models/m/versions/" + version + "/download";
    r.headers = std::move(headers);
    r.With("authorization", "Bearer " + env.admin_token);
    return env.router->Handle(r);
  }
  Response Get(const std::string& path) {
    Request r;
    r.path = path;
    r.With("authorization", "Bearer " + env.admin_token);
    return env.router->Handle(r);
  }
  static Json Body(const Response& r) { return Json::parse(r.body, nullptr, false); }
  void TwoVersionsWithPatch() {
    v1 = Body(Upload("m", "v1", "first version of the model"));
    v2 = Body(Upload("m", "v2", "second version of the model"));
    // v1 -> v2, and each version from the empty base (first installs).
    ASSERT_TRUE(*env.worker->RunOnce());
    while (*env.worker->RunOnce()) {
    }
  }

  server::testing::TestEnv env;
  Json v1, v2;
};

TEST_F(ModelRoutesTest, UploadReturnsDigestAndRejectsOversizeAndBadIds) {
  auto r = Upload("m", "v1", "abc");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(Body(r)["sha256"], ToHex(Sha256::Of("abc")));
  EXPECT_EQ(Body(r)["size_bytes"], 3);
  EXPECT_EQ(Upload("m", "v2", std::string(2 * 1024 * 1024, 'x')).status, 413);
  EXPECT_EQ(Upload("m", "..", "abc").status, 422);
  EXPECT_EQ(Upload("m", "v3", "").status, 422);
}

TEST_F(ModelRoutesTest, ReuploadWithOtherBytesIsConflictAndIdenticalIsIdempotent) {
  auto first = Upload("m", "v1", "abc");
  EXPECT_EQ(first.status, 201);
  auto same = Upload("m", "v1", "abc");
  EXPECT_EQ(same.status, 200);
  EXPECT_EQ(Body(same)["sha256"], Body(first)["sha256"]);
  EXPECT_EQ(Body(same)["uploaded_at"], Body(first)["uploaded_at"]);
  auto other = Upload("m", "v1", "abd");
  EXPECT_EQ(other.status, 409);
  EXPECT_EQ(Body(other)["error"]["code"], "already_exists");
  EXPECT_EQ(env.models->GetVersion("m", "v1")->sha256, ToHex(Sha256::Of("abc")));
}

TEST_F(ModelRoutesTest, DiskFullIsInsufficientStorageAndOnlyLimitsAre413) {
  auto full = ErrorResponse(ErrnoError("write blob", ENOSPC));
  EXPECT_EQ(full.status, 507);
  EXPECT_EQ(Body(full)["error"]["code"], "insufficient_storage");
  auto limit = Upload("m", "v2", std::string(2 * 1024 * 1024, 'x'));
  EXPECT_EQ(limit.status, 413);
  EXPECT_EQ(Body(limit)["error"]["code"], "resource_exhausted");
}

TEST_F(ModelRoutesTest, HeadIsGetWithoutBodyOrAccounting) {
  TwoVersionsWithPatch();
  Request r;
  r.method = Method::kHead;
  r.path = "/api/v1/models/m/versions/v2/download";
  r.With("authorization", "Bearer " + env.admin_token);
  auto head = env.router->Handle(r);
  EXPECT_EQ(head.status, 200);
  ASSERT_TRUE(head.file.has_value());
  EXPECT_EQ(head.file->length, Body(Get("/api/v1/models/m/versions/v2/meta"))["size_bytes"]);
  EXPECT_FALSE(head.on_complete);
  EXPECT_EQ(env.metrics.patch_cache_hits() + env.metrics.patch_cache_misses(), 0u);
  r.path = "/health";
  EXPECT_EQ(env.router->Handle(r).status, 200);
}

TEST_F(ModelRoutesTest, ListingAndMeta) {
  TwoVersionsWithPatch();
  auto list = Body(Get("/api/v1/models"));
  EXPECT_EQ(list["models"][0]["model_id"], "m");
  EXPECT_EQ(list["models"][0]["latest_version"], "v2");
  EXPECT_EQ(Body(Get("/api/v1/models/m"))["versions"].size(), 2u);
  EXPECT_EQ(Get("/api/v1/models/zz").status, 404);
  auto meta = Body(Get("/api/v1/models/m/versions/v2/meta"));
  EXPECT_EQ(meta["sha256"], v2["sha256"]);
  // From the empty base (first installs; no base version), then from v1.
  ASSERT_EQ(meta["patches"].size(), 2u);
  EXPECT_EQ(meta["patches"][0]["base_sha256"], protocol::kEmptySha256);
  EXPECT_EQ(meta["patches"][0]["base_version"], nullptr);
  EXPECT_EQ(meta["patches"][1]["base_version"], "v1");
  EXPECT_EQ(meta["patches"][1]["state"], "ready");
  EXPECT_EQ(Get("/api/v1/models/m/versions/v9/meta").status, 404);
}

TEST_F(ModelRoutesTest, OldAgentGetsFullFile) {
  TwoVersionsWithPatch();
  auto r = Download("v2");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.Header("X-Oxide-SHA256"), v2["sha256"]);
  EXPECT_EQ(r.Header("ETag"), "\"" + v2["sha256"].get<std::string>() + "\"");
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.file->offset, 0u);
  EXPECT_EQ(r.file->length, 27u);
}

TEST_F(ModelRoutesTest, ExactBaseHashGetsPatchWithHeaders) {
  TwoVersionsWithPatch();
  auto r = Download("v2", {{"x-oxide-base-sha256", v1["sha256"]}, {"x-oxide-base-version", "v1"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "application/x-oxide-delta");
  EXPECT_EQ(r.Header("X-Oxide-Delta-Strategy"), "binary");
  EXPECT_EQ(r.Header("X-Oxide-Delta-Base"), "v1");
  EXPECT_EQ(r.Header("X-Oxide-Base-SHA256"), v1["sha256"]);
  EXPECT_EQ(r.Header("X-Oxide-Target-SHA256"), v2["sha256"]);
  EXPECT_EQ(r.Header("X-Oxide-Target-Size"), "27");
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.file->length, 10u);
}

TEST_F(ModelRoutesTest, RangeIfRangeAndIfNoneMatch) {
  TwoVersionsWithPatch();
  std::string etag = "\"" + v2["sha256"].get<std::string>() + "\"";
  auto part = Download("v2", {{"range", "bytes=10-"}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.Header("Content-Range"), "bytes 10-26/27");
  EXPECT_EQ(part.file->offset, 10u);
  EXPECT_EQ(part.file->length, 17u);
  EXPECT_EQ(Download("v2", {{"range", "bytes=27-"}}).status, 416);
  EXPECT_EQ(Download("v2", {{"range", "bytes=27-"}}).Header("Content-Range"), "bytes */27");
  EXPECT_EQ(Download("v2", {{"range", "bytes=0-1"}, {"if-range", etag}}).status, 206);
  EXPECT_EQ(Download("v2", {{"range", "bytes=0-1"}, {"if-range", "\"old\""}}).status, 200);
  auto cached = Download("v2", {{"if-none-match", etag}});
  EXPECT_EQ(cached.status, 304);
  EXPECT_FALSE(cached.file.has_value());
  EXPECT_EQ(Download("v2", {{"x-oxide-base-sha256", "nothex"}}).status, 400);
  EXPECT_EQ(Download("v9").status, 404);
}

TEST_F(ModelRoutesTest, CompletionCallbackAccountsBytesPerDeviceAndCampaign) {
  TwoVersionsWithPatch();
  env.SeedFleet("f", 1);
  auto c =
      env.campaigns->Create({"m", "v2", "f", store::CampaignStrategy::kAllAtOnce, {}, {}, {}, {}});
  ASSERT_TRUE(c.ok());
  // Booked to the device that downloads (its credential), not to a header.
  const std::string secret = env.EnrollDevice("d0");
  Request req;
  req.path = "/api/v1/models/m/versions/v2/download";
  req.With("x-oxide-base-sha256", v1["sha256"].get<std::string>());
  server::testing::TestEnv::AddDeviceAuth(&req, "d0", secret);
  auto r = env.router->Handle(req);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(r.on_complete);
  r.on_complete(10);  // the whole 10-byte patch stands in for the 27-byte target
  auto after = *env.campaigns->Get(c->campaign.id);
  EXPECT_EQ(after.campaign.bytes_served, 10u);
  EXPECT_EQ(after.campaign.bytes_full, 27u);
  EXPECT_EQ(env.devices->Get("d0")->device.bytes_served, 10u);
  EXPECT_EQ(env.metrics.bytes_served(), 10u);
}

// First install (issue #13): a client that declares its patch versions and has no base gets
// the target as a patch against the empty base; the accounting scales it to the full size.
TEST_F(ModelRoutesTest, DeclaredClientWithoutBaseGetsTheEmptyBasePatch) {
  TwoVersionsWithPatch();
  const std::string empty(protocol::kEmptySha256);
  auto r = Download("v2", {{"x-oxide-patch-versions", "2,3"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "application/x-oxide-delta");
  EXPECT_EQ(r.Header("X-Oxide-Base-SHA256"), empty);
  EXPECT_EQ(r.Header("X-Oxide-Target-SHA256"), v2["sha256"]);
  EXPECT_EQ(r.Header("Vary"), "X-Oxide-Base-SHA256, X-Oxide-Patch-Versions");
  ASSERT_TRUE(r.file.has_value());
  EXPECT_EQ(r.file->length, 10u);
  ASSERT_TRUE(r.on_complete);
  r.on_complete(10);
  EXPECT_EQ(env.metrics.bytes_served(), 10u);
  EXPECT_EQ(env.metrics.bytes_full_equivalent(), 27u);
  // Without the header (an old agent, curl): the model file, as before.
  auto old = Download("v2");
  EXPECT_EQ(old.Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(old.file->length, 27u);
  // The resume of the patch: same ETag, a range of it.
  auto part = Download(
      "v2",
      {{"x-oxide-patch-versions", "2,3"}, {"range", "bytes=4-"}, {"if-range", r.Header("ETag")}});
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.Header("Content-Range"), "bytes 4-9/10");
}

// A hit is a patch from the base the device sent; the empty-base patch standing in for a
// missing one is a miss, and a device without a base asks for nothing.
TEST_F(ModelRoutesTest, CacheHitsCountOnlyPatchesFromTheSentBase) {
  TwoVersionsWithPatch();
  const std::string v1_sha = v1["sha256"];
  auto first = Download("v2", {{"x-oxide-patch-versions", "2,3"}});
  EXPECT_EQ(first.Header("X-Oxide-Base-SHA256"), protocol::kEmptySha256);
  EXPECT_EQ(env.metrics.patch_cache_hits() + env.metrics.patch_cache_misses(), 0u);
  auto exact = Download("v2", {{"x-oxide-patch-versions", "2,3"}, {"x-oxide-base-sha256", v1_sha}});
  EXPECT_EQ(exact.Header("X-Oxide-Base-SHA256"), v1_sha);
  EXPECT_EQ(env.metrics.patch_cache_hits(), 1u);
  auto stranger = Download(
      "v2", {{"x-oxide-patch-versions", "2,3"}, {"x-oxide-base-sha256", std::string(64, 'e')}});
  EXPECT_EQ(stranger.Header("X-Oxide-Base-SHA256"), protocol::kEmptySha256);
  EXPECT_EQ(env.metrics.patch_cache_hits(), 1u);
  EXPECT_EQ(env.metrics.patch_cache_misses(), 1u);
}

TEST_F(ModelRoutesTest, MalformedPatchVersionsIsA400JsonError) {
  TwoVersionsWithPatch();
  auto r = Download("v2", {{"x-oxide-patch-versions", "2;3"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Body(r)["error"]["code"], "corrupt");
  EXPECT_NE(Body(r)["error"]["message"].get<std::string>().find("X-Oxide-Patch-Versions"),
            std::string::npos);
}

}  // namespace
}  // namespace oxide::server::api
