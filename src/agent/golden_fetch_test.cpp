// The golden file of a version (issue #11) travels with the model: fetched in the download
// phase, hash-checked, kept across a restart, and handed to the health check.
#include <gtest/gtest.h>

#include <algorithm>

#include "agent/pipeline_test_util.hpp"

namespace oxide::agent {
namespace {

class GoldenFetchTest : public PipelineTest {
 protected:
  GoldenFetchTest() { fetch_golden = true; }  // as with --health-check builtin:inference
  std::string GoldenUrl(const std::string& version) const {
    return "http://cp/api/v1/models/m/versions/" + version + "/golden";
  }
  // v2 assigned with a golden file `bytes` (the server holds `served`).
  TestModel WithGolden(const std::string& bytes, const std::string& served) {
    TestModel m = v2;
    m.ref.golden_sha256 = ToHex(Sha256::Of(bytes));
    m.ref.golden_size = bytes.size();
    dl.SetFull(GoldenUrl("v2"), served, ToHex(Sha256::Of(served)));
    return m;
  }
  size_t GoldenRequests() const {
    return std::count_if(dl.requests().begin(), dl.requests().end(),
                         [&](const DownloadRequest& r) { return r.url == GoldenUrl("v2"); });
  }
  // A golden file the server answers with `status`: the update waits, the version is not blamed.
  void ExpectRetriedNotCounted(int status) {
    InstallV1();
    Publish(v2);
    TestModel m = WithGolden(golden, golden);
    dl.SetError(GoldenUrl("v2"), status, "nope");
    ASSERT_TRUE(pipeline->OnAssignment(m.ref).ok());
    for (int i = 0; i < 4; ++i) EXPECT_EQ(pipeline->Run().code(), ErrorCode::kUnavailable);
    EXPECT_FALSE(Took(OtaState::kDownloading, OtaEvent::kDownloadFailed));
    EXPECT_EQ(pipeline->record().state, OtaState::kDownloading);
    EXPECT_EQ(pipeline->record().poison_failures, 0u);
    EXPECT_EQ(Active(), v1.bytes);
  }
  const std::string golden = "golden file bytes";
};

TEST_F(GoldenFetchTest, IsFetchedWithTheModelAndHandedToTheCheck) {
  InstallV1();
  EXPECT_TRUE(health.requests.back().golden_path.empty());          // v1 has none
  EXPECT_TRUE(health.requests.back().previous_model_path.empty());  // a first install
  Publish(v2);
  TestModel m = WithGolden(golden, golden);
  m.ref.signature_change_allowed = true;
  ASSERT_TRUE(Assign(m).ok());
  EXPECT_EQ(Active(), v2.bytes);
  ASSERT_EQ(GoldenRequests(), 1u);
  const HealthCheckRequest& req = health.requests.back();
  EXPECT_EQ(req.golden_path, state_dir + "/m/golden");
  EXPECT_EQ(req.golden_sha256, m.ref.golden_sha256);
  EXPECT_EQ(req.previous_model_path, state_dir + "/m/backup");
  EXPECT_TRUE(req.signature_change_allowed);
  // Removed with the other files when the update ended.
  EXPECT_FALSE(posix.FileSize(state_dir + "/m/golden").ok());
  // The device's credential goes with it, as with the model.
  const DownloadRequest& get =
      *std::find_if(dl.requests().begin(), dl.requests().end(),
                    [&](const DownloadRequest& r) { return r.url == GoldenUrl("v2"); });
  EXPECT_NE(std::find(get.headers.begin(), get.headers.end(),
                      std::pair<std::string, std::string>("X-Oxide-Device-Id", "dev1")),
            get.headers.end());
}

// A golden file that does not match is the server's or the operator's problem (or a proxy's),
// not the model's: retried later, never counted against the version.
TEST_F(GoldenFetchTest, AGoldenFileThatDoesNotMatchItsHashIsRetriedNotCounted) {
  InstallV1();
  Publish(v2);
  TestModel m = WithGolden(golden, "GOLDEN FILE BYTES");  // same length
  ASSERT_TRUE(pipeline->OnAssignment(m.ref).ok());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(pipeline->Run().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(Active(), v1.bytes);
  EXPECT_FALSE(Took(OtaState::kDownloading, OtaEvent::kDownloadFailed));
  EXPECT_EQ(pipeline->record().state, OtaState::kDownloading);
  EXPECT_EQ(pipeline->record().poison_failures, 0u);
  EXPECT_NE(pipeline->record().last_error.find("golden file of v2 does not match its SHA-256"),
            std::string::npos)
      << pipeline->record().last_error;
  EXPECT_EQ(health.requests.size(), 1u);  // v1's only: v2 never ran
  // The operator fixes the golden file: the update goes through.
  dl.SetFull(GoldenUrl("v2"), golden, ToHex(Sha256::Of(golden)));
  ASSERT_TRUE(RunToIdle().ok());
  EXPECT_EQ(Active(), v2.bytes);
}

TEST_F(GoldenFetchTest, ALargerGoldenFileThanAnnouncedIsRetriedNotCounted) {
  InstallV1();
  Publish(v2);
  TestModel m = WithGolden(golden, golden + golden);
  ASSERT_TRUE(pipeline->OnAssignment(m.ref).ok());
  EXPECT_EQ(pipeline->Run().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(Active(), v1.bytes);
  EXPECT_FALSE(Took(OtaState::kDownloading, OtaEvent::kDownloadFailed));
  EXPECT_NE(pipeline->record().last_error.find("golden file of v2 rejected"), std::string::npos)
      << pipeline->record().last_error;
}

TEST_F(GoldenFetchTest, AGolden404IsRetriedNotCounted) { ExpectRetriedNotCounted(404); }
TEST_F(GoldenFetchTest, AGolden409IsRetriedNotCounted) { ExpectRetriedNotCounted(409); }
TEST_F(GoldenFetchTest, AGolden500IsRetriedNotCounted) { ExpectRetriedNotCounted(500); }

// An operator replaced the golden file while the update was in hand: the same version and model
// hash are assigned with another golden hash, which the device then fetches and checks.
TEST_F(GoldenFetchTest, ANewGoldenFileForTheTargetInHandIsTakenUp) {
  InstallV1();
  Publish(v2);
  TestModel old_golden = WithGolden(golden, "GOLDEN FILE BYTES");
  ASSERT_TRUE(pipeline->OnAssignment(old_golden.ref).ok());
  EXPECT_EQ(pipeline->Run().code(), ErrorCode::kUnavailable);
  const std::string replaced = "GOLDEN FILE BYTES";
  TestModel m = WithGolden(replaced, replaced);
  auto d = pipeline->OnAssignment(m.ref);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, AssignmentDecision::kContinuing);
  EXPECT_EQ(pipeline->record().target->golden_sha256, m.ref.golden_sha256);
  ASSERT_TRUE(RunToIdle().ok());
  EXPECT_EQ(Active(), v2.bytes);
}

TEST_F(GoldenFetchTest, SurvivesARestartWithoutBeingFetchedAgain) {
  InstallV1();
  Publish(v2);
  TestModel m = WithGolden(golden, golden);
  dl.FailAfterBytes(golden.size() + 1000);  // the golden file arrives, the model breaks off
  ASSERT_TRUE(pipeline->OnAssignment(m.ref).ok());
  EXPECT_EQ(pipeline->Run().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(pipeline->record().state, OtaState::kDownloading);
  EXPECT_EQ(GoldenRequests(), 1u);
  OpenPipeline();  // restart
  ASSERT_TRUE(RunToIdle().ok());
  EXPECT_EQ(Active(), v2.bytes);
  EXPECT_EQ(GoldenRequests(), 1u);
  EXPECT_EQ(health.requests.back().golden_path, state_dir + "/m/golden");
}

// Only builtin:inference reads the golden file: an agent with another health check never fetches
// it (it could be 64 MiB per device) and hands none to its check.
TEST_F(GoldenFetchTest, IsNotFetchedUnlessTheHealthCheckUsesIt) {
  fetch_golden = false;
  OpenPipeline();
  InstallV1();
  Publish(v2);
  TestModel m = WithGolden(golden, golden);
  ASSERT_TRUE(Assign(m).ok());
  EXPECT_EQ(Active(), v2.bytes);
  EXPECT_EQ(GoldenRequests(), 0u);
  EXPECT_TRUE(health.requests.back().golden_path.empty());
}

}  // namespace
}  // namespace oxide::agent
