#include "base/log.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "base/exit_code.hpp"

namespace oxide::log {
namespace {

TEST(Log, LevelAndFormatNamesRoundTrip) {
  for (Level l :
       {Level::kTrace, Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kOff}) {
    auto parsed = ParseLevel(ToString(l));
    ASSERT_TRUE(parsed.ok()) << ToString(l);
    EXPECT_EQ(*parsed, l);
  }
  EXPECT_EQ(ParseLevel("warning").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(*ParseFormat("json"), Format::kJson);
  EXPECT_EQ(*ParseFormat("text"), Format::kText);
  EXPECT_EQ(ParseFormat("xml").status().code(), ErrorCode::kInvalidArgument);
}

TEST(Log, TextMessageIsLogfmt) {
  EXPECT_EQ(FormatMessage(Format::kText, "request",
                          {{"method", "GET"}, {"status", 200}, {"ms", 1.25}, {"path", "/a b"}}),
            R"(request method=GET status=200 ms=1.25 path="/a b")");
  EXPECT_EQ(FormatMessage(Format::kText, "x", {{"empty", ""}, {"q", "say \"hi\"\n"}}),
            R"(x empty="" q="say \"hi\"\n")");
}

TEST(Log, AMessageStaysOneLine) {
  EXPECT_EQ(FormatMessage(Format::kText, "check passed: ok\nsecond line\r\n\n", {}),
            "check passed: ok\\nsecond line");
  EXPECT_EQ(FormatMessage(Format::kJson, "out\n", {}), R"("msg":"out")");
}

TEST(Log, JsonMessageKeepsNumbersAndEscapes) {
  EXPECT_EQ(FormatMessage(Format::kJson, "a \"b\"",
                          {{"bytes", uint64_t{7190}}, {"ms", 0.5}, {"who", "cam\x01"}}),
            R"("msg":"a \"b\"","bytes":7190,"ms":0.5,"who":"cam\u0001")");
}

class LogToStream : public ::testing::Test {
 protected:
  void TearDown() override { oxide::log::Setup(Options{}); }  // back to stderr for the other tests
  std::ostringstream out;
};

TEST_F(LogToStream, TextLinesHaveTimeLevelNameAndRespectTheLevel) {
  oxide::log::Setup(
      {.name = "oxide serve", .level = Level::kInfo, .format = Format::kText, .stream = &out});
  Debug("hidden");
  Info("patch ready", {{"bytes", 12}});
  Warn("slow");
  std::string text = out.str();
  EXPECT_EQ(text.find("hidden"), std::string::npos) << text;
  EXPECT_NE(text.find("Z info  oxide serve: patch ready bytes=12\n"), std::string::npos) << text;
  EXPECT_NE(text.find("Z warn  oxide serve: slow\n"), std::string::npos) << text;
  EXPECT_EQ(text.rfind("20", 0), 0u) << "starts with the year: " << text;
}

TEST_F(LogToStream, JsonLinesAreOneObjectEach) {
  oxide::log::Setup(
      {.name = "oxide-agent", .level = Level::kDebug, .format = Format::kJson, .stream = &out});
  EXPECT_TRUE(Enabled(Level::kDebug));
  EXPECT_FALSE(Enabled(Level::kTrace));
  Debug("progress", {{"percent", 50}});
  std::string text = out.str();
  EXPECT_EQ(text.rfind(R"({"time":")", 0), 0u) << text;
  EXPECT_NE(text.find(R"(Z","level":"debug","name":"oxide-agent","msg":"progress","percent":50})"
                      "\n"),
            std::string::npos)
      << text;
}

TEST(LogFlags, VerboseAndLevelResolveToTheMoreVerbose) {
  Flags f;
  EXPECT_EQ(f.ToOptions("x")->level, Level::kInfo);
  f.verbose = 1;
  EXPECT_EQ(f.ToOptions("x")->level, Level::kDebug);
  f.verbose = 2;
  EXPECT_EQ(f.ToOptions("x")->level, Level::kTrace);
  f.verbose = 0;
  f.level = "error";
  EXPECT_EQ(f.ToOptions("x")->level, Level::kError);
  f.verbose = 1;
  EXPECT_EQ(f.ToOptions("x")->level, Level::kDebug);
  f.level = "loud";
  EXPECT_EQ(f.ToOptions("x").status().code(), ErrorCode::kInvalidArgument);
  f.level.clear();
  f.format = "json";
  EXPECT_EQ(f.ToOptions("x")->format, Format::kJson);
}

TEST(ExitCode, EachErrorClassHasItsDocumentedCode) {
  EXPECT_EQ(ExitCodeFor(ErrorCode::kOk), 0);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kInvalidArgument), kExitUsage);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kNotFound), 3);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kFailedPrecondition), 4);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kCorrupt), 5);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kUnsupported), 6);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kResourceExhausted), 7);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kIo), 8);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kUnavailable), kExitFailure);
  EXPECT_EQ(ExitCodeFor(ErrorCode::kInternal), kExitFailure);
}

}  // namespace
}  // namespace oxide::log
