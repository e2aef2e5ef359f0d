#include "server/service/patch_worker.hpp"

#include <gtest/gtest.h>

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
    worker =
        std::make_unique<PatchWorker>(*env.store, *env.blobs, env.clock,
                                      [this](const std::string&, const std::string&,
                                             const std::string& out) -> Result<BuiltPatch> {
                                        ++builds;
                                        if (!next_error.ok()) return next_error;
                                        OXIDE_RETURN_IF_ERROR(AtomicWriteFile(out, "fake-patch"));
                                        return BuiltPatch{"binary"};
                                      });
  }
  store::PatchRecord Job() { return *env.store->patches().Get(v1.sha256, v2.sha256); }

  testing::TestEnv env;
  store::ModelVersionRecord v1, v2;
  Status next_error;
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
  auto first = Job();
  first.attempts = 1;
  ASSERT_OK(env.store->patches().Update(first));
  EXPECT_TRUE(*worker->RunOnce());
  EXPECT_EQ(env.store->patches().Get(v2.sha256, v3.sha256)->state, store::PatchState::kReady);
  EXPECT_EQ(Job().state, store::PatchState::kPending);
}

}  // namespace
}  // namespace oxide::server
