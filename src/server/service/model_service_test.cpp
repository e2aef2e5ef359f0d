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
  // Queued: v1 and v2 from the empty base, v1 -> v2.
  EXPECT_TRUE(*env.worker->RunOnce());
  EXPECT_TRUE(*env.worker->RunOnce());
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
  while (*env.worker->RunOnce()) {
  }
  EXPECT_EQ(env.store->patches().Get(v1.sha256, v2.sha256)->state, store::PatchState::kFailed);
  auto plan = env.models->PlanDownload("m", "v2", v1.sha256, "v1");
  ASSERT_OK(plan.status());
  EXPECT_FALSE(plan->is_patch);
}

TEST_F(ModelServiceTest, PatchNotSmallerThanTargetIsNotServed) {
  auto v1 = env.Upload("m", "v1", "base bytes");
  auto v2 = env.Upload("m", "v2", "tiny");
  while (*env.worker->RunOnce()) {
  }
  EXPECT_EQ(env.store->patches().Get(v1.sha256, v2.sha256)->state, store::PatchState::kNotSmaller);
  EXPECT_FALSE(env.models->PlanDownload("m", "v2", v1.sha256, "")->is_patch);
}

TEST_F(ModelServiceTest, DownloadPlanServesReadyPatchOnlyForTheExactBaseHash) {
  auto v1 = env.Upload("m", "v1", "first version of the model");
  auto v2 = env.Upload("m", "v2", "second version of the model");
  while (*env.worker->RunOnce()) {
  }
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

// ---- first installs: patches against the empty base (issue #13) ----

const std::string kEmpty(protocol::kEmptySha256);

// Builds every queued job.
void Drain(testing::TestEnv& env) {
  while (*env.worker->RunOnce()) {
  }
}

TEST_F(ModelServiceTest, UploadQueuesAPatchFromTheEmptyBase) {
  auto v1 = env.Upload("m", "v1", "first version of the model");
  auto p = env.store->patches().Get(kEmpty, v1.sha256);
  ASSERT_OK(p.status());
  EXPECT_EQ(p->state, store::PatchState::kPending);
  // Built like any job (the builder gets "" for the empty base), stored as a blob.
  EXPECT_TRUE(*env.worker->RunOnce());
  p = env.store->patches().Get(kEmpty, v1.sha256);
  EXPECT_EQ(p->state, store::PatchState::kReady);
  EXPECT_TRUE(env.blobs->Exists(p->patch_sha256));
  // Queued once: the same bytes under another version (and a second upload) add nothing.
  EXPECT_FALSE(*env.models->EnsurePatch(kEmpty, v1.sha256));
  EXPECT_EQ(env.store->patches().ListForTarget(v1.sha256)->size(), 1u);
  // Kept by the garbage collection (a patch blob), and the empty base needs no blob at all.
  EXPECT_OK(env.models->CollectGarbage(Clock::Duration::zero()).status());
  EXPECT_TRUE(env.blobs->Exists(p->patch_sha256));
  EXPECT_FALSE(env.blobs->Exists(kEmpty));
}

TEST_F(ModelServiceTest, DeviceWithoutAModelGetsTheEmptyBasePatchOnlyWhenItDeclaresVersions) {
  auto v1 = env.Upload("m", "v1", "first version of the model");
  // Not built yet: the full file (the request does not wait for the build).
  EXPECT_FALSE(env.models->PlanDownload("m", "v1", "", "", "2,3")->is_patch);
  Drain(env);
  auto plan = env.models->PlanDownload("m", "v1", "", "", "2,3");
  ASSERT_OK(plan.status());
  EXPECT_TRUE(plan->is_patch);
  EXPECT_EQ(plan->base_sha256, kEmpty);
  EXPECT_EQ(plan->base_version, "");
  EXPECT_EQ(plan->blob_size, 10u);
  EXPECT_EQ(plan->target.sha256, v1.sha256);
  EXPECT_TRUE(env.models->PlanDownload("m", "v1", "", "", "2")->is_patch);
  // An old agent or a plain download (no versions header) gets the model file.
  EXPECT_FALSE(env.models->PlanDownload("m", "v1", "", "")->is_patch);
  // A client that applies only version 3 cannot take this version-2 patch.
  EXPECT_FALSE(env.models->PlanDownload("m", "v1", "", "", "3")->is_patch);
}

TEST_F(ModelServiceTest, BaseWithoutAPatchFallsBackToTheEmptyBasePatch) {
  auto v1 = env.Upload("m", "v1", "first version of the model");
  auto v2 = env.Upload("m", "v2", "second version of the model");
  ASSERT_OK(env.store->patches().Get(kEmpty, v2.sha256).status());
  Drain(env);
  // The exact base wins when its patch is servable.
  auto exact = env.models->PlanDownload("m", "v2", v1.sha256, "", "2,3");
  ASSERT_TRUE(exact->is_patch);
  EXPECT_EQ(exact->base_sha256, v1.sha256);
  EXPECT_EQ(exact->base_version, "v1");
  // A base the server never saw: the empty-base patch for a declared client, else the file.
  const std::string stranger(64, 'e');
  auto plan = env.models->PlanDownload("m", "v2", stranger, "", "2,3");
  ASSERT_TRUE(plan->is_patch);
  EXPECT_EQ(plan->base_sha256, kEmpty);
  EXPECT_FALSE(env.models->PlanDownload("m", "v2", stranger, "")->is_patch);
  // A base whose patch failed: the same.
  auto v0 = env.Upload("m", "v0", "unbuildable base");
  ASSERT_OK(env.models->EnsurePatch(v0.sha256, v2.sha256).status());
  Drain(env);
  ASSERT_EQ(env.store->patches().Get(v0.sha256, v2.sha256)->state, store::PatchState::kFailed);
  EXPECT_EQ(env.models->PlanDownload("m", "v2", v0.sha256, "", "2,3")->base_sha256, kEmpty);
  // The device already runs the target: nothing to patch.
  EXPECT_FALSE(env.models->PlanDownload("m", "v2", v2.sha256, "", "2,3")->is_patch);
}

TEST_F(ModelServiceTest, FirstInstallPatchesOffQueueAndOfferNone) {
  env.models->SetFirstInstallPatches(false);
  auto v1 = env.Upload("m", "v1", "first version of the model");
  EXPECT_STATUS(env.store->patches().Get(kEmpty, v1.sha256).status(), ErrorCode::kNotFound);
  Drain(env);
  EXPECT_FALSE(env.models->PlanDownload("m", "v1", "", "", "2,3")->is_patch);
  // Not queued on demand either.
  EXPECT_STATUS(env.store->patches().Get(kEmpty, v1.sha256).status(), ErrorCode::kNotFound);
}

TEST_F(ModelServiceTest, EmptyBasePatchNotSmallerIsNotServed) {
  env.Upload("m", "v1", "tiny");
  Drain(env);
  EXPECT_FALSE(env.models->PlanDownload("m", "v1", "", "", "2,3")->is_patch);
}

// A version stored before first-install patches existed gets its job on the first request of a
// client that declared its versions.
TEST_F(ModelServiceTest, MissingEmptyBaseJobIsQueuedOnDemand) {
  auto blob = env.blobs->Put("a version from an older server");
  ASSERT_OK(blob.status());
  store::ModelVersionRecord rec;
  rec.model_id = "m";
  rec.version = "v1";
  rec.sha256 = blob->sha256;
  rec.size_bytes = blob->size;
  rec.format = "unknown";
  ASSERT_OK(env.store->models().Put(rec).status());
  EXPECT_FALSE(env.models->PlanDownload("m", "v1", "", "")->is_patch);
  EXPECT_STATUS(env.store->patches().Get(kEmpty, rec.sha256).status(), ErrorCode::kNotFound);
  EXPECT_FALSE(env.models->PlanDownload("m", "v1", "", "", "2,3")->is_patch);
  EXPECT_OK(env.store->patches().Get(kEmpty, rec.sha256).status());
  Drain(env);
  EXPECT_TRUE(env.models->PlanDownload("m", "v1", "", "", "2,3")->is_patch);
}

// The version byte of the stored patch decides, whatever the job says.
TEST_F(ModelServiceTest, PatchIsServedOnlyInAVersionTheClientAccepts) {
  testing::TestEnv v3env;
  // A builder whose patches are format version 3 (the coded-tensor strategy).
  v3env.worker = std::make_unique<PatchWorker>(
      *v3env.store, *v3env.blobs, v3env.clock,
      [](const std::string&, const std::string&, const std::string& out) -> Result<BuiltPatch> {
        OXIDE_RETURN_IF_ERROR(AtomicWriteFile(out, std::string("OXDL") + '\x03' + "coded"));
        return BuiltPatch{"coded"};
      });
  auto v1 = v3env.Upload("m", "v1", "first version of the model");
  v3env.Upload("m", "v2", "second version of the model");
  Drain(v3env);
  EXPECT_TRUE(v3env.models->PlanDownload("m", "v2", v1.sha256, "", "2,3")->is_patch);
  EXPECT_TRUE(v3env.models->PlanDownload("m", "v2", v1.sha256, "", " 3 ")->is_patch);
  // Version 2 only (explicitly, or by sending no header): the full file.
  EXPECT_FALSE(v3env.models->PlanDownload("m", "v2", v1.sha256, "", "2")->is_patch);
  EXPECT_FALSE(v3env.models->PlanDownload("m", "v2", v1.sha256, "")->is_patch);
  EXPECT_FALSE(v3env.models->PlanDownload("m", "v2", "", "", "2")->is_patch);
  auto first = v3env.models->PlanDownload("m", "v2", "", "", "2,3");
  ASSERT_TRUE(first->is_patch);
  EXPECT_EQ(first->strategy, "coded");
}

TEST_F(ModelServiceTest, MalformedPatchVersionsAreCorrupt) {
  env.Upload("m", "v1", "first version of the model");
  for (const char* bad : {"two", "2,", "0", "2;3", "999"}) {
    EXPECT_STATUS(env.models->PlanDownload("m", "v1", "", "", bad).status(), ErrorCode::kCorrupt)
        << bad;
  }
}

}  // namespace
}  // namespace oxide::server
