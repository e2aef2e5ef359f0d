// --max-window-mb reaches the patch applier: a patch whose zstd frame needs a larger decoder
// window than the device allows is refused (resource_exhausted) and the full file is fetched.
#include "agent/pipeline_test_util.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

TEST_F(PipelineTest, PatchOverTheWindowLimitFallsBackToFullDownload) {
  max_window_bytes = 1 << 10;  // smaller than any frame of a 48 KiB model declares
  InstallV1();
  Publish(v2);
  PublishPatch(v1, v2);
  EXPECT_OK(Assign(v2));
  EXPECT_EQ(Active(), v2.bytes);
  EXPECT_TRUE(taken.count({OtaState::kDownloaded, OtaEvent::kPatchRejected}));
  const std::string& note = pipeline->record().last_error;
  EXPECT_NE(note.find("resource_exhausted: patch needs a larger decoder window"), std::string::npos)
      << note;
}

TEST_F(PipelineTest, PatchWithinTheWindowLimitApplies) {
  InstallV1();
  Publish(v2);
  PublishPatch(v1, v2);
  EXPECT_OK(Assign(v2));
  EXPECT_EQ(Active(), v2.bytes);
  EXPECT_FALSE(taken.count({OtaState::kDownloaded, OtaEvent::kPatchRejected}));
}

}  // namespace
}  // namespace oxide::agent
