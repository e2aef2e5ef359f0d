// JSON shape limits (depth, element count): checked before nlohmann parses a request body.
#include <gtest/gtest.h>

#include "server/api/internal/json_util.hpp"
#include "server/api/router.hpp"
#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server::api {
namespace {

std::string Nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string ArrayOf(size_t n) {
  std::string s = "[";
  for (size_t i = 0; i < n; ++i) s += i == 0 ? "1" : ",1";
  return s + "]";
}

TEST(CheckJsonShape, AcceptsDepthAndElementsUpToTheLimits) {
  EXPECT_TRUE(CheckJsonShape(Nested(kMaxJsonDepth)).ok());
  EXPECT_TRUE(CheckJsonShape(ArrayOf(kMaxJsonElements - 1)).ok());  // + the array itself
  EXPECT_TRUE(CheckJsonShape(R"({"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"[[["})").ok());
}

TEST(CheckJsonShape, RefusesDeeperNesting) {
  EXPECT_STATUS(CheckJsonShape(Nested(kMaxJsonDepth + 1)), ErrorCode::kCorrupt);
  EXPECT_STATUS(CheckJsonShape(std::string(100000, '{')), ErrorCode::kCorrupt);
}

TEST(CheckJsonShape, RefusesTooManyElementsCountingKeysAndScalars) {
  EXPECT_STATUS(CheckJsonShape(ArrayOf(kMaxJsonElements)), ErrorCode::kCorrupt);
  std::string members = "{";
  for (size_t i = 0; i < kMaxJsonElements / 2; ++i) {
    members += (i == 0 ? "\"k" : ",\"k") + std::to_string(i) + "\":null";
  }
  EXPECT_STATUS(CheckJsonShape(members + "}"), ErrorCode::kCorrupt);
}

TEST(JsonLimits, ADeepBodyIs400JsonBeforeTheHandlerSeesIt) {
  server::testing::TestEnv env;
  Request r;
  r.method = Method::kPost;
  r.path = "/api/v1/devices";
  r.body = R"({"id":"d1","name":"x","tags":)" + Nested(100) + "}";
  r.With("content-type", "application/json");
  r.With("authorization", "Bearer " + env.admin_token);
  Response resp = env.router->Handle(r);
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("nests deeper"), std::string::npos);
}

// The heartbeat parses its body itself; it must keep the same limits (a device's credential
// is all it takes to reach it).
TEST(JsonLimits, ADeepHeartbeatIs400) {
  server::testing::TestEnv env;
  const std::string secret = env.EnrollDevice("d1");
  Request r;
  r.method = Method::kPost;
  r.path = "/api/v1/devices/d1/heartbeat";
  r.body = R"({"status":"online","extra":)" + Nested(100) + "}";
  r.With("content-type", "application/json");
  server::testing::TestEnv::AddDeviceAuth(&r, "d1", secret);
  Response resp = env.router->Handle(r);
  EXPECT_EQ(resp.status, 400);
  EXPECT_NE(resp.body.find("nests deeper"), std::string::npos);
}

}  // namespace
}  // namespace oxide::server::api
