// A killed agent leaves no health check running: the check's process group is saved when it
// starts, and the next start kills what is left of it (and nothing that is not ours).
#include "agent/process_group.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>

#include "agent/pipeline_test_util.hpp"
#include "testing/status_matchers.hpp"

extern char** environ;

namespace oxide::agent {
namespace {

// A health check as CommandHealthChecker starts it: `sh -c` leading its own process group, with
// a background child that outlives the shell's own command.
pid_t SpawnGroup() {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  std::string sh = "/bin/sh", c = "-c", cmd = "sleep 300 & sleep 300";
  char* argv[] = {sh.data(), c.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv, environ);
  posix_spawnattr_destroy(&attr);
  EXPECT_EQ(rc, 0);
  return pid;
}

// Live (not zombie) processes in process group `pgid`; reaps our own dead children meanwhile.
int LiveMembers(pid_t pgid) {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  int n = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc", ec), end; !ec && it != end;
       it.increment(ec)) {
    std::ifstream in(it->path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    auto paren = line.rfind(')');
    if (paren == std::string::npos || paren + 2 >= line.size()) continue;
    char state = line[paren + 2];
    std::istringstream rest(line.substr(paren + 4));
    long ppid = 0, pgrp = 0;
    rest >> ppid >> pgrp;
    if (pgrp == pgid && state != 'Z' && state != 'X') ++n;
  }
  return n;
}

// Deadline polling: the kill is asynchronous.
bool GroupGone(pid_t pgid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (LiveMembers(pgid) == 0) return true;
    ::usleep(10'000);
  }
  return false;
}

// Both members running (the background sleep has been forked).
bool GroupStarted(pid_t pgid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (LiveMembers(pgid) >= 2) return true;
    ::usleep(10'000);
  }
  return false;
}

TEST(ProcessGroup, KillsWhatIsLeftOfOurGroup) {
  pid_t pid = SpawnGroup();
  ASSERT_TRUE(GroupStarted(pid));
  auto group = DescribeProcessGroup(pid);
  ASSERT_OK(group.status());
  EXPECT_EQ(group->pgid, pid);
  EXPECT_FALSE(group->boot_id.empty());
  EXPECT_GE(KillProcessGroupIfOurs(*group), 2);
  EXPECT_TRUE(GroupGone(pid));
}

TEST(ProcessGroup, LeavesAGroupThatIsNotOurs) {
  pid_t pid = SpawnGroup();
  ASSERT_TRUE(GroupStarted(pid));
  auto group = DescribeProcessGroup(pid);
  ASSERT_OK(group.status());
  HealthGroup later = *group;
  later.start_ticks += 1'000'000;  // saved for a leader that started after these processes
  EXPECT_EQ(KillProcessGroupIfOurs(later), 0);
  HealthGroup other_boot = *group;
  other_boot.boot_id = "another-boot";
  EXPECT_EQ(KillProcessGroupIfOurs(other_boot), 0);
  EXPECT_GE(LiveMembers(pid), 2);
  ::kill(-pid, SIGKILL);
  EXPECT_TRUE(GroupGone(pid));
}

// Our check's group died and its id went to a newer group leader (a daemon's setsid): the id
// matches, the members started after our leader, but the live leader is not ours.
TEST(ProcessGroup, LeavesAGroupWhoseIdWasReused) {
  pid_t pid = SpawnGroup();
  ASSERT_TRUE(GroupStarted(pid));
  auto group = DescribeProcessGroup(pid);
  ASSERT_OK(group.status());
  HealthGroup ours_before = *group;
  ours_before.start_ticks -= 1;  // our leader started just before this one
  EXPECT_EQ(KillProcessGroupIfOurs(ours_before), 0);
  EXPECT_GE(LiveMembers(pid), 2);
  ::kill(-pid, SIGKILL);
  EXPECT_TRUE(GroupGone(pid));
}

// The agent was killed during a health check (state.json names the group): opening the pipeline
// at start-up kills the group before the check runs again.
TEST_F(PipelineTest, StartUpKillsTheHealthCheckAKilledAgentLeft) {
  InstallV1();
  pid_t pid = SpawnGroup();
  ASSERT_TRUE(GroupStarted(pid));
  auto group = DescribeProcessGroup(pid);
  ASSERT_OK(group.status());
  UpdateRecord r = pipeline->record();
  r.health_group = *group;
  pipeline.reset();
  ASSERT_OK(AtomicWriteFile(state_dir + "/m/state.json", EncodeUpdateRecord(r)));
  OpenPipeline();
  EXPECT_TRUE(GroupGone(pid));
  EXPECT_FALSE(pipeline->record().health_group.has_value());
  auto saved = DecodeUpdateRecord(*ReadFileToString(state_dir + "/m/state.json"));
  ASSERT_OK(saved.status());
  EXPECT_FALSE(saved->health_group.has_value());
}

// While a command check runs, its group is in state.json; afterwards it is cleared.
TEST_F(PipelineTest, RunningHealthCheckGroupIsSaved) {
  struct Checker final : HealthChecker {
    Result<HealthReport> Check(const HealthCheckRequest& req) override {
      req.on_started(static_cast<int>(group_pid));
      auto text = ReadFileToString(state_file);
      if (text.ok()) saved = DecodeUpdateRecord(*text).value().health_group;
      return HealthReport{true, "ok"};
    }
    pid_t group_pid = 0;
    std::string state_file;
    std::optional<HealthGroup> saved;
  } checker;
  checker.group_pid = SpawnGroup();
  ASSERT_TRUE(GroupStarted(checker.group_pid));
  checker.state_file = state_dir + "/m/state.json";
  Publish(v1);
  auto p = UpdatePipeline::Open("m", {fs, dl, checker, clock}, Options());
  ASSERT_OK(p.status());
  ASSERT_OK((*p)->OnAssignment(v1.ref).status());
  ASSERT_OK((*p)->Run());
  ASSERT_TRUE(checker.saved.has_value());
  EXPECT_EQ(checker.saved->pgid, checker.group_pid);
  EXPECT_FALSE((*p)->record().health_group.has_value());
  auto after = DecodeUpdateRecord(*ReadFileToString(checker.state_file));
  ASSERT_OK(after.status());
  EXPECT_FALSE(after->health_group.has_value());
  ::kill(-checker.group_pid, SIGKILL);
  EXPECT_TRUE(GroupGone(checker.group_pid));
}

}  // namespace
}  // namespace oxide::agent
