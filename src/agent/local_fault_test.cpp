// Faults of the device, not of the model: a model dir that cannot be written, a full disk, a
// server whose stored copy is cut short. None may turn into a download per poll, and each is
// reported with its reason.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "agent/agent_loop.hpp"
#include "agent/pipeline_test_util.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The file system of a device whose model dir became read-only (remounted, wrong owner): every
// change of an entry in `dir` itself fails with kIo, the rest works.
class ReadOnlyDirFileSystem final : public FileSystem {
 public:
  ReadOnlyDirFileSystem(FileSystem& base, std::string dir) : base_(base), dir_(std::move(dir)) {}
  void set_read_only(bool v) { read_only_ = v; }

  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                      bool truncate) override {
    OXIDE_RETURN_IF_ERROR(Check(path));
    return base_.OpenForAppend(path, truncate);
  }
  Result<std::string> ReadFile(const std::string& path, size_t max_size) override {
    return base_.ReadFile(path, max_size);
  }
  Result<uint64_t> FileSize(const std::string& path) override { return base_.FileSize(path); }
  Status Truncate(const std::string& path, uint64_t size) override {
    OXIDE_RETURN_IF_ERROR(Check(path));
    return base_.Truncate(path, size);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    OXIDE_RETURN_IF_ERROR(Check(from));
    OXIDE_RETURN_IF_ERROR(Check(to));
    return base_.Rename(from, to);
  }
  Status Link(const std::string& from, const std::string& to) override {
    OXIDE_RETURN_IF_ERROR(Check(to));
    return base_.Link(from, to);
  }
  Status Remove(const std::string& path) override {
    OXIDE_RETURN_IF_ERROR(Check(path));
    return base_.Remove(path);
  }
  Status SyncDir(const std::string& dir) override { return base_.SyncDir(dir); }
  Status CreateDirs(const std::string& dir) override { return base_.CreateDirs(dir); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_.ListDir(dir);
  }

 private:
  Status Check(const std::string& path) const {
    if (read_only_ && ParentDir(path) == dir_) {
      return IoError("rename to " + path + ": Read-only file system");
    }
    return Status::Ok();
  }
  FileSystem& base_;
  std::string dir_;
  bool read_only_ = true;
};

class LocalFaultTest : public PipelineTest {
 public:
  void OpenReadOnly() {
    pipeline.reset();
    auto p = UpdatePipeline::Open("m", {ro_fs, dl, health, clock}, Options());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pipeline = std::move(p).value();
    pipeline->set_transition_observer([this](const Transition& t) {
      taken.insert({t.from, t.event});
      states.push_back(t.to);
    });
  }
  ReadOnlyDirFileSystem ro_fs{fs, model_dir};
};

// Activation into a read-only model dir: rolled back as a local fault, never counted, and the
// next attempts wait 30 s, 60 s, ... and reuse the verified model instead of downloading it.
TEST_F(LocalFaultTest, ReadOnlyModelDirBacksOffAndNeverDownloadsAgain) {
  InstallV1();
  const uint64_t before = dl.bytes_served();
  Publish(v3);  // no patch: the whole file, the costly case
  OpenReadOnly();
  EXPECT_OK(Assign(v3));
  EXPECT_TRUE(Took(OtaState::kBackedUp, OtaEvent::kSwitchFailed));
  EXPECT_EQ(Active(), v1.bytes);
  const UpdateRecord& r = pipeline->record();
  EXPECT_EQ(r.poison_failures, 0u);
  EXPECT_EQ(r.last_outcome, Outcome::kRolledBack);
  EXPECT_EQ(r.last_error.rfind("local: activation of v3 failed", 0), 0u) << r.last_error;
  EXPECT_NE(r.last_error.find("next attempt in 30 s"), std::string::npos) << r.last_error;
  const uint64_t downloaded = dl.bytes_served();
  EXPECT_EQ(downloaded - before, v3.bytes.size());

  // The server keeps assigning v3: nothing happens before the backoff ends, also after a restart.
  auto d = pipeline->OnAssignment(v3.ref);
  ASSERT_OK(d.status());
  EXPECT_EQ(*d, AssignmentDecision::kBackingOff);
  clock.Advance(seconds(29));
  OpenReadOnly();
  d = pipeline->OnAssignment(v3.ref);
  ASSERT_OK(d.status());
  EXPECT_EQ(*d, AssignmentDecision::kBackingOff);
  EXPECT_EQ(pipeline->record().local_retry.failures, 1u);

  // Each retry doubles the wait and reuses the kept model.
  int64_t wait_s = 30;
  for (uint32_t failure = 2; failure <= 5; ++failure) {
    clock.Advance(seconds(1));
    EXPECT_OK(Assign(v3));
    EXPECT_EQ(pipeline->record().local_retry.failures, failure);
    wait_s *= 2;
    int64_t left = pipeline->record().local_retry.not_before_unix_ms - clock.UnixMillis();
    EXPECT_EQ(left, wait_s * 1000);
    clock.Advance(seconds(wait_s - 1));
    d = pipeline->OnAssignment(v3.ref);
    ASSERT_OK(d.status());
    EXPECT_EQ(*d, AssignmentDecision::kBackingOff);
  }
  EXPECT_EQ(dl.bytes_served(), downloaded);  // no second download
  EXPECT_EQ(Active(), v1.bytes);

  // The operator fixes the mount: the next attempt commits, still without a download.
  ro_fs.set_read_only(false);
  clock.Advance(seconds(1));
  EXPECT_OK(Assign(v3));
  EXPECT_EQ(Active(), v3.bytes);
  EXPECT_EQ(dl.bytes_served(), downloaded);
  EXPECT_EQ(pipeline->record().local_retry.failures, 0u);
  EXPECT_EQ(pipeline->record().last_outcome, Outcome::kCommitted);
}

// The wait is capped, and a wall clock set back cannot stretch it beyond the cap.
TEST_F(LocalFaultTest, BackoffIsCapped) {
  InstallV1();
  Publish(v3);
  OpenReadOnly();
  for (int i = 0; i < 10; ++i) {
    if (i > 0) clock.Advance(std::chrono::hours(2));
    EXPECT_OK(Assign(v3));
  }
  EXPECT_EQ(pipeline->record().local_retry.failures, 10u);
  int64_t left = pipeline->record().local_retry.not_before_unix_ms - clock.UnixMillis();
  EXPECT_EQ(left, 3600 * 1000);           // local_retry_cap
  clock.Advance(-std::chrono::hours(2));  // the wall clock is set back
  auto d = pipeline->OnAssignment(v3.ref);
  ASSERT_OK(d.status());
  EXPECT_EQ(*d, AssignmentDecision::kBackingOff);
  left = pipeline->record().local_retry.not_before_unix_ms - clock.UnixMillis();
  EXPECT_EQ(left, 3600 * 1000);
}

// A kept model that no longer verifies (bit rot) is dropped and downloaded again, never used.
TEST_F(LocalFaultTest, KeptModelIsVerifiedBeforeUse) {
  InstallV1();
  const uint64_t before = dl.bytes_served();
  Publish(v3);
  OpenReadOnly();
  EXPECT_OK(Assign(v3));
  std::string kept = pipeline->paths().kept;
  auto bytes = ReadFileToString(kept);
  ASSERT_OK(bytes.status());
  std::string rotten = *bytes;
  rotten[5] ^= 1;
  ASSERT_OK(AtomicWriteFile(kept, rotten));
  ro_fs.set_read_only(false);
  clock.Advance(seconds(30));
  EXPECT_OK(Assign(v3));
  EXPECT_EQ(Active(), v3.bytes);
  EXPECT_EQ(dl.bytes_served() - before, 2 * v3.bytes.size());
}

// Acceptance: the real poll loop against a read-only model dir for 15 simulated minutes with a
// 5 s poll interval: a handful of attempts at growing intervals, one download, reported.
TEST_F(LocalFaultTest, AgentLoopRetriesAReadOnlyModelDirWithGrowingBackoff) {
  Publish(v3);
  PlaceActive(v1);
  ::oxide::testing::FakeClock loop_clock(180);  // 180 polls of 5 s
  std::vector<Clock::Duration> attempts;
  AgentOptions o;
  o.pipeline = Options();
  o.pipeline.should_stop = nullptr;
  o.pipeline.log = [&](const std::string& line) {
    if (line.find("activation of v3 failed") != std::string::npos &&
        line.find("next attempt") == std::string::npos) {
      attempts.push_back(loop_clock.Now());
    }
  };
  o.poll_interval = seconds(5);
  struct Http final : HttpClient {
    Result<HttpReply> Send(const HttpCall& call) override {
      if (call.url.find("/api/v1/enroll") != std::string::npos) return HttpReply{200, "{}"};
      bodies.push_back(call.body);
      return HttpReply{200, reply};
    }
    std::string reply;
    std::vector<std::string> bodies;
  } http;
  http.reply = R"({"status":"ok","assignment":{"model_id":"m","version":"v3","sha256":")" +
               v3.ref.sha256 + R"(","size_bytes":)" + std::to_string(v3.bytes.size()) + "}}";
  ControlPlane control{http, "http://cp", "dev1", "dev1"};
  AgentLoop loop({ro_fs, dl, health, loop_clock, control}, o);
  EXPECT_STATUS(loop.Run(), ErrorCode::kCancelled);
  EXPECT_EQ(dl.bytes_served(), v3.bytes.size());  // one full download in 15 minutes
  // 30 s, 60 s, 120 s, 240 s, 480 s after each other: 6 attempts instead of ~180.
  ASSERT_GE(attempts.size(), 4u);
  EXPECT_LE(attempts.size(), 6u);
  for (size_t i = 2; i < attempts.size(); ++i) {
    EXPECT_GT(attempts[i] - attempts[i - 1], attempts[i - 1] - attempts[i - 2]);
  }
  EXPECT_EQ(*ReadFileToString(model_dir + "/m"), v1.bytes);
  // Every heartbeat after the first failure reports the local fault.
  EXPECT_NE(http.bodies.back().find("local: activation of v3 failed"), std::string::npos)
      << http.bodies.back();
}

// Room for the new model is all an update needs up front (the backup is a hard link): an update
// that fits is not refused for want of room for a second copy of the active model.
TEST_F(LocalFaultTest, PreflightAsksOnlyForTheNewModel) {
  InstallV1();
  Publish(v3);
  uint64_t free_bytes = v3.bytes.size() + 100;  // < v3 + v1
  free_disk_bytes = [&](const std::string&) -> Result<uint64_t> { return free_bytes; };
  OpenPipeline();
  EXPECT_OK(Assign(v3));
  EXPECT_EQ(Active(), v3.bytes);
}

TEST_F(LocalFaultTest, NoRoomIsAReportedLocalFaultNotAModelFailure) {
  InstallV1();
  Publish(v3);
  free_disk_bytes = [](const std::string&) -> Result<uint64_t> { return uint64_t{1000}; };
  OpenPipeline();
  const size_t requests = dl.requests().size();
  EXPECT_STATUS(pipeline->OnAssignment(v3.ref).status(), ErrorCode::kResourceExhausted);
  const UpdateRecord& r = pipeline->record();
  EXPECT_EQ(r.last_error, "local: not enough disk space for v3: need " +
                              std::to_string(v3.bytes.size()) + " bytes, have 1000");
  EXPECT_EQ(r.poison_failures, 0u);
  EXPECT_EQ(r.state, OtaState::kIdle);
  // Reported once, as a local preflight failure, however often the server asks again.
  EXPECT_STATUS(pipeline->OnAssignment(v3.ref).status(), ErrorCode::kResourceExhausted);
  ASSERT_EQ(r.pending_reports.size(), 1u);
  EXPECT_TRUE(r.pending_reports[0].local);
  EXPECT_EQ(r.pending_reports[0].stage, protocol::FailureStage::kPreflight);
  EXPECT_EQ(r.pending_reports[0].version, "v3");
  EXPECT_EQ(dl.requests().size(), requests);
  EXPECT_EQ(Active(), v1.bytes);
}

// A model kept for a target the server no longer wants is freed before the preflight counts the
// free space, so it never blocks the next target.
TEST_F(LocalFaultTest, KeptModelOfAnotherTargetIsFreedBeforeThePreflight) {
  InstallV1();
  Publish(v3);
  Publish(v2);
  free_disk_bytes = [this](const std::string&) -> Result<uint64_t> {
    const bool kept = std::filesystem::exists(pipeline->paths().kept);
    return v2.bytes.size() - 1 + (kept ? 0 : v3.bytes.size());
  };
  OpenReadOnly();
  EXPECT_OK(Assign(v3));  // fails locally, keeps v3 verified
  ASSERT_TRUE(std::filesystem::exists(pipeline->paths().kept));
  ro_fs.set_read_only(false);
  EXPECT_OK(Assign(v2));
  EXPECT_EQ(Active(), v2.bytes);
  EXPECT_FALSE(std::filesystem::exists(pipeline->paths().kept));
}

// A patch needs room for itself and the model it rebuilds; known once the server answered.
TEST_F(LocalFaultTest, PatchWithoutRoomForPayloadAndModelIsALocalFault) {
  InstallV1();
  Publish(v2);
  PublishPatch(v1, v2);
  free_disk_bytes = [&](const std::string&) -> Result<uint64_t> { return v2.bytes.size() + 10; };
  OpenPipeline();
  for (int i = 0; i < 5; ++i) static_cast<void>(Assign(v2));
  EXPECT_TRUE(Took(OtaState::kDownloading, OtaEvent::kLocalFault));
  const UpdateRecord& r = pipeline->record();
  EXPECT_EQ(r.last_error.rfind("local: ", 0), 0u) << r.last_error;
  EXPECT_NE(r.last_error.find("not enough disk space"), std::string::npos) << r.last_error;
  EXPECT_EQ(r.poison_failures, 0u);
  EXPECT_EQ(Active(), v1.bytes);
}

// The server's stored copy is cut short (it announces the full size): every resume gets nothing.
// After max_stalled_downloads such transfers the download fails, counted against the version, so
// that it ends in a refusal the campaign shows instead of endless retries.
TEST_F(LocalFaultTest, TruncatedServerCopyFailsAfterStalledResumes) {
  InstallV1();
  const size_t requests = dl.requests().size();
  Publish(v3);
  dl.TruncateStoredCopy(Url("v3"), 20000);
  Status st = Assign(v3);
  for (int i = 0; i < 10 && st.code() == ErrorCode::kUnavailable; ++i) st = pipeline->Run();
  EXPECT_OK(st);
  EXPECT_TRUE(Took(OtaState::kDownloading, OtaEvent::kDownloadFailed));
  const UpdateRecord& r = pipeline->record();
  EXPECT_EQ(r.poison_failures, 1u);
  EXPECT_NE(r.last_error.find("stops at byte 20000 of " + std::to_string(v3.bytes.size())),
            std::string::npos)
      << r.last_error;
  EXPECT_EQ(dl.requests().size() - requests,
            6u);  // the first transfer, then 5 resumes that brought nothing
}

// Bytes that never hash right: reported with both hashes, counted, and refused after
// max_attempts, so the device stops downloading it.
TEST_F(LocalFaultTest, BlobThatNeverHashesRightIsReportedAndRefused) {
  InstallV1();
  std::string bad = v3.bytes;
  bad[123] ^= 1;
  dl.SetFull(Url("v3"), bad, v3.ref.sha256);
  OpenPipeline();
  for (int i = 0; i < 3; ++i) EXPECT_OK(Assign(v3));
  const UpdateRecord& r = pipeline->record();
  EXPECT_EQ(r.last_error.rfind("download verify failed: expected " + v3.ref.sha256 + " got ", 0),
            0u)
      << r.last_error;
  EXPECT_EQ(r.poison_failures, 3u);
  auto d = pipeline->OnAssignment(v3.ref);
  ASSERT_OK(d.status());
  EXPECT_EQ(*d, AssignmentDecision::kRefused);
  EXPECT_EQ(dl.bytes_served(), 3 * v3.bytes.size() + v1.bytes.size());
}

}  // namespace
}  // namespace oxide::agent
