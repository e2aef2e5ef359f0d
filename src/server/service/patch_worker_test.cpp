#include "server/service/patch_worker.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/file_util.hpp"
#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

// A worker over the test env whose builder returns `next_error` (OK = build a fake patch) and
// counts its calls.
class PatchWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1 = env.Upload("m", "v1", "first version of the model");
    v2 = env.Upload("m", "v2", "second version of the model");
    env.DropEmptyBaseJobs();  // v1 -> v2 is the only job
    worker =
        std::make_unique<PatchWorker>(*env.store, *env.blobs, env.clock,
                                      [this](const std::string&, const std::string&,
                                             const std::string& out) -> Result<BuiltPatch> {
                                        ++builds;
                                        if (during_build) during_build();
                                        if (!next_error.ok()) return next_error;
                                        OXIDE_RETURN_IF_ERROR(AtomicWriteFile(out, "fake-patch"));
                                        return BuiltPatch{"binary"};
                                      });
  }
  store::PatchRecord Job() { return *env.store->patches().Get(v1.sha256, v2.sha256); }

  testing::TestEnv env;
  store::ModelVersionRecord v1, v2;
  Status next_error;
  std::function<void()> during_build;  // runs inside the build (the lease is held)
  int builds = 0;
  std::unique_ptr<PatchWorker> worker;
};

TEST_F(PatchWorkerTest, IoErrorStaysPendingWithBackoffThenSucceeds) {
  next_error = IoError("disk hiccup");
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_EQ(Job().state, store::PatchState::kPending);
  EXPECT_EQ(Job().attempts, 1u);
  EXPECT_FALSE(*worker->RunOnce());  // backing off
  env.clock.AdvanceMs(kPatchRetryBackoffMs);
  next_error = Status::Ok();
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_EQ(Job().state, store::PatchState::kReady);
  EXPECT_EQ(builds, 2);
}

TEST_F(PatchWorkerTest, DiskFullIsRetriedAtMostThreeTimes) {
  next_error = ResourceExhausted("no space left on device");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(*worker->RunOnce());
    env.clock.AdvanceMs(10 * kPatchRetryBackoffMs);
  }
  EXPECT_EQ(Job().state, store::PatchState::kFailed);
  EXPECT_EQ(builds, 3);
  EXPECT_FALSE(*worker->RunOnce());
}

TEST_F(PatchWorkerTest, OtherErrorsFailAtOnce) {
  next_error = Internal("round trip failed");
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_EQ(Job().state, store::PatchState::kFailed);
  EXPECT_EQ(Job().attempts, 1u);
}

TEST_F(PatchWorkerTest, AttemptIsPersistedBeforeTheBuildStarts) {
  uint32_t seen = 0;
  PatchWorker w(
      *env.store, *env.blobs, env.clock,
      [&](const std::string&, const std::string&, const std::string&) -> Result<BuiltPatch> {
        seen = Job().attempts;  // what a restart would find if the build crashed here
        return Internal("round trip failed");
      });
  EXPECT_TRUE(*w.RunOnce());
  EXPECT_EQ(seen, 1u);
}

TEST_F(PatchWorkerTest, JobThatCrashedThreeBuildsIsGivenUpWithoutBuilding) {
  auto p = Job();  // after three crashes mid-build: still pending, three attempts recorded
  p.attempts = 3;
  ASSERT_OK(env.store->patches().Update(p));
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_EQ(builds, 0);
  EXPECT_EQ(Job().state, store::PatchState::kFailed);
  EXPECT_NE(Job().error.find("gave up after 3 attempts"), std::string::npos);
}

TEST_F(PatchWorkerTest, FreshJobsGoBeforeRetries) {
  auto v3 = env.Upload("m", "v3", "third version of the model");
  env.DropEmptyBaseJobs();
  auto first = Job();
  first.attempts = 1;
  ASSERT_OK(env.store->patches().Update(first));
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_EQ(env.store->patches().Get(v2.sha256, v3.sha256)->state, store::PatchState::kReady);
  EXPECT_EQ(Job().state, store::PatchState::kPending);
}

// ---- leases (issue #12): several replicas share the queue ----------------------------------

TEST_F(PatchWorkerTest, JobIsLeasedWhileItBuildsAndReleasedAfter) {
  worker->SetLease({"replica-a", 60'000, std::chrono::hours(1)});
  store::PatchRecord seen;
  during_build = [&] { seen = Job(); };
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_EQ(seen.lease_owner, "replica-a");
  EXPECT_EQ(seen.lease_until, env.clock.UnixMillis() + 60'000);
  EXPECT_EQ(Job().state, store::PatchState::kReady);
  EXPECT_EQ(Job().lease_owner, "");  // released
  EXPECT_EQ(Job().lease_until, 0);
}

// A replica that died mid-build (it claimed the job, then nothing): the others skip the job
// until its lease runs out, then one of them builds it.
TEST_F(PatchWorkerTest, JobOfADeadReplicaIsBuiltOnceItsLeaseExpires) {
  worker->SetLease({"replica-b", 60'000, std::chrono::hours(1)});
  auto dead = env.store->patches().Claim(env.clock.UnixMillis(), "replica-a", 60'000);
  ASSERT_OK(dead.status());
  ASSERT_TRUE(dead->has_value());
  EXPECT_FALSE(*worker->RunOnce());
  env.clock.AdvanceMs(59'999);
  EXPECT_FALSE(*worker->RunOnce());
  EXPECT_EQ(builds, 0);
  env.clock.AdvanceMs(1);
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_EQ(builds, 1);
  EXPECT_EQ(Job().state, store::PatchState::kReady);
  EXPECT_EQ(Job().lease_owner, "");
}

// A build longer than the lease keeps its job: the renewer extends the lease, so another
// replica polling past the first lease's end finds nothing to claim.
TEST_F(PatchWorkerTest, LongBuildRenewsItsLease) {
  worker->SetLease({"replica-a", 60'000, std::chrono::milliseconds(1)});
  PatchWorker other(
      *env.store, *env.blobs, env.clock,
      [&](const std::string&, const std::string&, const std::string&) -> Result<BuiltPatch> {
        ++builds;
        return Internal("must not build");
      });
  other.SetLease({"replica-b", 60'000, std::chrono::hours(1)});
  bool renewed = false;
  Result<bool> other_ran = false;
  during_build = [&] {
    env.clock.AdvanceMs(120'000);  // two leases' worth of build time
    const store::TimeMs renewed_until = env.clock.UnixMillis() + 60'000;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!renewed && std::chrono::steady_clock::now() < deadline) {
      renewed = Job().lease_until == renewed_until;
      std::this_thread::yield();
    }
    other_ran = other.RunOnce();
  };
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_TRUE(renewed);
  ASSERT_OK(other_ran.status());
  EXPECT_FALSE(*other_ran);
  EXPECT_EQ(builds, 1);
  EXPECT_EQ(Job().state, store::PatchState::kReady);
}

// A replica that stalled past its lease while another took the job over drops its result.
TEST_F(PatchWorkerTest, BuildWhoseLeasePassedToAnotherReplicaIsDropped) {
  worker->SetLease({"replica-a", 60'000, std::chrono::hours(1)});
  during_build = [&] {
    env.clock.AdvanceMs(60'000);
    auto taken = env.store->patches().Claim(env.clock.UnixMillis(), "replica-b", 60'000);
    ASSERT_OK(taken.status());
    ASSERT_TRUE(taken->has_value());
  };
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_EQ(Job().state, store::PatchState::kPending);  // replica-b's to finish
  EXPECT_EQ(Job().lease_owner, "replica-b");
  EXPECT_EQ(Job().attempts, 1u);
}

// A restart: the leases of the previous run (same --instance-id, or the default id of a process
// of this host and pid namespace that has exited) are released at once; a lease of a live
// replica stays. A hostname:pid without this pid namespace may be a live process of another
// container sharing the hostname: it stays too (it used to be freed).
TEST_F(PatchWorkerTest, LeasesOfAnEarlierRunAreReleasedAtStart) {
  auto v3 = env.Upload("m", "v3", "third version of the model");
  auto v4 = env.Upload("m", "v4", "fourth version of the model");
  auto v5 = env.Upload("m", "v5", "fifth version of the model");
  auto v6 = env.Upload("m", "v6", "sixth version of the model");
  env.DropEmptyBaseJobs();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  const store::TimeMs now = env.clock.UnixMillis();
  auto& patches = env.store->patches();
  ASSERT_EQ((*patches.Claim(now, "replica-a", 60'000))->target_sha256, v2.sha256);
  const std::string exited = std::string(host) + ":" + std::to_string(child);
  const std::string ns = PidNamespaceTag();
  ASSERT_FALSE(ns.empty());
  ASSERT_EQ((*patches.Claim(now, exited + ":0badc0de:" + ns, 60'000))->target_sha256, v3.sha256);
  ASSERT_EQ((*patches.Claim(now, "elsewhere:1", 60'000))->target_sha256, v4.sha256);
  ASSERT_EQ((*patches.Claim(now, exited, 60'000))->target_sha256, v5.sha256);
  ASSERT_EQ((*patches.Claim(now, exited + ":0badc0de:ns1", 60'000))->target_sha256, v6.sha256);
  worker->SetLease({"replica-a", 60'000, std::chrono::hours(1)});
  EXPECT_EQ(*worker->ReleaseOrphanedLeases(), 2u);
  EXPECT_EQ(Job().lease_owner, "");
  EXPECT_EQ(patches.Get(v2.sha256, v3.sha256)->lease_owner, "");
  EXPECT_EQ(patches.Get(v3.sha256, v4.sha256)->lease_owner, "elsewhere:1");
  EXPECT_EQ(patches.Get(v4.sha256, v5.sha256)->lease_owner, exited);
  EXPECT_EQ(patches.Get(v5.sha256, v6.sha256)->lease_owner, exited + ":0badc0de:ns1");
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_FALSE(*worker->RunOnce());  // the others wait for their owners' leases
  EXPECT_EQ(builds, 2);
}

TEST(DefaultInstanceIdTest, NamesHostPidNonceAndPidNamespace) {
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  const std::string id = DefaultInstanceId();
  const std::string prefix = std::string(host) + ":" + std::to_string(::getpid()) + ":";
  ASSERT_EQ(id.compare(0, prefix.size(), prefix), 0) << id;
  EXPECT_EQ(id.substr(prefix.size() + 8), ":" + PidNamespaceTag()) << id;
  EXPECT_NE(DefaultInstanceId(), id);  // the nonce: a pid reused after a restart is another id
}

}  // namespace
}  // namespace oxide::server
