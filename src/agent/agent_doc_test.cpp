// docs/agent.md carries the transition table; it must equal the code's, and the config parser
// must read what the doc shows.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "agent/agent_config.hpp"
#include "agent/transitions.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

TEST(AgentDoc, TransitionTableMatchesTheCode) {
  std::ifstream in(std::string(OXIDE_SOURCE_DIR) + "/docs/agent.md");
  ASSERT_TRUE(in.good());
  std::string doc(std::istreambuf_iterator<char>(in), {});
  auto begin = doc.find("<!-- transitions:begin");
  auto end = doc.find("<!-- transitions:end -->");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  begin = doc.find('\n', begin) + 1;
  EXPECT_EQ(doc.substr(begin, end - begin), TransitionTableMarkdown())
      << "regenerate with: oxide agent --print-transitions";
}

TEST(AgentConfig, ReadsAFlatJsonObject) {
  auto pairs = ParseJsonConfig(R"({"device-id": "d1", "poll-interval": 5, "once": true})");
  ASSERT_TRUE(pairs.ok()) << pairs.status().ToString();
  ASSERT_EQ(pairs->size(), 3u);
  EXPECT_EQ((*pairs)[0], (std::pair<std::string, std::string>("device-id", "d1")));
  EXPECT_EQ((*pairs)[1].second, "true");
  EXPECT_EQ((*pairs)[2].second, "5");
}

TEST(AgentConfig, RejectsNestingAndGarbage) {
  EXPECT_STATUS(ParseJsonConfig(R"({"a": {"b": 1}})").status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ParseJsonConfig("[1]").status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(ParseJsonConfig("{").status(), ErrorCode::kInvalidArgument);
}

TEST(AgentConfig, WindowLimitIsMiBWithinTheFormatsRange) {
  auto bytes = MaxWindowBytes(kDefaultMaxWindowMiB);
  ASSERT_OK(bytes.status());
  EXPECT_EQ(*bytes, uint64_t{128} << 20);
  EXPECT_STATUS(MaxWindowBytes(7).status(), ErrorCode::kInvalidArgument);
  EXPECT_STATUS(MaxWindowBytes(4096).status(), ErrorCode::kInvalidArgument);
  auto pairs = ParseJsonConfig(R"({"max-window-mb": 64})");
  ASSERT_OK(pairs.status());
  EXPECT_EQ((*pairs)[0], (std::pair<std::string, std::string>("max-window-mb", "64")));
}

}  // namespace
}  // namespace oxide::agent
