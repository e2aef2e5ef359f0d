// Table-driven scenarios of the OTA pipeline; one test checks that together they take every
// row of the transition table.
#include <functional>

#include "agent/pipeline_test_util.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

using S = OtaState;
using E = OtaEvent;

bool Took(const PipelineTest& t, S s, E e) { return t.taken.count({s, e}) > 0; }

void FirstInstallIsAFullDownload(PipelineTest& t) {
  t.Publish(t.v1);
  t.OpenPipeline();
  EXPECT_OK(t.Assign(t.v1));
  EXPECT_EQ(t.Active(), t.v1.bytes);
  std::vector<S> want = {S::kDownloading, S::kDownloaded, S::kStaged,    S::kVerified,
                         S::kBackedUp,    S::kActivated,  S::kCommitted, S::kIdle};
  EXPECT_EQ(t.states, want);
  EXPECT_EQ(t.pipeline->record().installed->version, "v1");
  EXPECT_EQ(t.pipeline->record().last_outcome, Outcome::kCommitted);
}

void UpdateArrivesAsPatch(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.PublishPatch(t.v1, t.v2);
  uint64_t before = t.dl.bytes_served();
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_EQ(t.Active(), t.v2.bytes);
  EXPECT_LT(t.dl.bytes_served() - before, t.v2.bytes.size() / 2);
  const auto& req = t.dl.requests().back();
  EXPECT_NE(std::find(req.headers.begin(), req.headers.end(),
                      std::pair<std::string, std::string>("X-Oxide-Base-SHA256", t.v1.ref.sha256)),
            req.headers.end());
}

void UnhealthyModelRollsBack(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.PublishPatch(t.v1, t.v2);
  t.health.healthy = false;
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_EQ(t.Active(), t.v1.bytes);
  EXPECT_TRUE(Took(t, S::kActivated, E::kUnhealthy));
  const UpdateRecord& r = t.pipeline->record();
  EXPECT_EQ(r.last_outcome, Outcome::kRolledBack);
  EXPECT_EQ(r.installed->version, "v1");
  EXPECT_EQ(r.poison_failures, 1u);
  EXPECT_NE(r.last_error.find("health check"), std::string::npos);
  // The failure is queued for the server with where it happened, and survives a restart.
  ASSERT_EQ(r.pending_reports.size(), 1u);
  EXPECT_EQ(r.pending_reports[0].outcome, protocol::FailureOutcome::kRolledBack);
  EXPECT_EQ(r.pending_reports[0].stage, protocol::FailureStage::kHealthCheck);
  EXPECT_EQ(r.pending_reports[0].campaign_id, "c-v2");
  EXPECT_FALSE(r.pending_reports[0].local);
  EXPECT_EQ(r.pending_reports[0].error, r.last_error);
  t.OpenPipeline();
  EXPECT_EQ(t.pipeline->record().pending_reports.size(), 1u);
}

void CorruptPatchFallsBackToFullDownload(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.dl.SetPatch(t.Url("v2"), t.v1.ref.sha256, std::string(5000, 'x'), t.v2.ref.sha256);
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_EQ(t.Active(), t.v2.bytes);
  EXPECT_TRUE(Took(t, S::kDownloaded, E::kPatchRejected));
  for (const auto& [k, v] : t.dl.requests().back().headers) EXPECT_NE(k, "X-Oxide-Base-SHA256");
  const auto& reports = t.pipeline->record().pending_reports;
  ASSERT_EQ(reports.size(), 1u);  // the fallback, reported once (the update went on)
  EXPECT_EQ(reports[0].outcome, protocol::FailureOutcome::kFallback);
  EXPECT_EQ(reports[0].stage, protocol::FailureStage::kPatch);
  EXPECT_NE(reports[0].error.find("falling back to a full download"), std::string::npos);
  // The fallback is reported after the commit, until a heartbeat carried it.
  std::string note = t.pipeline->record().last_error;
  EXPECT_EQ(note.rfind("committed via full-download fallback: ", 0), 0u) << note;
  EXPECT_OK(t.pipeline->NoteReported("something else"));
  EXPECT_EQ(t.pipeline->record().last_error, note);
  EXPECT_OK(t.pipeline->NoteReported(note));
  EXPECT_EQ(t.pipeline->record().last_error, "");
  t.OpenPipeline();
  EXPECT_EQ(t.pipeline->record().last_error, "");  // durably
}

void CorruptFullFileFails(PipelineTest& t) {
  t.InstallV1();
  std::string bad = t.v3.bytes;
  bad[7] ^= 1;
  t.dl.SetFull(t.Url("v3"), bad, t.v3.ref.sha256);
  EXPECT_OK(t.Assign(t.v3));
  EXPECT_EQ(t.Active(), t.v1.bytes);
  EXPECT_TRUE(Took(t, S::kDownloaded, E::kStagingFailed));
  EXPECT_EQ(t.pipeline->record().last_outcome, Outcome::kFailed);
}

void MissingVersionFails(PipelineTest& t) {
  t.InstallV1();
  EXPECT_OK(t.Assign(t.v3));
  EXPECT_TRUE(Took(t, S::kDownloading, E::kDownloadFailed));
  EXPECT_EQ(t.Active(), t.v1.bytes);
  EXPECT_EQ(t.pipeline->record().poison_failures, 1u);
}

// 401/403 mean "not now" (credential re-enrolling, device pending, assignment just changed on
// the server), not a bad release: no failed update is reported against the campaign.
void DownloadRefusedByAccessIsAnInterruption(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v3);
  for (int status : {401, 403}) {
    t.dl.SetError(t.Url("v3"), status, R"({"error":"forbidden"})");
    EXPECT_STATUS(t.Assign(t.v3), ErrorCode::kUnavailable);
    EXPECT_TRUE(Took(t, S::kDownloading, E::kDownloadInterrupted)) << status;
    EXPECT_FALSE(Took(t, S::kDownloading, E::kDownloadFailed)) << status;
    EXPECT_EQ(t.pipeline->record().poison_failures, 0u);
    EXPECT_NE(t.pipeline->record().last_outcome, Outcome::kFailed);
    EXPECT_TRUE(t.Active() == t.v1.bytes);
  }
  t.dl.SetError(t.Url("v3"), 0, "");
  EXPECT_OK(t.RunToIdle());
  EXPECT_TRUE(t.Active() == t.v3.bytes);
}

void InterruptedDownloadResumes(PipelineTest& t) {
  t.Publish(t.v3);
  t.OpenPipeline();
  t.dl.FailAfterBytes(10000);
  EXPECT_STATUS(t.Assign(t.v3), ErrorCode::kUnavailable);
  EXPECT_TRUE(Took(t, S::kDownloading, E::kDownloadInterrupted));
  EXPECT_OK(t.RunToIdle());
  EXPECT_EQ(t.Active(), t.v3.bytes);
  EXPECT_EQ(t.dl.bytes_served(), t.v3.bytes.size());  // nothing fetched twice
}

void ServerIgnoringRangeRestartsCleanly(PipelineTest& t) {
  t.Publish(t.v3);
  t.OpenPipeline();
  t.dl.FailAfterBytes(10000);
  EXPECT_STATUS(t.Assign(t.v3), ErrorCode::kUnavailable);
  t.dl.set_ignore_range(true);
  EXPECT_OK(t.RunToIdle());
  EXPECT_EQ(t.Active(), t.v3.bytes);
}

void WrongSizeFailsVerification(PipelineTest& t) {
  t.Publish(t.v3);
  t.OpenPipeline();
  TestModel lying = t.v3;
  lying.ref.size_bytes += 1;
  EXPECT_OK(t.Assign(lying));
  EXPECT_TRUE(Took(t, S::kStaged, E::kVerifyFailed));
  EXPECT_EQ(t.Active(), "<absent>");
}

void BackupFailureLeavesOldModel(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.fs.InjectError("link", "/m");
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_TRUE(Took(t, S::kVerified, E::kBackupFailed));
  EXPECT_EQ(t.Active(), t.v1.bytes);
  EXPECT_EQ(t.pipeline->record().poison_failures, 0u);  // the disk's fault, not v2's
}

void SwitchFailureRollsBack(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.fs.InjectError("rename", "staging");
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_TRUE(Took(t, S::kBackedUp, E::kSwitchFailed));
  EXPECT_TRUE(Took(t, S::kRollingBack, E::kRestored));
  EXPECT_EQ(t.Active(), t.v1.bytes);
  EXPECT_EQ(t.pipeline->record().poison_failures, 0u);
}

void NewAssignmentSupersedes(PipelineTest& t, S where) {
  t.InstallV1();
  t.Publish(t.v2);
  t.Publish(t.v3);
  t.stop_in = where;
  EXPECT_STATUS(t.Assign(t.v2), ErrorCode::kCancelled);
  EXPECT_EQ(t.pipeline->record().state, where);
  t.stop_in.reset();
  EXPECT_OK(t.Assign(t.v3));
  EXPECT_TRUE(Took(t, where, E::kSuperseded));
  EXPECT_EQ(t.Active(), t.v3.bytes);
  EXPECT_EQ(t.pipeline->record().poison_failures, 0u);
}

void PoisonedVersionIsRefused(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.health.healthy = false;
  for (int i = 0; i < 3; ++i) EXPECT_OK(t.Assign(t.v2));
  auto d = t.pipeline->OnAssignment(t.v2.ref);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, AssignmentDecision::kRefused);
  EXPECT_NE(t.pipeline->record().last_error.find("refused"), std::string::npos);
  t.health.healthy = true;
  t.Publish(t.v3);
  EXPECT_OK(t.Assign(t.v3));
  EXPECT_EQ(t.Active(), t.v3.bytes);
}

void NoRoomIsReportedWithoutTouchingTheModel(PipelineTest& t) {
  t.InstallV1();
  TestModel huge = t.v3;
  huge.ref.size_bytes = uint64_t{1} << 60;
  EXPECT_STATUS(t.pipeline->OnAssignment(huge.ref).status(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(t.pipeline->record().state, S::kIdle);
  EXPECT_NE(t.pipeline->record().last_error.find("disk space"), std::string::npos);
  EXPECT_EQ(t.Active(), t.v1.bytes);
}

// A model the record does not know (factory-installed, or state.json lost) is adopted
// as `previous` by its hash, used as the patch base, and restored when the update fails.
void UnknownActiveModelSurvives(PipelineTest& t, bool lose_state_file, bool healthy) {
  if (lose_state_file) {
    t.InstallV1();
    ASSERT_TRUE(AtomicWriteFile(t.state_dir + "/m/state.json", "{garbage").ok());
  } else {
    t.PlaceActive(t.v1);
  }
  t.OpenPipeline();
  EXPECT_FALSE(t.pipeline->record().installed.has_value());
  t.Publish(t.v2);
  t.PublishPatch(t.v1, t.v2);
  t.health.healthy = healthy;
  uint64_t before = t.dl.bytes_served();
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_EQ(t.Active(), healthy ? t.v2.bytes : t.v1.bytes);
  // The adopted file was the patch base.
  EXPECT_LT(t.dl.bytes_served() - before, t.v2.bytes.size() / 2);
  const UpdateRecord& r = t.pipeline->record();
  if (!healthy) {
    ASSERT_TRUE(r.installed.has_value());
    EXPECT_EQ(r.installed->sha256, t.v1.ref.sha256);
    EXPECT_EQ(r.installed->version, "");
  }
}

void UnknownActiveModelSurvivesFailureBeforeActivation(PipelineTest& t) {
  t.PlaceActive(t.v1);
  t.OpenPipeline();
  std::string bad = t.v3.bytes;
  bad[9] ^= 1;
  t.dl.SetFull(t.Url("v3"), bad, t.v3.ref.sha256);
  EXPECT_OK(t.Assign(t.v3));
  EXPECT_EQ(t.Active(), t.v1.bytes);
}

void UnknownActiveModelAlreadyAssignedIsAdopted(PipelineTest& t) {
  t.PlaceActive(t.v1);
  t.OpenPipeline();
  auto d = t.pipeline->OnAssignment(t.v1.ref);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, AssignmentDecision::kUpToDate);
  EXPECT_EQ(t.pipeline->record().installed->version, "v1");
  EXPECT_TRUE(t.dl.requests().empty());
}

// The server withdraws or replaces the assignment: an update it no longer wants stops before it
// touches the active model (a download at its next chunk), and nothing counts against it.
void WithdrawnDuringDownloadStopsIt(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v3);
  t.on_progress = [&t](const UpdateRecord& r) {
    if (r.download.bytes_done >= 10000) t.pipeline->Supersede("assignment withdrawn");
  };
  uint64_t before = t.dl.bytes_served();
  EXPECT_OK(t.Assign(t.v3));
  EXPECT_TRUE(Took(t, S::kDownloading, E::kSuperseded));
  EXPECT_LT(t.dl.bytes_served() - before, t.v3.bytes.size() / 2);  // stopped at the next chunk
  EXPECT_EQ(t.Active(), t.v1.bytes);
  EXPECT_EQ(t.pipeline->record().poison_failures, 0u);
  EXPECT_FALSE(t.pipeline->record().target.has_value());
}

void WithdrawnAtTheRecheckBeforeSwitch(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  int rechecks = 0;
  t.recheck = [&](const UpdateRecord& r) {
    ++rechecks;
    EXPECT_EQ(r.state, S::kVerified);
    t.pipeline->Supersede("assignment changed to v9");
  };
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_EQ(rechecks, 1);
  EXPECT_TRUE(Took(t, S::kVerified, E::kSuperseded));
  EXPECT_EQ(t.Active(), t.v1.bytes);
}

void WithdrawnAfterActivationStillCommits(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.stop_in = S::kActivated;
  EXPECT_STATUS(t.Assign(t.v2), ErrorCode::kCancelled);
  t.stop_in.reset();
  t.pipeline->Supersede("assignment withdrawn");
  EXPECT_OK(t.pipeline->Run());
  EXPECT_EQ(t.Active(), t.v2.bytes);
  EXPECT_EQ(t.pipeline->record().last_outcome, Outcome::kCommitted);
}

// The payload vanished in `downloaded` (e.g. a crash): download again, never fail, since a lost
// file is the device's problem, not the version's.
void LostPayloadIsDownloadedAgain(PipelineTest& t) {
  t.Publish(t.v3);
  t.OpenPipeline();
  t.stop_in = S::kDownloaded;
  EXPECT_STATUS(t.Assign(t.v3), ErrorCode::kCancelled);
  t.stop_in.reset();
  ASSERT_OK(t.posix.Remove(t.pipeline->paths().partial));
  EXPECT_OK(t.pipeline->Run());
  EXPECT_TRUE(Took(t, S::kDownloaded, E::kPayloadLost));
  EXPECT_EQ(t.Active(), t.v3.bytes);
  EXPECT_EQ(t.pipeline->record().poison_failures, 0u);
}

// The poison count belongs to one version; accepting another clears it.
void PoisonCountRestartsForAnotherVersion(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.Publish(t.v3);
  t.health.healthy = false;
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_EQ(t.pipeline->record().poison_failures, 2u);
  t.health.healthy = true;
  auto d = t.pipeline->OnAssignment(t.v3.ref);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(t.pipeline->record().poison_failures, 0u);
  EXPECT_EQ(t.pipeline->record().poison_version, "");
  t.OpenPipeline();  // cleared in the persisted transition
  EXPECT_EQ(t.pipeline->record().poison_failures, 0u);
}

void HealthCheckThatCannotRunIsNotCounted(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.health.local_fault = true;
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_EQ(t.Active(), t.v1.bytes);
  EXPECT_EQ(t.pipeline->record().last_outcome, Outcome::kRolledBack);
  EXPECT_EQ(t.pipeline->record().poison_failures, 0u);
  EXPECT_TRUE(t.pipeline->record().last_local_fault);
  const auto& reports = t.pipeline->record().pending_reports;
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_TRUE(reports[0].local);  // the server counts it toward no threshold
  EXPECT_EQ(reports[0].error.rfind("health check could not run", 0), 0u) << reports[0].error;
}

// Each health check is counted before it starts; a device that dies during it (the
// fake returns an error, then the test restarts the agent) rolls back after the limit.
void CrashesDuringHealthCheckRollBack(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.health.fail_with = Internal("the device went down");
  size_t checks_before = t.health.requests.size();
  EXPECT_STATUS(t.Assign(t.v2), ErrorCode::kInternal);
  for (int restart = 0; restart < 2; ++restart) {
    t.pipeline.reset();
    t.fs.Crash();
    t.OpenPipeline();
    EXPECT_EQ(t.pipeline->record().state, S::kActivated);
    EXPECT_STATUS(t.pipeline->Run(), ErrorCode::kInternal);
  }
  t.pipeline.reset();
  t.fs.Crash();
  t.OpenPipeline();
  EXPECT_OK(t.pipeline->Run());
  EXPECT_EQ(t.health.requests.size() - checks_before, 3u);
  EXPECT_EQ(t.Active(), t.v1.bytes);
  EXPECT_EQ(t.pipeline->record().poison_failures, 1u);
  EXPECT_NE(t.pipeline->record().last_error.find("did not finish"), std::string::npos);
}

// A local error is reported at once and retried; after max_local_failures the update
// is given up without counting against the version.
void LocalErrorsGiveUp(PipelineTest& t, S where, const std::function<void(PipelineTest&)>& fault) {
  t.InstallV1();
  t.Publish(t.v3);
  t.stop_in = where;
  if (where != S::kDownloading) {
    EXPECT_STATUS(t.Assign(t.v3), ErrorCode::kCancelled);
  } else {
    ASSERT_TRUE(t.pipeline->OnAssignment(t.v3.ref).ok());
  }
  t.stop_in.reset();
  fault(t);
  Status st = t.pipeline->Run();
  EXPECT_TRUE(st.code() == ErrorCode::kIo || st.code() == ErrorCode::kNotFound) << st.ToString();
  EXPECT_EQ(t.pipeline->record().state, where);
  EXPECT_NE(t.pipeline->record().last_error, "");  // the next heartbeat shows it
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(t.pipeline->Run().ok());
  EXPECT_OK(t.pipeline->Run());
  EXPECT_TRUE(Took(t, where, E::kLocalFault));
  const UpdateRecord& r = t.pipeline->record();
  EXPECT_EQ(r.last_outcome, Outcome::kFailed);
  EXPECT_EQ(r.poison_failures, 0u);
  EXPECT_NE(r.last_error.find("local errors"), std::string::npos) << r.last_error;
  EXPECT_EQ(t.Active(), t.v1.bytes);
  t.fs.InjectError("", "");
}

// A 206 for another resource (a cache ignoring If-Range) is never appended.
void ResumeOfAChangedResourceRestarts(PipelineTest& t) {
  t.InstallV1();
  t.PublishPatch(t.v1, t.v3);
  t.Publish(t.v3);
  t.dl.FailAfterBytes(10000);
  EXPECT_STATUS(t.Assign(t.v3), ErrorCode::kUnavailable);
  EXPECT_TRUE(t.pipeline->record().download.via_patch);
  t.dl.ClearPatches(t.Url("v3"));
  t.dl.set_ignore_if_range(true);
  EXPECT_OK(t.RunToIdle());
  EXPECT_EQ(t.Active(), t.v3.bytes);
  EXPECT_FALSE(Took(t, S::kDownloaded, E::kPatchRejected));  // no mixed patch+full file
}

struct Scenario {
  const char* name;
  std::function<void(PipelineTest&)> run;
};

const std::vector<Scenario>& Scenarios() {
  static const std::vector<Scenario> kScenarios = {
      {"FirstInstallIsAFullDownload", FirstInstallIsAFullDownload},
      {"UpdateArrivesAsPatch", UpdateArrivesAsPatch},
      {"UnhealthyModelRollsBack", UnhealthyModelRollsBack},
      {"CorruptPatchFallsBackToFullDownload", CorruptPatchFallsBackToFullDownload},
      {"CorruptFullFileFails", CorruptFullFileFails},
      {"MissingVersionFails", MissingVersionFails},
      {"DownloadRefusedByAccessIsAnInterruption", DownloadRefusedByAccessIsAnInterruption},
      {"InterruptedDownloadResumes", InterruptedDownloadResumes},
      {"ServerIgnoringRangeRestartsCleanly", ServerIgnoringRangeRestartsCleanly},
      {"WrongSizeFailsVerification", WrongSizeFailsVerification},
      {"BackupFailureLeavesOldModel", BackupFailureLeavesOldModel},
      {"SwitchFailureRollsBack", SwitchFailureRollsBack},
      {"SupersededWhileDownloading",
       [](PipelineTest& t) { NewAssignmentSupersedes(t, S::kDownloading); }},
      {"SupersededWhenDownloaded",
       [](PipelineTest& t) { NewAssignmentSupersedes(t, S::kDownloaded); }},
      {"SupersededWhenStaged", [](PipelineTest& t) { NewAssignmentSupersedes(t, S::kStaged); }},
      {"SupersededWhenVerified", [](PipelineTest& t) { NewAssignmentSupersedes(t, S::kVerified); }},
      {"PoisonedVersionIsRefused", PoisonedVersionIsRefused},
      {"NoRoomIsReportedWithoutTouchingTheModel", NoRoomIsReportedWithoutTouchingTheModel},
      {"FactoryModelIsRestoredAfterUnhealthyUpdate",
       [](PipelineTest& t) { UnknownActiveModelSurvives(t, false, false); }},
      {"FactoryModelIsPatchBase",
       [](PipelineTest& t) { UnknownActiveModelSurvives(t, false, true); }},
      {"ModelBehindBrokenStateFileIsRestored",
       [](PipelineTest& t) { UnknownActiveModelSurvives(t, true, false); }},
      {"UnknownActiveModelSurvivesFailureBeforeActivation",
       UnknownActiveModelSurvivesFailureBeforeActivation},
      {"UnknownActiveModelAlreadyAssignedIsAdopted", UnknownActiveModelAlreadyAssignedIsAdopted},
      {"WithdrawnDuringDownloadStopsIt", WithdrawnDuringDownloadStopsIt},
      {"WithdrawnAtTheRecheckBeforeSwitch", WithdrawnAtTheRecheckBeforeSwitch},
      {"WithdrawnAfterActivationStillCommits", WithdrawnAfterActivationStillCommits},
      {"LostPayloadIsDownloadedAgain", LostPayloadIsDownloadedAgain},
      {"PoisonCountRestartsForAnotherVersion", PoisonCountRestartsForAnotherVersion},
      {"HealthCheckThatCannotRunIsNotCounted", HealthCheckThatCannotRunIsNotCounted},
      {"CrashesDuringHealthCheckRollBack", CrashesDuringHealthCheckRollBack},
      {"DiskErrorsWhileDownloadingGiveUp",
       [](PipelineTest& t) {
         LocalErrorsGiveUp(t, S::kDownloading,
                           [](PipelineTest& f) { f.fs.InjectError("append", "partial"); });
       }},
      {"DiskErrorsWhileStagingGiveUp",
       [](PipelineTest& t) {
         LocalErrorsGiveUp(t, S::kDownloaded,
                           [](PipelineTest& f) { f.fs.InjectError("rename", "partial"); });
       }},
      {"MissingStagingWhenVerifyingGivesUp",
       [](PipelineTest& t) {
         LocalErrorsGiveUp(t, S::kStaged, [](PipelineTest& f) {
           ASSERT_OK(f.posix.Remove(f.pipeline->paths().staging));
         });
       }},
      {"DiskErrorsBeforeBackupGiveUp",
       [](PipelineTest& t) {
         LocalErrorsGiveUp(t, S::kVerified,
                           [](PipelineTest& f) { f.fs.InjectError("remove", "backup"); });
       }},
      {"ResumeOfAChangedResourceRestarts", ResumeOfAChangedResourceRestarts},
  };
  return kScenarios;
}

class PipelineScenario : public PipelineTest, public ::testing::WithParamInterface<Scenario> {};

TEST_P(PipelineScenario, Runs) { GetParam().run(*this); }

INSTANTIATE_TEST_SUITE_P(All, PipelineScenario, ::testing::ValuesIn(Scenarios()),
                         [](const auto& p) { return std::string(p.param.name); });

TEST(PipelineScenarios, TogetherTakeEveryTableRow) {
  std::set<std::pair<S, E>> taken;
  for (const Scenario& s : Scenarios()) {
    PipelineTest t;
    s.run(t);
    taken.insert(t.taken.begin(), t.taken.end());
  }
  for (const Transition& row : TransitionTable()) {
    EXPECT_TRUE(taken.count({row.from, row.event}))
        << "row never exercised: " << ToString(row.from) << " + " << ToString(row.event);
  }
  EXPECT_EQ(taken.size(), TransitionTable().size());
}

// A stop request is honoured inside long steps (hashing, patching, verifying), which
// stop cleanly: the step simply runs again after the restart, and nothing counts as failed.
struct StopCase {
  const char* name;
  bool via_patch;
  S where;
};

class StopInsideLongSteps : public PipelineTest, public ::testing::WithParamInterface<StopCase> {};

TEST_P(StopInsideLongSteps, StopsWithinABlockAndResumes) {
  const StopCase& c = GetParam();
  if (c.via_patch) {
    InstallV1();
    PublishPatch(v1, v2);
  } else {
    OpenPipeline();
  }
  Publish(v2);
  stop_in = c.where;
  EXPECT_STATUS(Assign(v2), ErrorCode::kCancelled);
  stop_in.reset();
  int asked = 0;  // 1: Run()'s own check between states; 2: inside the step
  stop_now = [&] { return pipeline->record().state == c.where && ++asked >= 2; };
  EXPECT_STATUS(pipeline->Run(), ErrorCode::kCancelled);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(pipeline->record().state, c.where);
  EXPECT_EQ(pipeline->record().local_failures, 0u);
  stop_now = nullptr;
  EXPECT_OK(pipeline->Run());
  EXPECT_EQ(Active(), v2.bytes);
  EXPECT_FALSE(Took(S::kDownloaded, E::kPatchRejected));
  EXPECT_EQ(pipeline->record().poison_failures, 0u);
}

// A refused version is reported once per campaign: a later campaign for the same version (the
// first report long acknowledged) gets its own report, or that campaign would wait forever.
TEST_F(PipelineTest, RefusalIsReportedOncePerCampaign) {
  InstallV1();
  Publish(v2);
  health.healthy = false;
  for (int i = 0; i < 3; ++i) EXPECT_OK(Assign(v2));
  auto pending_refusals = [&] {
    int n = 0;
    for (const auto& r : pipeline->record().pending_reports) {
      n += r.outcome == protocol::FailureOutcome::kRefused;
    }
    return n;
  };
  auto ack_all = [&] {
    std::vector<std::string> ids;
    for (const auto& r : pipeline->record().pending_reports) ids.push_back(r.id);
    ASSERT_OK(pipeline->AckReports(ids));
  };
  ack_all();
  ModelRef in_a = v2.ref;
  in_a.campaign_id = "c-a";
  ASSERT_OK(pipeline->OnAssignment(in_a).status());
  ASSERT_OK(pipeline->OnAssignment(in_a).status());
  EXPECT_EQ(pending_refusals(), 1);
  ack_all();
  ASSERT_OK(pipeline->OnAssignment(in_a).status());
  EXPECT_EQ(pending_refusals(), 0);
  ModelRef in_b = v2.ref;
  in_b.campaign_id = "c-b";
  auto d = pipeline->OnAssignment(in_b);
  ASSERT_OK(d.status());
  EXPECT_EQ(*d, AssignmentDecision::kRefused);
  ASSERT_EQ(pending_refusals(), 1);
  EXPECT_EQ(pipeline->record().pending_reports.back().campaign_id, "c-b");
}

INSTANTIATE_TEST_SUITE_P(All, StopInsideLongSteps,
                         ::testing::Values(StopCase{"Patching", true, S::kDownloaded},
                                           StopCase{"HashingTheDownload", false, S::kDownloaded},
                                           StopCase{"Verifying", false, S::kStaged}),
                         [](const auto& p) { return std::string(p.param.name); });

}  // namespace
}  // namespace oxide::agent
