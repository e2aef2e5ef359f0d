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
}

void CorruptPatchFallsBackToFullDownload(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.dl.SetPatch(t.Url("v2"), t.v1.ref.sha256, std::string(5000, 'x'), t.v2.ref.sha256);
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_EQ(t.Active(), t.v2.bytes);
  EXPECT_TRUE(Took(t, S::kDownloaded, E::kPatchRejected));
  for (const auto& [k, v] : t.dl.requests().back().headers) EXPECT_NE(k, "X-Oxide-Base-SHA256");
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
}

void SwitchFailureRollsBack(PipelineTest& t) {
  t.InstallV1();
  t.Publish(t.v2);
  t.fs.InjectError("rename", "staging");
  EXPECT_OK(t.Assign(t.v2));
  EXPECT_TRUE(Took(t, S::kBackedUp, E::kSwitchFailed));
  EXPECT_TRUE(Took(t, S::kRollingBack, E::kRestored));
  EXPECT_EQ(t.Active(), t.v1.bytes);
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

}  // namespace
}  // namespace oxide::agent
