// The dashboard's routes through the Router (public access, types, ETag/304, headers, 404) and
// the embedded files against web/ in the source tree (a missing CMake dependency leaves a
// stale copy in the binary, which fails EmbeddedFilesAreExactlyTheWebDirectory).
#include "server/api/web_routes.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "base/sha256.hpp"
#include "server/api/internal/json_util.hpp"
#include "server/service/test_env.hpp"
#include "server/web/web_assets.hpp"

namespace oxide::server::api {
namespace {

class WebRoutesTest : public ::testing::Test {
 protected:
  // No Authorization header: the dashboard's files are public.
  Response Get(const std::string& path, const std::string& if_none_match = "",
               Method m = Method::kGet) {
    Request r;
    r.method = m;
    r.path = path;
    if (!if_none_match.empty()) r.With("if-none-match", if_none_match);
    return env.router->Handle(r);
  }
  server::testing::TestEnv env;
};

void ExpectSecurityHeaders(const Response& r) {
  std::string csp = r.Header("Content-Security-Policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(r.Header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(r.Header("X-Frame-Options"), "DENY");
  EXPECT_EQ(r.Header("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(r.Header("Cache-Control"), "no-cache");
}

TEST_F(WebRoutesTest, RootServesTheIndexPageWithoutAToken) {
  Response r = Get("/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("<script type=\"module\" src=\"/assets/app.js\">"), std::string::npos);
  ExpectSecurityHeaders(r);
}

TEST_F(WebRoutesTest, AssetsCarryTheTypeOfTheirExtension) {
  EXPECT_EQ(Get("/assets/app.js").Header("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(Get("/assets/style.css").Header("Content-Type"), "text/css; charset=utf-8");
  EXPECT_EQ(Get("/assets/index.html").Header("Content-Type"), "text/html; charset=utf-8");
}

TEST_F(WebRoutesTest, ETagIsTheQuotedSha256OfTheBody) {
  for (const char* path : {"/", "/assets/app.js", "/assets/style.css"}) {
    Response r = Get(path);
    ASSERT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.Header("ETag"), "\"" + ToHex(Sha256::Of(r.body)) + "\"") << path;
  }
}

TEST_F(WebRoutesTest, MatchingIfNoneMatchIs304WithoutBody) {
  std::string etag = Get("/assets/app.js").Header("ETag");
  for (const std::string& inm : {etag, "\"other\", " + etag, "W/" + etag, std::string("*")}) {
    Response r = Get("/assets/app.js", inm);
    EXPECT_EQ(r.status, 304) << inm;
    EXPECT_TRUE(r.body.empty());
    EXPECT_EQ(r.Header("ETag"), etag);
    ExpectSecurityHeaders(r);
  }
  Response stale = Get("/assets/app.js", "\"0000\"");
  EXPECT_EQ(stale.status, 200);
  EXPECT_FALSE(stale.body.empty());
}

TEST_F(WebRoutesTest, HeadHasTheHeadersOfGet) {
  Response r = Get("/assets/style.css", "", Method::kHead);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("Content-Type"), "text/css; charset=utf-8");
  ExpectSecurityHeaders(r);
}

TEST_F(WebRoutesTest, UnknownAssetIs404Json) {
  for (const char* path :
       {"/assets/nope.js", "/assets/APP.JS", "/assets/../oxide.db", "/assets/", "/assets/a/b"}) {
    Response r = Get(path);
    EXPECT_EQ(r.status, 404) << path;
    Json j = Json::parse(r.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << path << ": " << r.body;
    EXPECT_EQ(j["error"]["code"], "not_found") << path;
  }
}

TEST_F(WebRoutesTest, WritesToTheDashboardRoutesAreRefused) {
  Request r;
  r.method = Method::kPost;
  r.path = "/";
  EXPECT_EQ(env.router->Handle(r).status, 405);
}

TEST(WebAssets, EmbeddedFilesAreExactlyTheWebDirectory) {
  std::set<std::string> on_disk;
  for (const auto& e : std::filesystem::directory_iterator(OXIDE_WEB_SOURCE_DIR)) {
    std::string name = e.path().filename().string();
    if (!e.is_regular_file() || name.starts_with(".")) continue;  // dotfiles are not embedded
    on_disk.insert(name);
    const web::WebAsset* a = web::FindWebAsset(name);
    ASSERT_NE(a, nullptr) << name << " is in web/ but not embedded: re-run cmake";
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(a->bytes(), bytes) << name << " changed in web/ but the binary has an old copy";
  }
  std::set<std::string> embedded;
  for (const auto& a : web::AllWebAssets()) embedded.insert(a.name);
  EXPECT_EQ(embedded, on_disk);
  EXPECT_TRUE(on_disk.count("index.html") && on_disk.count("app.js"));
}

}  // namespace
}  // namespace oxide::server::api
