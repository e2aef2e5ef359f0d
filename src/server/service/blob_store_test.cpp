// BlobStore: temp cleanup, repair of corrupt blobs on re-publish, garbage collection with a
// grace period, and durability under power loss at every file operation of a commit.
#include "server/service/blob_store.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include "base/file_util.hpp"
#include "base/posix_file_system.hpp"
#include "testing/fake_clock.hpp"
#include "testing/power_loss_file_system.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::server {
namespace {

// The real file system, calling `hook` before and after each rename and remove: a seam that
// runs another replica's step at an exact point between this store's file operations.
class HookFileSystem final : public FileSystem {
 public:
  enum class When { kBefore, kAfter };
  std::function<void(When, const std::string& path)> hook;

  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                      bool truncate) override {
    return fs_.OpenForAppend(path, truncate);
  }
  Result<std::string> ReadFile(const std::string& path, size_t max_size) override {
    return fs_.ReadFile(path, max_size);
  }
  Result<uint64_t> FileSize(const std::string& path) override { return fs_.FileSize(path); }
  Status Truncate(const std::string& path, uint64_t size) override {
    return fs_.Truncate(path, size);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    Call(When::kBefore, from);
    Status st = fs_.Rename(from, to);
    Call(When::kAfter, from);
    return st;
  }
  Status Link(const std::string& from, const std::string& to) override {
    return fs_.Link(from, to);
  }
  Status Remove(const std::string& path) override {
    Call(When::kBefore, path);
    Status st = fs_.Remove(path);
    Call(When::kAfter, path);
    return st;
  }
  Status SyncDir(const std::string& dir) override { return fs_.SyncDir(dir); }
  Status CreateDirs(const std::string& dir) override { return fs_.CreateDirs(dir); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return fs_.ListDir(dir);
  }

 private:
  void Call(When when, const std::string& path) {
    if (hook) hook(when, path);
  }
  PosixFileSystem fs_;
};

class BlobStoreTest : public ::testing::Test {
 protected:
  std::unique_ptr<BlobStore> Open() {
    auto b = BlobStore::Open(fs, clock, dir.File("b"));
    EXPECT_OK(b.status());
    return b.ok() ? std::move(b).value() : nullptr;
  }
  void FlipByte(const std::string& path, size_t at) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(c ^ 0x01));
  }

  // Sets the file's mtime to `ms_ago` before the clock's now.
  void Backdate(const std::string& path, int64_t ms_ago) {
    const int64_t at = clock.UnixMillis() - ms_ago;
    timespec times[2] = {{0, UTIME_OMIT}, {at / 1000, (at % 1000) * 1'000'000}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
  }

  oxide::testing::TempDir dir;
  oxide::testing::FakeClock clock;
  PosixFileSystem fs;
};

TEST_F(BlobStoreTest, UncommittedWriterLeavesNothingAndOpenCleansTemp) {
  auto blobs = Open();
  {
    auto w = std::move(blobs->NewWriter()).value();
    ASSERT_OK(w->Append("partial"));
    ASSERT_OK(w->Seal().status());  // sealed but refused: still nothing published
  }
  EXPECT_TRUE(std::filesystem::is_empty(dir.File("b/.tmp")));
  EXPECT_TRUE(blobs->List()->empty());
  std::string stale = blobs->TempPath();
  ASSERT_OK(AtomicWriteFile(stale, "crash leftover"));
  Backdate(stale, 3'600'000);
  auto reopened = Open();
  EXPECT_FALSE(std::filesystem::exists(stale));
  auto info = reopened->Put("abc");
  ASSERT_OK(info.status());
  EXPECT_EQ(info->sha256, ToHex(Sha256::Of("abc")));
  EXPECT_OK(reopened->Put("abc").status());  // same content: idempotent
}

TEST_F(BlobStoreTest, OpenSurvivesATempLeftoverItCannotRemove) {
  std::filesystem::create_directories(dir.File("b/.tmp/stuck-dir"));
  ASSERT_OK(AtomicWriteFile(dir.File("b/.tmp/stuck-dir/f"), "x"));  // a dir: never listed
  ASSERT_OK(AtomicWriteFile(dir.File("b/.tmp/stale"), "crash leftover"));
  Backdate(dir.File("b/.tmp/stale"), 3'600'000);
  auto blobs = Open();
  ASSERT_NE(blobs, nullptr);
  EXPECT_FALSE(std::filesystem::exists(dir.File("b/.tmp/stale")));
  EXPECT_OK(blobs->Put("abc").status());
}

// Replicas share the blob directory (issue #12): one starting up must not delete the temp file
// of another's upload or patch build in progress (written to within the last hour).
TEST_F(BlobStoreTest, OpenKeepsATempFileWrittenWithinTheHour) {
  auto running = Open();
  std::string in_progress = running->TempPath();
  ASSERT_OK(AtomicWriteFile(in_progress, "upload in progress"));
  Backdate(in_progress, 3'599'000);
  auto starting = Open();
  EXPECT_TRUE(std::filesystem::exists(in_progress));
  // An hour without a write: a crash's leftover, which the periodic GC removes too.
  Backdate(in_progress, 3'600'000);
  auto none = []() -> Result<std::unordered_set<std::string>> {
    return std::unordered_set<std::string>{};
  };
  ASSERT_OK(running->CollectGarbage(none, std::chrono::hours(1)).status());
  EXPECT_FALSE(std::filesystem::exists(in_progress));
}

// A temp file of a process of this host that has exited is a crash's leftover at once (the usual
// kill -9 and restart), however young.
TEST_F(BlobStoreTest, OpenRemovesATempFileOfAnExitedProcessAtOnce) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  auto running = Open();
  const std::string mine = running->TempPath();  // upload-<host>.<pid>.<n>
  const std::string pid = std::to_string(::getpid());
  const size_t at = mine.rfind("." + pid + ".");
  ASSERT_NE(at, std::string::npos);
  const std::string dead = mine.substr(0, at) + "." + std::to_string(child) + ".0";
  ASSERT_OK(AtomicWriteFile(dead, "killed mid-upload"));
  ASSERT_OK(AtomicWriteFile(mine, "this process's upload in progress"));
  Backdate(dead, 0);
  Backdate(mine, 0);
  auto restarted = Open();
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(mine));
}

// Replicas in containers sharing a hostname each see their own pids (often the same numbers):
// a young temp file whose pid is not running here may belong to a live writer in another pid
// namespace, so only the age rule may remove it. The old check removed it at once.
TEST_F(BlobStoreTest, OpenKeepsAYoungTempFileOfAnotherPidNamespace) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  auto running = Open();
  const std::string mine = running->TempPath();
  const size_t slash = mine.rfind('/');
  const std::string tmp_dir = mine.substr(0, slash + 1);
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof(host) - 1), 0);
  struct stat ns {};
  ASSERT_EQ(::stat("/proc/self/ns/pid", &ns), 0);
  const std::string pid = std::to_string(child);
  const std::vector<std::string> others = {
      // Another container's writer, by a version that did not record the namespace.
      tmp_dir + "upload-" + host + "." + pid + ".0",
      // Another container's writer (another pid namespace).
      tmp_dir + "upload-" + host + ".ns" + std::to_string(ns.st_ino + 1) + "." + pid + ".0"};
  for (const auto& path : others) {
    ASSERT_OK(AtomicWriteFile(path, "another container's upload in progress"));
    Backdate(path, 0);
  }
  auto restarted = Open();
  for (const auto& path : others) EXPECT_TRUE(std::filesystem::exists(path)) << path;
}

// Replicas: one replica's GC must keep a blob another one published moments ago (its record may
// not be committed yet), though it is not in this process's memory of publications.
TEST_F(BlobStoreTest, GcKeepsABlobAnotherReplicaJustPublished) {
  auto a = Open(), b = Open();
  auto info = a->Put("published by replica a");
  ASSERT_OK(info.status());
  auto none = []() -> Result<std::unordered_set<std::string>> {
    return std::unordered_set<std::string>{};
  };
  auto kept = b->CollectGarbage(none, std::chrono::hours(1));
  ASSERT_OK(kept.status());
  EXPECT_EQ(kept->kept_recent, 1u);
  EXPECT_TRUE(b->Exists(info->sha256));
  clock.AdvanceMs(3'000'000);
  ASSERT_OK(b->Put("published by replica a").status());  // re-published: younger again
  clock.AdvanceMs(3'000'000);
  EXPECT_EQ(a->CollectGarbage(none, std::chrono::hours(1))->kept_recent, 1u);
  clock.AdvanceMs(600'000);
  auto removed = a->CollectGarbage(none, std::chrono::hours(1));
  ASSERT_OK(removed.status());
  EXPECT_EQ(removed->removed, 1u);
  EXPECT_FALSE(b->Exists(info->sha256));
}

// Replicas a and b share the blob directory. a's GC finds an old unreferenced blob; b then
// publishes the same bytes (its version record will point at it). Whatever the order of a's
// check, b's publish and a's removal, the blob must be there afterwards: b's record would
// otherwise point at nothing. The old GC unlinked after b had stamped the blob fresh.
class BlobGcRaceTest : public BlobStoreTest {
 protected:
  void SetUp() override {
    b = Open();
    auto opened = BlobStore::Open(hooked, clock, dir.File("b"));
    ASSERT_OK(opened.status());
    a = std::move(opened).value();
    info = *b->Put(kBytes);
    clock.Advance(std::chrono::hours(2));  // old: a GC candidate
  }
  // Runs a's GC (nothing referenced, grace 1 h); b publishes kBytes at a's first rename or
  // remove of the blob file (before or after it, per `when`).
  Result<GcReport> GcWithPublishAt(HookFileSystem::When when) {
    bool done = false;
    hooked.hook = [&](HookFileSystem::When w, const std::string& path) {
      if (done || w != when || path != a->PathFor(info.sha256)) return;
      done = true;
      EXPECT_OK(b->Put(kBytes).status());
    };
    auto none = []() -> Result<std::unordered_set<std::string>> {
      return std::unordered_set<std::string>{};
    };
    auto report = a->CollectGarbage(none, std::chrono::hours(1));
    EXPECT_TRUE(done);
    return report;
  }
  static constexpr char kBytes[] = "a model both replicas publish";
  HookFileSystem hooked;
  std::unique_ptr<BlobStore> a, b;
  BlobInfo info;
};

TEST_F(BlobGcRaceTest, PublishBetweenGcCheckAndRemovalKeepsTheBlob) {
  auto report = GcWithPublishAt(HookFileSystem::When::kBefore);
  ASSERT_OK(report.status());
  EXPECT_OK(b->Verify(info.sha256));
  EXPECT_EQ(report->removed, 0u);
  EXPECT_EQ(report->kept_recent, 1u);
}

TEST_F(BlobGcRaceTest, PublishRightAfterGcMovedTheBlobAwayWritesItAgain) {
  auto report = GcWithPublishAt(HookFileSystem::When::kAfter);
  ASSERT_OK(report.status());
  EXPECT_OK(b->Verify(info.sha256));
}

// The other side: b has found the blob present (dedup) and is about to publish; a's whole GC
// runs at b's next file operation. b must not return OK for a blob that is gone.
TEST_F(BlobGcRaceTest, GcBetweenPublishCheckAndStampKeepsTheBlob) {
  HookFileSystem b_fs;
  auto b2 = std::move(BlobStore::Open(b_fs, clock, dir.File("b"))).value();
  auto none = []() -> Result<std::unordered_set<std::string>> {
    return std::unordered_set<std::string>{};
  };
  bool gc_ran = false;
  b_fs.hook = [&](HookFileSystem::When w, const std::string& path) {
    if (gc_ran || w != HookFileSystem::When::kBefore || path.find("/.tmp/") == std::string::npos) {
      return;
    }
    gc_ran = true;
    EXPECT_OK(b->CollectGarbage(none, std::chrono::hours(1)).status());
  };
  ASSERT_OK(b2->Put(kBytes).status());
  EXPECT_TRUE(gc_ran);
  EXPECT_OK(b2->Verify(info.sha256));
}

// A flipped byte used to survive a re-upload of the right bytes (the rename was skipped because
// the name existed).
TEST_F(BlobStoreTest, PublishingOverACorruptBlobReplacesIt) {
  auto blobs = Open();
  const std::string bytes(10000, 'm');
  auto info = blobs->Put(bytes);
  ASSERT_OK(info.status());
  FlipByte(blobs->PathFor(info->sha256), 5000);
  EXPECT_STATUS(blobs->Verify(info->sha256), ErrorCode::kCorrupt);
  ASSERT_OK(blobs->Put(bytes).status());
  EXPECT_OK(blobs->Verify(info->sha256));
  EXPECT_EQ(*ReadFileToString(blobs->PathFor(info->sha256)), bytes);
  EXPECT_TRUE(std::filesystem::is_empty(dir.File("b/.tmp")));
}

TEST_F(BlobStoreTest, RemoveIfCorruptRemovesOnlyACorruptBlob) {
  auto blobs = Open();
  const std::string bytes(10000, 'r');
  auto info = blobs->Put(bytes);
  ASSERT_OK(info.status());
  EXPECT_FALSE(*blobs->RemoveIfCorrupt(info->sha256));  // intact: kept
  EXPECT_TRUE(blobs->Exists(info->sha256));
  FlipByte(blobs->PathFor(info->sha256), 10);
  ASSERT_OK(blobs->Put(bytes).status());  // repaired before the scrub removes it
  EXPECT_FALSE(*blobs->RemoveIfCorrupt(info->sha256));
  EXPECT_OK(blobs->Verify(info->sha256));
  FlipByte(blobs->PathFor(info->sha256), 10);
  EXPECT_TRUE(*blobs->RemoveIfCorrupt(info->sha256));
  EXPECT_FALSE(blobs->Exists(info->sha256));
  EXPECT_FALSE(*blobs->RemoveIfCorrupt(info->sha256));  // absent: nothing to do
}

TEST_F(BlobStoreTest, GarbageCollectionKeepsReferencedAndRecentBlobs) {
  auto blobs = Open();
  auto kept = *blobs->Put("referenced");
  auto orphan = *blobs->Put("orphan");
  auto refs = [&]() -> Result<std::unordered_set<std::string>> {
    return std::unordered_set<std::string>{kept.sha256};
  };
  auto report = blobs->CollectGarbage(refs, std::chrono::minutes(10));
  ASSERT_OK(report.status());
  EXPECT_EQ(report->removed, 0u);  // just published: its record may not be committed yet
  EXPECT_EQ(report->kept_recent, 1u);
  clock.Advance(std::chrono::minutes(11));
  report = blobs->CollectGarbage(refs, std::chrono::minutes(10));
  ASSERT_OK(report.status());
  EXPECT_EQ(report->removed, 1u);
  EXPECT_EQ(report->bytes_removed, 6u);
  EXPECT_TRUE(blobs->Exists(kept.sha256));
  EXPECT_FALSE(blobs->Exists(orphan.sha256));
}

// Power loss at every mutating file operation of a commit: afterwards the blob is absent or
// complete and correct, and a commit that returned OK survives the crash.
TEST(BlobStorePowerLoss, CommitIsAtomicAndDurableAtEveryCrashPoint) {
  const std::string bytes(100'000, 'z');
  const std::string sha = ToHex(Sha256::Of(bytes));
  for (bool keep_entries : {false, true}) {
    for (int64_t n = 0;; ++n) {
      SCOPED_TRACE("crash after " + std::to_string(n) + " operations, keep entries " +
                   std::to_string(keep_entries));
      oxide::testing::TempDir dir;
      PosixFileSystem posix;
      oxide::testing::PowerLossFileSystem fs(posix, dir.path());
      fs.set_keep_unsynced_entries(keep_entries);
      oxide::testing::FakeClock clock;
      const std::string root = dir.File("b");
      {
        auto blobs = BlobStore::Open(fs, clock, root);
        ASSERT_OK(blobs.status());
        fs.FailAfter(n);
        Status st = (*blobs)->Put(bytes).status();
        if (!fs.failed()) {
          ASSERT_OK(st);
          fs.Crash();
          EXPECT_EQ(*ReadFileToString(root + "/" + sha), bytes);  // acknowledged = durable
          EXPECT_GT(n, 2);
          break;
        }
      }
      fs.Crash();
      // Restarted over an hour later (by the file system's clock): every temp file is a
      // leftover then (a younger one may be another replica's upload in progress).
      oxide::testing::FakeClock later(1 << 30,
                                      std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                              .count() +
                                          3'700'000);
      auto reopened = BlobStore::Open(posix, later, root);
      ASSERT_OK(reopened.status());
      if ((*reopened)->Exists(sha)) {
        EXPECT_OK((*reopened)->Verify(sha));
      }
      auto names = (*reopened)->List();
      ASSERT_OK(names.status());
      for (const auto& name : names.value()) EXPECT_EQ(name, sha);
      EXPECT_TRUE(std::filesystem::is_empty(root + "/.tmp"));
    }
  }
}

}  // namespace
}  // namespace oxide::server
