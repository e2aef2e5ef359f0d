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
  bool corrupt_patch = false;          // the patch fails: the full-download fallback path
  bool keep_unsynced_entries = false;  // the crash keeps unsynced directory entries
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
      if (c.corrupt_patch) {
        t.dl.SetPatch(t.Url("v2"), t.v1.ref.sha256, std::string(5000, 'x'), t.v2.ref.sha256);
      } else {
        t.PublishPatch(t.v1, t.v2);
      }
    }
    t.health.healthy = c.healthy;
    t.fs.set_keep_unsynced_entries(c.keep_unsynced_entries);
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
    // A crash is not the version's fault: a healthy update is never counted as failed (checked
    // before the next attempt, whose commit would reset the count).
    if (c.healthy) {
      EXPECT_EQ(t.pipeline->record().poison_failures, 0u);
      EXPECT_NE(t.pipeline->record().last_outcome, Outcome::kFailed);
    }
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

// The same sweeps on a file system whose unsynced metadata happened to reach the disk.
TEST(PowerLoss, PatchUpdateSurvivesCrashKeepingUnsyncedEntries) {
  CrashEverywhere({false, true, false, true});
}
TEST(PowerLoss, RollbackSurvivesCrashKeepingUnsyncedEntries) {
  CrashEverywhere({false, false, false, true});
}
TEST(PowerLoss, FirstInstallSurvivesCrashKeepingUnsyncedEntries) {
  CrashEverywhere({true, true, false, true});
}
TEST(PowerLoss, PatchFallbackSurvivesCrashKeepingUnsyncedEntries) {
  CrashEverywhere({false, true, true, true});
}

// The resource changes (new ETag) while it is being downloaded and the connection drops: the
// resume is answered with the whole new resource, which replaces the partial file.
TEST(PowerLoss, EtagChangedMidDownloadRestartsCleanly) {
  PipelineTest t;
  t.Publish(t.v3);
  t.OpenPipeline();
  t.dl.set_on_chunk([&t](uint64_t sent) {
    if (sent == 5000) t.dl.SetEtag(t.Url("v3"), "\"republished\"");
  });
  t.dl.FailAfterBytes(10000);
  EXPECT_STATUS(t.Assign(t.v3), ErrorCode::kUnavailable);
  t.pipeline.reset();
  t.fs.Crash();
  t.OpenPipeline();
  EXPECT_OK(t.RunToIdle());
  EXPECT_EQ(t.Active(), t.v3.bytes);
  EXPECT_EQ(t.dl.bytes_served(), 10000 + t.v3.bytes.size());  // restarted from byte 0
  EXPECT_EQ(t.pipeline->record().installed->version, "v3");
}

TEST(PowerLoss, PatchFallbackSurvivesCrashAtEveryOperation) {
  std::set<S> in = CrashEverywhere({false, true, true});
  EXPECT_TRUE(in.count(S::kDownloaded));
}

// A partial patch download, then the server sends the full file instead (200, another ETag);
// the power goes out at every operation of that attempt. The two payloads never mix.
TEST(PowerLoss, ReplacedPayloadIsNeverAppendedToTheOldOne) {
  for (int64_t n = 0;; ++n) {
    SCOPED_TRACE("crash after " + std::to_string(n) + " mutating operations");
    PipelineTest t;
    t.InstallV1();
    t.PublishPatch(t.v1, t.v3);
    t.Publish(t.v3);
    t.dl.FailAfterBytes(10000);
    EXPECT_STATUS(t.Assign(t.v3), ErrorCode::kUnavailable);
    t.dl.ClearPatches(t.Url("v3"));
    t.fs.FailAfter(n);
    Status st = t.RunToIdle();
    if (!t.fs.failed()) {
      EXPECT_OK(st);
      EXPECT_EQ(t.Active(), t.v3.bytes);
      return;
    }
    t.pipeline.reset();
    t.fs.Crash();
    t.OpenPipeline();
    EXPECT_OK(t.RunToIdle());
    EXPECT_EQ(t.Active(), t.v3.bytes);
    EXPECT_EQ(t.pipeline->record().last_outcome, Outcome::kCommitted);
    EXPECT_EQ(t.pipeline->record().poison_failures, 0u);
    if (::testing::Test::HasFailure()) return;
  }
}

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
