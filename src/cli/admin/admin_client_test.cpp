#include "cli/admin/admin_client.hpp"

#include <gtest/gtest.h>

#include "testing/status_matchers.hpp"

namespace oxide::cli::admin {
namespace {

TEST(ErrorFromReply, TakesTheMessageOfAnApiError) {
  Status s =
      ErrorFromReply(404, R"({"error":{"code":"not_found","message":"device 'x' not found"}})");
  EXPECT_STATUS(s, ErrorCode::kNotFound);
  EXPECT_EQ(s.message(), "404: device 'x' not found");
}

TEST(ErrorFromReply, TakesTheMessageOfAnAuthRefusal) {
  Status s =
      ErrorFromReply(403, R"({"error":"forbidden","message":"viewer tokens may only read"})");
  EXPECT_STATUS(s, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "403: viewer tokens may only read");
}

TEST(ErrorFromReply, FallsBackToTheBodyThenToAPlaceholder) {
  EXPECT_EQ(ErrorFromReply(502, "Bad Gateway\r\n").message(), "502: Bad Gateway");
  EXPECT_EQ(ErrorFromReply(500, "").message(), "500: (no message)");
}

TEST(ErrorFromReply, MapsStatusesToExitCodes) {
  EXPECT_STATUS(ErrorFromReply(401, "{}"), ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(ErrorFromReply(409, "{}"), ErrorCode::kFailedPrecondition);
  EXPECT_STATUS(ErrorFromReply(422, "{}"), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ErrorFromReply(400, "{}"), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ErrorFromReply(503, "{}"), ErrorCode::kUnavailable);
}

class ResolveTest : public ::testing::Test {
 protected:
  Result<AdminConfig> Resolve() {
    return ResolveAdminConfig(
        flags_, file_,
        [this](const char* name) {
          auto it = env_.find(name);
          return it == env_.end() ? std::string() : it->second;
        },
        [this](const std::string& path) -> Result<std::string> {
          auto it = files_.find(path);
          if (it == files_.end()) return NotFound(path);
          return it->second;
        });
  }
  AdminFlags flags_;
  std::map<std::string, std::string> file_, env_, files_;
};

TEST_F(ResolveTest, FlagBeatsEnvironmentBeatsConfigFile) {
  file_ = {{"server", "http://file"}, {"token_file", "/f.token"}, {"ca_file", "/ca.pem"}};
  files_ = {{"/f.token", "from-file\n"}, {"/flag.token", "from-flag\n"}};
  ASSERT_OK(Resolve().status());
  EXPECT_EQ(Resolve()->server, "http://file");
  EXPECT_EQ(Resolve()->token, "from-file");
  EXPECT_EQ(Resolve()->ca_file, "/ca.pem");
  env_ = {{"OXIDE_SERVER", "http://env/"}, {"OXIDE_TOKEN", "from-env"}};
  EXPECT_EQ(Resolve()->server, "http://env");
  EXPECT_EQ(Resolve()->token, "from-env");
  flags_.server = "http://flag";
  flags_.token_file = "/flag.token";
  EXPECT_EQ(Resolve()->server, "http://flag");
  EXPECT_EQ(Resolve()->token, "from-flag");
}

TEST_F(ResolveTest, MissingServerOrTokenIsAUsageError) {
  EXPECT_STATUS(Resolve().status(), ErrorCode::kInvalidArgument);
  flags_.server = "http://x";
  Status s = Resolve().status();
  EXPECT_STATUS(s, ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("--token-file"), std::string::npos);
}

TEST_F(ResolveTest, UnreadableTokenFileIsItsError) {
  flags_.server = "http://x";
  flags_.token_file = "/nope";
  EXPECT_STATUS(Resolve().status(), ErrorCode::kNotFound);
}

TEST(PathEscape, KeepsIdCharactersAndEncodesTheRest) {
  EXPECT_EQ(PathEscape("cam-1.a_b"), "cam-1.a_b");
  EXPECT_EQ(PathEscape("a/b c"), "a%2Fb%20c");
}

}  // namespace
}  // namespace oxide::cli::admin
