// Pull the plug at every mutating file operation of an update, restart, and check that the
// active model is always complete (old or new) and that the restarted agent finishes the job.
#include "agent/pipeline_test_util.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

using S = OtaState;

struct CrashCase {
  bool first_install;  // nothing installed before (full download)
  bool healthy;
};

// Returns the states the durable record was in at the crash points.
std::set<S> CrashEverywhere(const CrashCase& c) {
  std::set<S> crashed_in;
  for (int64_t n = 0;; ++n) {
    SCOPED_TRACE("crash after " + std::to_string(n) + " mutating operations");
    PipelineTest t;
    const TestModel& from = t.v1;
    const TestModel& to = c.first_install ? t.v1 : t.v2;
    if (c.first_install) {
      t.Publish(t.v1);
      t.OpenPipeline();
    } else {
      t.InstallV1();
      t.Publish(t.v2);
      t.PublishPatch(t.v1, t.v2);
    }
    t.health.healthy = c.healthy;
    std::string before = c.first_install ? "<absent>" : from.bytes;
    std::string after_ok = c.healthy ? to.bytes : before;
    t.fs.FailAfter(n);
    Status st = t.Assign(to);
    if (!t.fs.failed()) {  // the whole update ran without reaching the fault: done
      EXPECT_OK(st);
      EXPECT_EQ(t.Active(), after_ok);
      EXPECT_GT(n, 10);
      return crashed_in;
    }
    t.pipeline.reset();
    t.fs.Crash();
    std::string active = t.Active();
    EXPECT_TRUE(active == before || active == to.bytes) << "active model torn: " << active.size();
    t.OpenPipeline();
    crashed_in.insert(t.pipeline->record().state);
    EXPECT_OK(t.RunToIdle());
    EXPECT_OK(t.Assign(to));  // the server keeps assigning the same version
    EXPECT_EQ(t.Active(), after_ok);
    if (::testing::Test::HasFailure()) return crashed_in;
  }
}

TEST(PowerLoss, PatchUpdateSurvivesCrashAtEveryOperation) {
  std::set<S> in = CrashEverywhere({false, true});
  for (S s : {S::kIdle, S::kDownloading, S::kDownloaded, S::kStaged, S::kVerified, S::kBackedUp,
              S::kActivated, S::kCommitted}) {
    EXPECT_TRUE(in.count(s)) << "never crashed in " << ToString(s);
  }
}

TEST(PowerLoss, RollbackSurvivesCrashAtEveryOperation) {
  std::set<S> in = CrashEverywhere({false, false});
  for (S s : {S::kActivated, S::kRollingBack, S::kRolledBack}) {
    EXPECT_TRUE(in.count(s)) << "never crashed in " << ToString(s);
  }
}

TEST(PowerLoss, FirstInstallSurvivesCrashAtEveryOperation) { CrashEverywhere({true, true}); }

// The connection drops after n bytes (n looping over the transfer) and the power goes out too;
// the restarted agent resumes from what was synced and fetches little twice.
TEST(PowerLoss, DownloadDroppedAtEveryOffsetResumes) {
  for (uint64_t n = 0; n < (48u << 10); n += 3000) {
    SCOPED_TRACE("connection dropped after " + std::to_string(n) + " bytes");
    PipelineTest t;
    t.Publish(t.v3);
    t.OpenPipeline();
    t.dl.FailAfterBytes(n);
    EXPECT_STATUS(t.Assign(t.v3), ErrorCode::kUnavailable);
    t.pipeline.reset();
    t.fs.Crash();
    t.OpenPipeline();
    EXPECT_OK(t.RunToIdle());
    EXPECT_EQ(t.Active(), t.v3.bytes);
    // At most the unsynced tail (sync_every_bytes) is fetched again.
    EXPECT_LE(t.dl.bytes_served(), t.v3.bytes.size() + 4096);
    if (::testing::Test::HasFailure()) return;
  }
}

}  // namespace
}  // namespace oxide::agent
