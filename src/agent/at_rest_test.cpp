// Models encrypted at rest (--encryption-key-file): the pipeline installs, patches, verifies,
// backs up and rolls back encrypted files; hashes stay the plaintext's; no plaintext model is
// left on disk.
#include <gtest/gtest.h>

#include <filesystem>

#include "agent/health_check.hpp"
#include "agent/pipeline_test_util.hpp"
#include "crypto/encrypted_file.hpp"
#include "crypto/encrypted_format.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::agent {
namespace {

class AtRestTest : public PipelineTest {
 protected:
  AtRestTest() {
    auto key = crypto::EncryptionKey::Generate();
    EXPECT_TRUE(key.ok());
    at_rest_key = std::make_shared<const crypto::EncryptionKey>(*key);
  }
  // The plaintext of the active file (or the error).
  Result<std::string> ActivePlain() {
    const std::string out = tmp.path() + "/plain";
    std::filesystem::remove(out);
    OXIDE_RETURN_IF_ERROR(crypto::DecryptFile(model_dir + "/m", out, *at_rest_key, {}).status());
    return ReadFileToString(out);
  }
  // Every file under the model dir (state dir included) whose bytes are a plaintext model.
  std::vector<std::string> PlaintextModelsOnDisk() {
    std::vector<std::string> found;
    for (const auto& e : std::filesystem::recursive_directory_iterator(model_dir)) {
      if (!e.is_regular_file()) continue;
      auto bytes = ReadFileToString(e.path().string());
      if (!bytes.ok()) continue;
      for (const TestModel* m : {&v1, &v2, &v3}) {
        if (*bytes == m->bytes) found.push_back(e.path().string());
      }
    }
    return found;
  }
  void InstallEncryptedV1() {
    Publish(v1);
    OpenPipeline();
    ASSERT_OK(Assign(v1));
    ASSERT_EQ(*ActivePlain(), v1.bytes);
  }
};

TEST_F(AtRestTest, FullInstallIsEncryptedAndHashedAsPlaintext) {
  InstallEncryptedV1();
  std::string active = Active();
  EXPECT_EQ(active.substr(0, 8), std::string(crypto::kEncMagic.begin(), crypto::kEncMagic.end()));
  EXPECT_EQ(active.size(), crypto::EncryptedSize(v1.bytes.size(), crypto::kEncDefaultChunkSize));
  EXPECT_EQ(pipeline->record().installed->sha256, v1.ref.sha256);
  EXPECT_EQ(PlaintextModelsOnDisk(), std::vector<std::string>{});
}

// The encrypted v1 is the patch base, read chunk by chunk; v2 is rebuilt straight into an
// encrypted staging file.
TEST_F(AtRestTest, PatchAppliesToTheEncryptedBase) {
  InstallEncryptedV1();
  Publish(v2);
  PublishPatch(v1, v2);
  uint64_t before = dl.bytes_served();
  ASSERT_OK(Assign(v2));
  EXPECT_EQ(*ActivePlain(), v2.bytes);
  EXPECT_LT(dl.bytes_served() - before, v2.bytes.size() / 2) << "the patch, not the full file";
  EXPECT_EQ(pipeline->record().last_error, "") << "no fallback";
  EXPECT_EQ(pipeline->record().installed->sha256, v2.ref.sha256);
  EXPECT_EQ(PlaintextModelsOnDisk(), std::vector<std::string>{});
}

TEST_F(AtRestTest, UnhealthyUpdateRollsBackToTheEncryptedModel) {
  InstallEncryptedV1();
  Publish(v2);
  PublishPatch(v1, v2);
  health.healthy = false;
  ASSERT_OK(Assign(v2));
  EXPECT_EQ(*ActivePlain(), v1.bytes);
  EXPECT_EQ(pipeline->record().last_outcome, Outcome::kRolledBack);
}

// A tampered installed model fails authentication when it is hashed as the patch base: the
// patch is refused and the update falls back to the full download.
TEST_F(AtRestTest, TamperedBaseIsNotPatched) {
  InstallEncryptedV1();
  std::string active = Active();
  active[crypto::kEncHeaderSize + 10] ^= 1;
  ASSERT_OK(AtomicWriteFile(model_dir + "/m", active));
  Publish(v2);
  PublishPatch(v1, v2);
  ASSERT_OK(Assign(v2));
  EXPECT_EQ(*ActivePlain(), v2.bytes);
  EXPECT_NE(pipeline->record().last_error.find("full-download fallback"), std::string::npos)
      << pipeline->record().last_error;
  EXPECT_NE(pipeline->record().last_error.find("failed authentication"), std::string::npos)
      << pipeline->record().last_error;
}

// Encryption turned on for a device that already holds a plaintext model: the next update
// cannot use it as a patch base (it does not decrypt), falls back to the full download and
// installs the new model encrypted.
TEST_F(AtRestTest, PlaintextModelFromBeforeIsReplacedByAnEncryptedOne) {
  auto key = at_rest_key;
  at_rest_key.reset();
  Publish(v1);
  OpenPipeline();
  ASSERT_OK(Assign(v1));
  ASSERT_EQ(Active(), v1.bytes);
  at_rest_key = key;
  OpenPipeline();  // restarted with --encryption-key-file
  Publish(v2);
  PublishPatch(v1, v2);
  ASSERT_OK(Assign(v2));
  EXPECT_EQ(*ActivePlain(), v2.bytes);
  EXPECT_NE(pipeline->record().last_error.find("full-download fallback"), std::string::npos)
      << pipeline->record().last_error;
  EXPECT_EQ(PlaintextModelsOnDisk(), std::vector<std::string>{});
}

// Same for a plaintext file the agent never installed (factory image): adopted by its hash.
TEST_F(AtRestTest, FactoryPlaintextModelIsAdoptedThenReplaced) {
  PlaceActive(v1);
  Publish(v2);
  OpenPipeline();
  ASSERT_OK(Assign(v2));
  EXPECT_EQ(*ActivePlain(), v2.bytes);
  EXPECT_EQ(PlaintextModelsOnDisk(), std::vector<std::string>{});
}

// --encryption-key-file was added (plaintext v1) or removed (encrypted v1) since v1 was
// installed; v2 is unhealthy. The rollback checks the restored file as what it is, not by whether
// a key is set now: the agent is killed (unsynced directory entries kept) or the power goes out
// at every operation of the rollback, and the restarted agent always ends with v1's file active.
void RollBackAcrossAKeyChange(bool v1_encrypted) {
  auto key = crypto::EncryptionKey::Generate();
  ASSERT_OK(key.status());
  auto shared = std::make_shared<const crypto::EncryptionKey>(*key);
  for (bool killed : {true, false}) {
    for (int64_t n = 0;; ++n) {
      SCOPED_TRACE((killed ? "killed after " : "power lost after ") + std::to_string(n) +
                   " mutating operations of the rollback");
      PipelineTest t;
      if (v1_encrypted) t.at_rest_key = shared;
      t.Publish(t.v1);
      t.OpenPipeline();
      ASSERT_OK(t.Assign(t.v1));
      const std::string v1_file = t.Active();
      ASSERT_EQ(v1_file == t.v1.bytes, !v1_encrypted);
      t.at_rest_key = v1_encrypted ? nullptr : shared;
      t.OpenPipeline();  // restarted with the setting changed
      t.Publish(t.v2);
      t.PublishPatch(t.v1, t.v2);
      t.health.healthy = false;
      t.stop_in = OtaState::kRollingBack;
      ASSERT_STATUS(t.Assign(t.v2), ErrorCode::kCancelled);
      t.stop_in.reset();
      t.fs.set_keep_unsynced_entries(killed);
      t.fs.FailAfter(n);
      Status st = t.pipeline->Run();
      if (!t.fs.failed()) {
        EXPECT_OK(st);
        EXPECT_TRUE(t.Active() == v1_file) << "v1 is not active";
        EXPECT_GT(n, 2);
        break;
      }
      t.pipeline.reset();
      t.fs.Crash();
      t.OpenPipeline();
      EXPECT_OK(t.RunToIdle());
      EXPECT_TRUE(t.Active() == v1_file) << "v1 is not active";
      EXPECT_EQ(t.pipeline->record().last_outcome, Outcome::kRolledBack);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(AtRestRollback, PlaintextModelFromBeforeTheKeySurvivesCrashesDuringRollback) {
  RollBackAcrossAKeyChange(false);
}

TEST(AtRestRollback, EncryptedModelSurvivesCrashesDuringRollbackAfterTheKeyIsRemoved) {
  RollBackAcrossAKeyChange(true);
}

// With a key a full download needs its plaintext in `partial` and the encrypted staging file
// beside it until the encryption is done: both preflights count the two.
TEST_F(AtRestTest, AssignmentPreflightCountsTheEncryptedStagingBesideTheDownload) {
  const uint64_t need =
      v3.bytes.size() + crypto::EncryptedSize(v3.bytes.size(), crypto::kEncDefaultChunkSize);
  uint64_t free_now = need - 1;
  free_disk_bytes = [&](const std::string&) -> Result<uint64_t> { return free_now; };
  Publish(v3);
  OpenPipeline();
  EXPECT_STATUS(Assign(v3), ErrorCode::kResourceExhausted);
  EXPECT_EQ(Active(), "<absent>");
  free_now = need;
  ASSERT_OK(Assign(v3));
  EXPECT_EQ(*ActivePlain(), v3.bytes);
}

TEST_F(AtRestTest, DownloadPreflightCountsTheEncryptedStaging) {
  const uint64_t need =
      v3.bytes.size() + crypto::EncryptedSize(v3.bytes.size(), crypto::kEncDefaultChunkSize);
  int calls = 0;  // the first call is the assignment's preflight: room then
  free_disk_bytes = [&](const std::string&) -> Result<uint64_t> {
    return calls++ == 0 ? need : need - 1;
  };
  Publish(v3);
  OpenPipeline();
  EXPECT_STATUS(Assign(v3), ErrorCode::kResourceExhausted);
  EXPECT_NE(pipeline->record().last_error.find("not enough disk space"), std::string::npos)
      << pipeline->record().last_error;
  EXPECT_EQ(Active(), "<absent>");
}

// A crash while the download was being encrypted left the staging temp file (a plaintext-sized
// file): it is removed before the next encryption writes another.
TEST_F(AtRestTest, StaleStagingTempIsRemovedBeforeEncrypting) {
  Publish(v3);
  OpenPipeline();
  const std::string stale = state_dir + "/m/staging.tmp.1.0";
  ASSERT_OK(AtomicWriteFile(stale, std::string(1000, 's')));
  bool stale_when_staged = true;
  pipeline->set_transition_observer([&](const Transition& t) {
    if (t.to == OtaState::kStaged) stale_when_staged = ReadableFile::Open(stale).ok();
  });
  ASSERT_OK(Assign(v3));
  EXPECT_FALSE(stale_when_staged);
}

// Without an `installed` record, an active file that is encrypted but does not decrypt (another
// key, damaged) is adopted as an unknown model: the full download that replaces it goes ahead.
TEST_F(AtRestTest, ActiveFileUnderAnotherKeyIsReplacedByAFullDownload) {
  auto other = crypto::EncryptionKey::Generate();
  ASSERT_OK(other.status());
  ASSERT_OK(posix.CreateDirs(model_dir));
  ASSERT_OK(AtomicWriteFile(tmp.path() + "/v1", v1.bytes));
  ASSERT_OK(crypto::EncryptFile(tmp.path() + "/v1", model_dir + "/m", *other, {}).status());
  Publish(v2);
  PublishPatch(v1, v2);
  OpenPipeline();
  ASSERT_OK(Assign(v2));
  EXPECT_EQ(*ActivePlain(), v2.bytes);
}

TEST_F(AtRestTest, DamagedEncryptedActiveFileIsReplacedByAFullDownload) {
  ASSERT_OK(posix.CreateDirs(model_dir));
  ASSERT_OK(AtomicWriteFile(tmp.path() + "/v1", v1.bytes));
  ASSERT_OK(crypto::EncryptFile(tmp.path() + "/v1", model_dir + "/m", *at_rest_key, {}).status());
  std::string active = Active();
  active[crypto::kEncHeaderSize + 10] ^= 1;
  ASSERT_OK(AtomicWriteFile(model_dir + "/m", active));
  Publish(v2);
  OpenPipeline();
  ASSERT_OK(Assign(v2));
  EXPECT_EQ(*ActivePlain(), v2.bytes);
}

// The key was replaced between staging and its verification: the staged file does not decrypt
// with the new key. That is the device's doing, never counted against the version.
TEST_F(AtRestTest, StagingUnderARotatedKeyIsALocalFault) {
  InstallEncryptedV1();
  Publish(v3);
  stop_in = OtaState::kStaged;
  EXPECT_STATUS(Assign(v3), ErrorCode::kCancelled);
  stop_in.reset();
  auto rotated = crypto::EncryptionKey::Generate();
  ASSERT_OK(rotated.status());
  at_rest_key = std::make_shared<const crypto::EncryptionKey>(*rotated);
  OpenPipeline();
  static_cast<void>(pipeline->Run());
  EXPECT_EQ(pipeline->record().poison_failures, 0u) << pipeline->record().last_error;
  EXPECT_TRUE(pipeline->record().last_local_fault) << pipeline->record().last_error;
}

TEST_F(AtRestTest, BuiltinHealthCheckVerifiesTheDecryptedStream) {
  InstallEncryptedV1();
  BuiltinHealthChecker builtin;
  HealthCheckRequest req{model_dir + "/m", "m", "v1", v1.ref.sha256, v1.ref.size_bytes, {}};
  req.at_rest_key = at_rest_key.get();
  auto ok = builtin.Check(req);
  ASSERT_OK(ok.status());
  EXPECT_TRUE(ok->healthy) << ok->detail;
  std::string active = Active();
  ASSERT_OK(AtomicWriteFile(model_dir + "/m", active.substr(0, active.size() - 1)));
  auto bad = builtin.Check(req);
  ASSERT_OK(bad.status());
  EXPECT_FALSE(bad->healthy);
  req.at_rest_key = nullptr;  // without the key the file is not a model that hashes right
  ASSERT_OK(AtomicWriteFile(model_dir + "/m", active));
  EXPECT_FALSE(builtin.Check(req)->healthy);
}

TEST(AtRestHealthCommand, GetsTheKeyFileAndTheEncryptedFlag) {
  auto key = crypto::EncryptionKey::Generate();
  ASSERT_TRUE(key.ok());
  CommandHealthChecker c(
      "test \"$OXIDE_MODEL_ENCRYPTED\" = 1 && test \"$OXIDE_ENCRYPTION_KEY_FILE\" = /keys/k",
      std::chrono::milliseconds(10000), nullptr);
  HealthCheckRequest req{"/models/m", "m", "v1", std::string(64, 'a'), 0, {}};
  auto plain = c.Check(req);
  ASSERT_OK(plain.status());
  EXPECT_FALSE(plain->healthy) << "no flag without encryption";
  req.at_rest_key = &*key;
  req.at_rest_key_file = "/keys/k";
  auto enc = c.Check(req);
  ASSERT_OK(enc.status());
  EXPECT_TRUE(enc->healthy) << enc->detail;
}

}  // namespace
}  // namespace oxide::agent
