#include "agent/health_check.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "base/file_util.hpp"
#include "base/stop_flag.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::agent {
namespace {

using std::chrono::milliseconds;

HealthCheckRequest Request() { return {"/models/m", "m", "v7", std::string(64, 'a'), 0}; }

TEST(CommandHealthChecker, ExitZeroIsHealthyAndSeesTheModelEnvironment) {
  CommandHealthChecker c("echo \"$OXIDE_MODEL_ID@$OXIDE_MODEL_VERSION $OXIDE_MODEL_PATH\"",
                         milliseconds(10000), nullptr);
  auto r = c.Check(Request());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->healthy);
  EXPECT_NE(r->detail.find("m@v7 /models/m"), std::string::npos) << r->detail;
}

TEST(CommandHealthChecker, NonZeroExitIsUnhealthyWithOutput) {
  CommandHealthChecker c("echo broken >&2; exit 3", milliseconds(10000), nullptr);
  auto r = c.Check(Request());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->healthy);
  EXPECT_NE(r->detail.find("exited 3"), std::string::npos) << r->detail;
  EXPECT_NE(r->detail.find("broken"), std::string::npos) << r->detail;
}

TEST(CommandHealthChecker, ExitStatusAndTheTailOfTheOutputAreReported) {
  // 5000 bytes of 'a' then the reason: the reason is at the end, and the end is what is kept.
  CommandHealthChecker c(
      "head -c 5000 /dev/zero | tr '\\0' a; echo; echo 'real reason' >&2; exit 4",
      milliseconds(10000), nullptr);
  auto r = c.Check(Request());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->healthy);
  EXPECT_FALSE(r->local_fault);
  EXPECT_EQ(r->exit_status, 4);
  EXPECT_EQ(r->output.size(), CommandHealthChecker::kMaxOutput);
  EXPECT_NE(r->output.find("real reason"), std::string::npos);
}

TEST(CommandHealthChecker, MissingCommandCouldNotRunAndIsALocalFault) {
  for (const char* cmd : {"/nonexistent/oxide-check-model", "/dev/null"}) {  // 127, 126
    CommandHealthChecker c(cmd, milliseconds(10000), nullptr);
    auto r = c.Check(Request());
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->healthy) << cmd;
    EXPECT_TRUE(r->local_fault) << cmd;
    ASSERT_TRUE(r->exit_status.has_value());
    EXPECT_TRUE(*r->exit_status == 126 || *r->exit_status == 127) << *r->exit_status;
    EXPECT_NE(r->detail.find("exit status 12"), std::string::npos) << r->detail;
  }
}

TEST(CommandHealthChecker, TimeoutKillsTheWholeProcessGroup) {
  CommandHealthChecker c("sleep 30 & sleep 30", milliseconds(300), nullptr);
  auto start = std::chrono::steady_clock::now();
  auto r = c.Check(Request());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->healthy);
  EXPECT_NE(r->detail.find("timed out"), std::string::npos) << r->detail;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// A child that leaves the process group (setsid) and keeps writing to the output pipe must not
// keep the check (or the agent's shutdown) waiting, nor outlive it.
TEST(CommandHealthChecker, EscapedChildrenAreKilledAndTheDrainIsBounded) {
  ::oxide::testing::TempDir tmp;
  std::string pid_file = tmp.File("escaped.pid");
  CommandHealthChecker c("setsid sh -c 'echo $$ > " + pid_file +
                             "; while :; do echo spam; done' & while [ ! -s " + pid_file +
                             " ]; do :; done; exit 0",
                         milliseconds(10000), nullptr);
  auto start = std::chrono::steady_clock::now();
  auto r = c.Check(Request());
  ASSERT_TRUE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  auto text = ReadFileToString(pid_file);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  pid_t escaped = static_cast<pid_t>(std::stol(*text));
  EXPECT_NE(::kill(escaped, 0), 0) << "escaped child " << escaped << " still alive";
}

TEST(CommandHealthChecker, OutputIsBounded) {
  CommandHealthChecker c("head -c 100000 /dev/zero | tr '\\0' x", milliseconds(10000), nullptr);
  auto r = c.Check(Request());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->healthy);
  EXPECT_LE(r->detail.size(), CommandHealthChecker::kMaxOutput + 64);
}

TEST(CommandHealthChecker, StopRequestCancels) {
  StopFlag stop;
  stop.Request();
  CommandHealthChecker c("sleep 30", milliseconds(60000), &stop);
  EXPECT_STATUS(c.Check(Request()).status(), ErrorCode::kCancelled);
}

TEST(BuiltinHealthChecker, MissingFileIsUnhealthy) {
  BuiltinHealthChecker c;
  auto r = c.Check(Request());
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->healthy);
}

}  // namespace
}  // namespace oxide::agent
