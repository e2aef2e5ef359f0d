// Faults found by a fault-injection probe: truncated models, orphan and corrupt blobs, and meta
// served from the index stored at upload.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/file_util.hpp"
#include "server/service/blob_maintenance.hpp"
#include "server/service/model_service.hpp"
#include "server/service/test_env.hpp"
#include "testing/onnx_builder.hpp"
#include "testing/safetensors_builder.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

class ModelFaultsTest : public ::testing::Test {
 protected:
  Result<UploadResult> TryUpload(const std::string& version, const std::string& body) {
    auto w = env.blobs->NewWriter();
    EXPECT_OK(w.status());
    EXPECT_OK((*w)->Append(body));
    return env.models->Upload("m", version, **w);
  }
  size_t BlobCount() { return env.blobs->List()->size(); }
  bool TempEmpty() { return std::filesystem::is_empty(env.blobs->root() + "/.tmp"); }
  void FlipByte(const std::string& sha, size_t at) {
    std::fstream f(env.blobs->PathFor(sha), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(c ^ 0x40));
  }

  testing::TestEnv env;
};

// An ONNX model cut by 1,000 bytes used to be stored as format "unknown" and deployed.
TEST_F(ModelFaultsTest, TruncatedOnnxIsRefusedAndLeavesNoBlob) {
  const std::string onnx = oxide::testing::CheckerValidOnnxModel();
  ASSERT_GT(onnx.size(), 2000u);
  auto r = TryUpload("v1", onnx.substr(0, onnx.size() - 1000));
  EXPECT_STATUS(r.status(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("onnx"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(BlobCount(), 0u);
  EXPECT_TRUE(TempEmpty());
  EXPECT_STATUS(env.store->models().Get("m", "v1").status(), ErrorCode::kNotFound);
  auto ok = TryUpload("v1", onnx);
  ASSERT_OK(ok.status());
  EXPECT_EQ(ok->version.format, "onnx");
}

TEST_F(ModelFaultsTest, TruncatedSafeTensorsIsRefused) {
  const std::string st = oxide::testing::SampleSafetensors();
  EXPECT_STATUS(TryUpload("v1", st.substr(0, st.size() - 10)).status(),
                ErrorCode::kInvalidArgument);
  EXPECT_EQ(BlobCount(), 0u);
}

// ONNX has no magic: garbage that does not even claim a format is refused once earlier
// versions of the model were ONNX.
TEST_F(ModelFaultsTest, UnknownBytesAreRefusedWhenEarlierVersionsHadAFormat) {
  ASSERT_OK(TryUpload("v1", oxide::testing::CheckerValidOnnxModel()).status());
  auto r = TryUpload("v2", std::string(5000, '\x42'));
  EXPECT_STATUS(r.status(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("version 'v1'"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(env.Upload("other", "v1", "unknown format, no history").format, "unknown");
}

TEST_F(ModelFaultsTest, ConflictingReuploadLeavesNoBlob) {
  ASSERT_OK(TryUpload("v1", "first bytes").status());
  ASSERT_EQ(BlobCount(), 1u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_STATUS(TryUpload("v1", "other bytes " + std::to_string(i)).status(),
                  ErrorCode::kAlreadyExists);
  }
  EXPECT_EQ(BlobCount(), 1u);
  EXPECT_TRUE(TempEmpty());
}

TEST_F(ModelFaultsTest, GarbageCollectionRemovesOnlyUnreferencedBlobs) {
  auto v1 = env.Upload("m", "v1", "first version of the model");
  auto v2 = env.Upload("m", "v2", "second version of the model");
  while (*env.worker->RunOnce()) {
  }
  auto patch = *env.store->patches().Get(v1.sha256, v2.sha256);
  auto orphan = *env.blobs->Put("left behind by a crash between publish and record");
  auto report = env.models->CollectGarbage(Clock::Duration::zero());
  ASSERT_OK(report.status());
  EXPECT_EQ(report->removed, 1u);
  EXPECT_FALSE(env.blobs->Exists(orphan.sha256));
  for (const auto& sha : {v1.sha256, v2.sha256, patch.patch_sha256}) {
    EXPECT_TRUE(env.blobs->Exists(sha));
  }
}

// A flipped byte used to survive a re-upload of the correct bytes.
TEST_F(ModelFaultsTest, CorruptVersionBlobIsRemovedThenRepairedByReupload) {
  const std::string body(4096, 'q');
  auto v1 = env.Upload("m", "v1", body);
  FlipByte(v1.sha256, 100);
  // A re-upload of the same bytes verifies the stored blob and replaces it.
  auto again = TryUpload("v1", body);
  ASSERT_OK(again.status());
  EXPECT_FALSE(again->created);
  EXPECT_OK(env.blobs->Verify(v1.sha256));
  // Found corrupt later (scrub): removed, downloads refuse, meta says so, a re-upload heals.
  FlipByte(v1.sha256, 200);
  auto corrupt = env.models->Scrub();
  ASSERT_OK(corrupt.status());
  EXPECT_EQ(*corrupt, 1u);
  EXPECT_FALSE(env.blobs->Exists(v1.sha256));
  EXPECT_STATUS(env.models->PlanDownload("m", "v1", "", "").status(), ErrorCode::kUnavailable);
  EXPECT_FALSE(env.models->Meta("m", "v1")->blob_present);
  ASSERT_OK(TryUpload("v1", body).status());
  EXPECT_OK(env.blobs->Verify(v1.sha256));
  EXPECT_OK(env.models->PlanDownload("m", "v1", "", "").status());
}

TEST_F(ModelFaultsTest, CorruptPatchBlobIsRemovedAndTheJobRebuilt) {
  auto v1 = env.Upload("m", "v1", "first version of the model");
  auto v2 = env.Upload("m", "v2", "second version of the model");
  while (*env.worker->RunOnce()) {
  }
  auto patch = *env.store->patches().Get(v1.sha256, v2.sha256);
  FlipByte(patch.patch_sha256, 3);
  EXPECT_TRUE(*env.models->RepairCorruptBlob(patch.patch_sha256));
  auto requeued = *env.store->patches().Get(v1.sha256, v2.sha256);
  EXPECT_EQ(requeued.state, store::PatchState::kPending);
  auto plan = env.models->PlanDownload("m", "v2", v1.sha256, "");
  ASSERT_OK(plan.status());
  EXPECT_FALSE(plan->is_patch);  // the full file meanwhile
  while (*env.worker->RunOnce()) {
  }
  EXPECT_EQ(env.store->patches().Get(v1.sha256, v2.sha256)->state, store::PatchState::kReady);
  EXPECT_FALSE(*env.models->RepairCorruptBlob(v2.sha256));  // intact: nothing happens
}

// Patches built from a version's corrupt bytes used to stay ready (and served) after the
// version's blob was removed and uploaded again.
TEST_F(ModelFaultsTest, PatchesFromACorruptVersionAreDroppedAndRebuiltOnReupload) {
  const std::string body1 = "first version of the model";
  auto v1 = env.Upload("m", "v1", body1);
  auto v2 = env.Upload("m", "v2", "second version of the model");
  auto v3 = env.Upload("m", "v3", "third version of the model");
  while (*env.worker->RunOnce()) {
  }
  ASSERT_EQ(env.store->patches().Get(v1.sha256, v2.sha256)->state, store::PatchState::kReady);
  ASSERT_EQ(env.store->patches().Get(v2.sha256, v3.sha256)->state, store::PatchState::kReady);
  FlipByte(v1.sha256, 3);
  EXPECT_EQ(*env.models->Scrub(), 1u);
  auto from_v1 = *env.store->patches().Get(v1.sha256, v2.sha256);
  EXPECT_EQ(from_v1.state, store::PatchState::kFailed);
  EXPECT_TRUE(from_v1.patch_sha256.empty());
  EXPECT_EQ(env.store->patches().Get(v2.sha256, v3.sha256)->state, store::PatchState::kReady);
  EXPECT_FALSE(env.models->PlanDownload("m", "v2", v1.sha256, "")->is_patch);
  // The same bytes again: the jobs from v1 are built again from them.
  ASSERT_OK(TryUpload("v1", body1).status());
  EXPECT_EQ(env.store->patches().Get(v1.sha256, v2.sha256)->state, store::PatchState::kPending);
  while (*env.worker->RunOnce()) {
  }
  EXPECT_EQ(env.store->patches().Get(v1.sha256, v2.sha256)->state, store::PatchState::kReady);
  EXPECT_TRUE(env.models->PlanDownload("m", "v2", v1.sha256, "")->is_patch);
  // A target found corrupt and repaired by a re-upload before any scrub: rebuilt as well.
  FlipByte(v3.sha256, 5);
  ASSERT_OK(TryUpload("v3", "third version of the model").status());
  EXPECT_EQ(env.store->patches().Get(v2.sha256, v3.sha256)->state, store::PatchState::kPending);
}

// A replica building a job from a version's corrupt bytes (issue #12) used to keep its lease when
// a re-upload reset the job, and wrote its result over the reset: the reset clears the lease.
TEST_F(ModelFaultsTest, ResetJobLosesItsLeaseSoAStaleBuilderIsRefused) {
  const std::string body2 = "second version of the model";
  auto v1 = env.Upload("m", "v1", "first version of the model");
  auto v2 = env.Upload("m", "v2", body2);
  env.DropEmptyBaseJobs();  // v1 -> v2 is the job claimed
  auto& patches = env.store->patches();
  auto claimed = patches.Claim(env.clock.UnixMillis(), "replica-a", 60'000);
  ASSERT_OK(claimed.status());
  ASSERT_TRUE(claimed->has_value());
  store::PatchRecord stale = **claimed;  // replica-a builds from v2's corrupt bytes
  FlipByte(v2.sha256, 4);
  ASSERT_OK(TryUpload("v2", body2).status());
  auto reset = *patches.Get(v1.sha256, v2.sha256);
  EXPECT_EQ(reset.state, store::PatchState::kPending);
  EXPECT_EQ(reset.lease_owner, "");
  stale.state = store::PatchState::kReady;
  stale.patch_sha256 = "built-from-bad-bytes";
  EXPECT_STATUS(patches.UpdateLeased(stale, "replica-a"), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(patches.Get(v1.sha256, v2.sha256)->state, store::PatchState::kPending);
}

// Shutdown used to wait for a whole scrub (every blob re-hashed): it stops between blobs.
TEST_F(ModelFaultsTest, ScrubStopsBetweenBlobsWhenAsked) {
  std::vector<std::string> shas;
  for (const char* v : {"v1", "v2", "v3"}) {
    shas.push_back(env.Upload("m", v, std::string("body of ") + v).sha256);
    FlipByte(shas.back(), 0);
  }
  int asked = 0;
  auto corrupt = env.models->Scrub([&] { return ++asked > 1; });  // stop after one blob
  ASSERT_OK(corrupt.status());
  EXPECT_EQ(*corrupt, 1u);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(BlobCount(), 2u);
  EXPECT_EQ(*env.models->Scrub(), 2u);  // no predicate: the whole pass
}

// At start-up nothing of this server's is in flight: every unreferenced blob older than
// startup_grace goes; a younger one may be another replica's, about to be recorded (issue #12).
TEST_F(ModelFaultsTest, MaintenanceCollectsOrphansAtStartup) {
  auto v1 = env.Upload("m", "v1", "a version");
  auto orphan = *env.blobs->Put("published, then the server died before the record");
  BlobMaintenanceOptions options;
  BlobMaintenance young(*env.models, options);
  ASSERT_OK(young.CollectAtStartup());
  EXPECT_TRUE(env.blobs->Exists(orphan.sha256));
  env.clock.Advance(options.startup_grace);
  BlobMaintenance maintenance(*env.models, options);
  ASSERT_OK(maintenance.CollectAtStartup());
  EXPECT_FALSE(env.blobs->Exists(orphan.sha256));
  EXPECT_TRUE(env.blobs->Exists(v1.sha256));
  maintenance.Start();  // the periodic thread starts and stops promptly
  maintenance.Stop();
}

TEST_F(ModelFaultsTest, MetaIsServedFromTheIndexStoredAtUpload) {
  auto up = TryUpload("v1", oxide::testing::SampleSafetensors());
  ASSERT_OK(up.status());
  auto stored = env.store->models().GetIndex(up->version.sha256);
  ASSERT_OK(stored.status());
  EXPECT_EQ(stored->format, "safetensors");
  // Remove the blob: meta still answers from the stored index, without reading the model.
  ASSERT_OK(env.blobs->Remove(up->version.sha256));
  auto meta = env.models->Meta("m", "v1");
  ASSERT_OK(meta.status());
  ASSERT_TRUE(meta->tensors.has_value());
  EXPECT_EQ(meta->tensors->tensors.size(), stored->tensor_count);
  EXPECT_GT(stored->tensor_count, 0u);
}

}  // namespace
}  // namespace oxide::server
