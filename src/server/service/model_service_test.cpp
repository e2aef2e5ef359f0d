#include "server/service/model_service.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "base/file_util.hpp"
#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

class ModelServiceTest : public ::testing::Test {
 protected:
  testing::TestEnv env;
};

TEST_F(ModelServiceTest, UploadStoresContentAddressedBlob) {
  auto v = env.Upload("m", "v1", "hello model");
  EXPECT_EQ(v.sha256, ToHex(Sha256::Of("hello model")));
  EXPECT_EQ(v.size_bytes, 11u);
  EXPECT_EQ(v.format, "unknown");
  EXPECT_TRUE(env.blobs->Exists(v.sha256));
}

TEST_F(ModelServiceTest, UploadQueuesPatchFromPreviousVersionAndWorkerBuildsIt) {
  auto v1 = env.Upload("m", "v1", "first version of the model");
  auto v2 = env.Upload("m", "v2", "second version of the model");
  auto p = env.store->patches().Get(v1.sha256, v2.sha256);
  ASSERT_OK(p.status());
  EXPECT_EQ(p->state, store::PatchState::kPending);
  EXPECT_TRUE(*env.worker->RunOnce());
  EXPECT_FALSE(*env.worker->RunOnce());
  p = env.store->patches().Get(v1.sha256, v2.sha256);
  EXPECT_EQ(p->state, store::PatchState::kReady);
  EXPECT_EQ(p->patch_size, 10u);
  EXPECT_TRUE(env.blobs->Exists(p->patch_sha256));
}

TEST_F(ModelServiceTest, BackgroundWorkerPicksUpEnqueuedJobs) {
  env.models->SetPatchListener([this] { env.worker->Notify(); });
  env.worker->Start();
  auto v1 = env.Upload("m", "v1", "first version of the model");
  auto v2 = env.Upload("m", "v2", "second version of the model");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (env.store->patches().Get(v1.sha256, v2.sha256)->state == store::PatchState::kPending &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();  // waits on observable state, bounded by the deadline
  }
  env.worker->Stop();
  EXPECT_EQ(env.store->patches().Get(v1.sha256, v2.sha256)->state, store::PatchState::kReady);
}

TEST_F(ModelServiceTest, FailedBuildIsNeverServed) {
  auto v1 = env.Upload("m", "v1", "unbuildable base");
  auto v2 = env.Upload("m", "v2", "second version of the model");
  EXPECT_TRUE(*env.worker->RunOnce());
  EXPECT_EQ(env.store->patches().Get(v1.sha256, v2.sha256)->state, store::PatchState::kFailed);
  auto plan = env.models->PlanDownload("m", "v2", v1.sha256, "v1");
  ASSERT_OK(plan.status());
  EXPECT_FALSE(plan->is_patch);
}

TEST_F(ModelServiceTest, PatchNotSmallerThanTargetIsNotServed) {
  auto v1 = env.Upload("m", "v1", "base bytes");
  auto v2 = env.Upload("m", "v2", "tiny");
  EXPECT_TRUE(*env.worker->RunOnce());
  EXPECT_EQ(env.store->patches().Get(v1.sha256, v2.sha256)->state, store::PatchState::kNotSmaller);
  EXPECT_FALSE(env.models->PlanDownload("m", "v2", v1.sha256, "")->is_patch);
}

TEST_F(ModelServiceTest, DownloadPlanServesReadyPatchOnlyForTheExactBaseHash) {
  auto v1 = env.Upload("m", "v1", "first version of the model");
  auto v2 = env.Upload("m", "v2", "second version of the model");
  ASSERT_TRUE(*env.worker->RunOnce());
  auto plan = env.models->PlanDownload("m", "v2", v1.sha256, "");
  ASSERT_OK(plan.status());
  EXPECT_TRUE(plan->is_patch);
  EXPECT_EQ(plan->base_version, "v1");
  EXPECT_EQ(plan->strategy, "binary");
  // A label alone is not trusted.
  EXPECT_FALSE(env.models->PlanDownload("m", "v2", "", "v1")->is_patch);
  // An old agent sends nothing.
  EXPECT_FALSE(env.models->PlanDownload("m", "v2", "", "")->is_patch);
  EXPECT_STATUS(env.models->PlanDownload("m", "v2", "xyz", "").status(), ErrorCode::kCorrupt);
  EXPECT_STATUS(env.models->PlanDownload("m", "v9", "", "").status(), ErrorCode::kNotFound);
}

TEST_F(ModelServiceTest, UnknownBaseIsEnqueuedOnDemandWhenItsBlobIsKnown) {
  auto v1 = env.Upload("m", "v1", "first version of the model");
  auto v2 = env.Upload("m", "v2", "second version of the model");
  auto v3 = env.Upload("m", "v3", "third version of the model");
  EXPECT_STATUS(env.store->patches().Get(v1.sha256, v3.sha256).status(), ErrorCode::kNotFound);
  EXPECT_FALSE(env.models->PlanDownload("m", "v3", v1.sha256, "")->is_patch);
  EXPECT_OK(env.store->patches().Get(v1.sha256, v3.sha256).status());
  // A base the server never saw cannot be diffed against.
  std::string stranger(64, 'e');
  EXPECT_FALSE(env.models->PlanDownload("m", "v3", stranger, "")->is_patch);
  EXPECT_STATUS(env.store->patches().Get(stranger, v3.sha256).status(), ErrorCode::kNotFound);
}

TEST_F(ModelServiceTest, UploadQueuesPatchesFromVersionsDevicesRun) {
  auto v1 = env.Upload("m", "v1", "first version of the model");
  env.Upload("m", "v2", "second version of the model");
  ASSERT_TRUE(env.devices->Register("d0", "d0", {}).ok());
  protocol::HeartbeatRequest hb;
  hb.current_model = "m";
  hb.current_model_version = "v1";
  hb.models.push_back({"m", "v1", v1.sha256});
  env.Beat("d0", hb);
  auto v3 = env.Upload("m", "v3", "third version of the model");
  EXPECT_OK(env.store->patches().Get(v1.sha256, v3.sha256).status());
}

TEST_F(ModelServiceTest, RecordDownloadCountsDeviceAndCampaign) {
  env.SeedFleet("f", 1);
  env.Upload("m", "v1", "first version of the model");
  auto c =
      env.campaigns->Create({"m", "v1", "f", store::CampaignStrategy::kAllAtOnce, {}, {}, {}, {}});
  ASSERT_OK(c.status());
  ASSERT_OK(env.models->RecordDownload("d0", "m", "v1", 10, 100));
  ASSERT_OK(env.models->RecordDownload("ghost", "m", "v1", 10, 100));
  EXPECT_EQ(env.devices->Get("d0")->device.bytes_served, 10u);
  auto after = env.campaigns->Get(c->campaign.id);
  EXPECT_EQ(after->campaign.bytes_served, 10u);
  EXPECT_EQ(after->campaign.bytes_full, 100u);
  EXPECT_EQ(after->devices[0].bytes_full, 100u);
}

TEST_F(ModelServiceTest, UploadRejectsEmptyBodyAndBadIds) {
  auto w = env.blobs->NewWriter();
  EXPECT_STATUS(env.models->Upload("m", "v1", **w).status(), ErrorCode::kInvalidArgument);
  ASSERT_OK((*w)->Append("x"));
  EXPECT_STATUS(env.models->Upload("m", "..", **w).status(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace oxide::server
