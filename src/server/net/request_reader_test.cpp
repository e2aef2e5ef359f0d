// ReadRequest: the session's request rules applied to bytes in memory (the fuzzer's front end).
#include "server/net/request_reader.hpp"

#include <gtest/gtest.h>

#include "server/service/test_env.hpp"

namespace oxide::server::net {
namespace {

using Kind = ReadRequestResult::Kind;

class ReadRequestTest : public ::testing::Test {
 protected:
  ReadRequestResult Read(const std::string& bytes) {
    return ReadRequest(bytes, *env.router, 16 * 1024);
  }
  server::testing::TestEnv env;
};

TEST_F(ReadRequestTest, ReadsAWholeRequestWithLowerCaseHeadersAndQuery) {
  auto r = Read(
      "POST /api/v1/devices?x=1 HTTP/1.1\r\nContent-Type: application/json\r\n"
      "Content-Length: 2\r\n\r\n{}");
  ASSERT_EQ(r.kind, Kind::kRequest);
  EXPECT_EQ(r.request.method, api::Method::kPost);
  EXPECT_EQ(r.request.path, "/api/v1/devices");
  EXPECT_EQ(r.request.query, "x=1");
  EXPECT_EQ(r.request.Header("content-type"), "application/json");
  EXPECT_EQ(r.request.body, "{}");
}

TEST_F(ReadRequestTest, TruncatedRequestIsIncomplete) {
  EXPECT_EQ(Read("GET /health HTTP/1.1\r\nHost: x\r\n").kind, Kind::kIncomplete);
  EXPECT_EQ(Read("POST /api/v1/devices HTTP/1.1\r\nContent-Length: 9\r\n\r\n{}").kind,
            Kind::kIncomplete);
}

TEST_F(ReadRequestTest, LimitsAndFramingAreRefusedLikeOnASocket) {
  auto big = Read("GET /health HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n");
  ASSERT_EQ(big.kind, Kind::kRejected);
  EXPECT_EQ(big.reject->status, 431);
  auto gzip = Read("POST /api/v1/devices HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n");
  ASSERT_EQ(gzip.kind, Kind::kRejected);
  EXPECT_EQ(gzip.reject->status, 501);
  auto both = Read(
      "POST /api/v1/devices HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n");
  ASSERT_EQ(both.kind, Kind::kRejected);
  EXPECT_EQ(both.reject->status, 400);
  auto large = Read("POST /api/v1/devices HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n");
  ASSERT_EQ(large.kind, Kind::kRejected);
  EXPECT_EQ(large.reject->status, 413);
  auto junk = Read("NOT HTTP AT ALL\r\n\r\n");
  ASSERT_EQ(junk.kind, Kind::kRejected);
  EXPECT_EQ(junk.reject->status, 400);
}

}  // namespace
}  // namespace oxide::server::net
