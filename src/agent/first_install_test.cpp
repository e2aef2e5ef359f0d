// First installs and devices without a usable base (issue #13): the server may send the target
// as a patch against the empty base; the pipeline rebuilds it without any installed model, and
// every failure still ends in the full file.
#include <gtest/gtest.h>

#include <algorithm>

#include "agent/pipeline_test_util.hpp"
#include "protocol/patch_versions.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

std::string Header(const DownloadRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class FirstInstallTest : public PipelineTest {
 protected:
  const std::string kEmpty{protocol::kEmptySha256};
  // The target compressed against nothing, as the server's background job builds it.
  void PublishFromEmpty(const TestModel& to, std::string* bytes = nullptr) {
    auto patch = delta::BuildPatch("", to.bytes);
    ASSERT_OK(patch.status());
    if (bytes != nullptr) *bytes = patch->patch;
    dl.SetPatch(Url(to.ref.version), kEmpty, patch->patch, to.ref.sha256);
  }
  std::vector<DownloadRequest> Downloads(const std::string& version) const {
    std::vector<DownloadRequest> out;
    for (const auto& r : dl.requests()) {
      if (r.url == Url(version)) out.push_back(r);
    }
    return out;
  }
};

TEST_F(FirstInstallTest, FreshDeviceInstallsFromTheEmptyBasePatch) {
  Publish(v1);
  std::string patch;
  PublishFromEmpty(v1, &patch);
  ASSERT_LT(patch.size(), v1.bytes.size());
  OpenPipeline();
  ASSERT_OK(Assign(v1));
  EXPECT_EQ(Active(), v1.bytes);
  EXPECT_EQ(dl.bytes_served(), patch.size()) << "the patch, not the full file";
  EXPECT_EQ(pipeline->record().installed->sha256, v1.ref.sha256);
  EXPECT_EQ(pipeline->record().last_error, "") << "no fallback";
  auto reqs = Downloads("v1");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(Header(reqs[0], "X-Oxide-Patch-Versions"), "2,3");
  EXPECT_EQ(Header(reqs[0], "X-Oxide-Base-SHA256"), "") << "no model: no base";
}

// A device whose model the server cannot diff against (no patch from it) gets the empty-base
// patch: applied without reading the active model, which stays the rollback copy.
TEST_F(FirstInstallTest, DeviceWithAnUnknownBaseUsesTheEmptyBasePatch) {
  InstallV1();
  Publish(v3);
  PublishFromEmpty(v3);
  const uint64_t before = dl.bytes_served();
  ASSERT_OK(Assign(v3));
  EXPECT_EQ(Active(), v3.bytes);
  EXPECT_LT(dl.bytes_served() - before, v3.bytes.size());
  EXPECT_EQ(pipeline->record().last_error, "");
  auto reqs = Downloads("v3");
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(Header(reqs[0], "X-Oxide-Base-SHA256"), v1.ref.sha256);
}

TEST_F(FirstInstallTest, UnhealthyFirstInstallFromPatchRemovesTheModel) {
  Publish(v1);
  PublishFromEmpty(v1);
  health.healthy = false;
  OpenPipeline();
  ASSERT_OK(Assign(v1));
  EXPECT_EQ(Active(), "<absent>") << "nothing to roll back to: the failed model is removed";
  EXPECT_EQ(pipeline->record().last_outcome, Outcome::kRolledBack);
}

// A corrupt patch body (or one this build cannot read) falls back to the full file, which is
// requested without the versions header: the server must answer with the model file itself.
TEST_F(FirstInstallTest, BrokenEmptyBasePatchFallsBackToTheFullFile) {
  Publish(v1);
  std::string patch;
  PublishFromEmpty(v1, &patch);
  patch[patch.size() - 3] ^= 0x55;
  dl.SetPatch(Url("v1"), kEmpty, patch, v1.ref.sha256);
  OpenPipeline();
  ASSERT_OK(Assign(v1));
  EXPECT_EQ(Active(), v1.bytes);
  EXPECT_NE(pipeline->record().last_error.find("full-download fallback"), std::string::npos)
      << pipeline->record().last_error;
  auto reqs = Downloads("v1");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(Header(reqs[0], "X-Oxide-Patch-Versions"), "2,3");
  EXPECT_EQ(Header(reqs[1], "X-Oxide-Patch-Versions"), "") << "the fallback asks for the file";
}

// A patch for another target (the server's mistake) is caught by the target hash.
TEST_F(FirstInstallTest, EmptyBasePatchOfAnotherTargetFallsBack) {
  Publish(v1);
  auto other = delta::BuildPatch("", v3.bytes);
  ASSERT_OK(other.status());
  dl.SetPatch(Url("v1"), kEmpty, other->patch, v1.ref.sha256);
  OpenPipeline();
  ASSERT_OK(Assign(v1));
  EXPECT_EQ(Active(), v1.bytes);
  EXPECT_NE(pipeline->record().last_error.find("full-download fallback"), std::string::npos);
}

// The patch download resumes like any payload: cut mid-way, it continues at the synced offset.
TEST_F(FirstInstallTest, InterruptedEmptyBasePatchResumes) {
  Publish(v1);
  std::string patch;
  PublishFromEmpty(v1, &patch);
  ASSERT_GT(patch.size(), 2 * Options().sync_every_bytes) << "the test needs a resumable patch";
  dl.FailAfterBytes(patch.size() / 2 + 100);
  OpenPipeline();
  EXPECT_OK(pipeline->OnAssignment(v1.ref).status());
  EXPECT_STATUS(pipeline->Run(), ErrorCode::kUnavailable);
  OpenPipeline();  // as after a restart
  ASSERT_OK(RunToIdle());
  EXPECT_EQ(Active(), v1.bytes);
  EXPECT_EQ(pipeline->record().last_error, "");
  auto reqs = Downloads("v1");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_NE(Header(reqs[1], "Range"), "") << "resumed, not restarted";
  EXPECT_LT(dl.bytes_served(), patch.size() + patch.size() / 2 + 200);
}

}  // namespace
}  // namespace oxide::agent
