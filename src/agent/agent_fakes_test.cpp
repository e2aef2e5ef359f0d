// The agent's fakes (src/agent/testing, src/testing) behave like the things they stand in for.
#include <gtest/gtest.h>

#include "agent/testing/fake_downloader.hpp"
#include "base/file_util.hpp"
#include "base/posix_file_system.hpp"
#include "testing/power_loss_file_system.hpp"
#include "testing/status_matchers.hpp"
#include "testing/temp_dir.hpp"

namespace oxide::agent {
namespace {

class PowerLossFs : public ::testing::Test {
 protected:
  std::string Read(const std::string& name) {
    auto s = ReadFileToString(tmp.File(name));
    return s.ok() ? *s : "<absent>";
  }
  void Write(const std::string& name, const std::string& data, bool sync) {
    auto f = fs.OpenForAppend(tmp.File(name), true);
    ASSERT_TRUE(f.ok());
    ASSERT_OK((*f)->Append(data.data(), data.size()));
    if (sync) {
      ASSERT_OK((*f)->Sync());
    }
  }
  ::oxide::testing::TempDir tmp;
  PosixFileSystem posix;
  ::oxide::testing::PowerLossFileSystem fs{posix, tmp.path()};
};

TEST_F(PowerLossFs, UnsyncedNewFileIsLost) {
  Write("a", "data", true);
  fs.Crash();
  EXPECT_EQ(Read("a"), "<absent>");  // data synced, directory entry not
}

TEST_F(PowerLossFs, SyncedFileAndDirectorySurvive) {
  Write("a", "data", true);
  ASSERT_OK(fs.SyncDir(tmp.path()));
  Write("a", "other", false);
  fs.Crash();
  EXPECT_EQ(Read("a"), "data");
}

TEST_F(PowerLossFs, UnsyncedRenameAndRemoveAreUndone) {
  Write("a", "old", true);
  Write("b", "new", true);
  ASSERT_OK(fs.SyncDir(tmp.path()));
  ASSERT_OK(fs.Rename(tmp.File("b"), tmp.File("a")));
  EXPECT_EQ(Read("a"), "new");
  fs.Crash();
  EXPECT_EQ(Read("a"), "old");
  EXPECT_EQ(Read("b"), "new");
  ASSERT_OK(fs.Remove(tmp.File("b")));
  fs.Crash();
  EXPECT_EQ(Read("b"), "new");
}

TEST_F(PowerLossFs, FailAfterIsStickyUntilCrash) {
  fs.FailAfter(1);
  auto f = fs.OpenForAppend(tmp.File("a"), true);
  ASSERT_TRUE(f.ok());
  EXPECT_STATUS((*f)->Append("x", 1), ErrorCode::kIo);
  EXPECT_TRUE(fs.failed());
  EXPECT_STATUS(fs.SyncDir(tmp.path()), ErrorCode::kIo);
  fs.Crash();
  EXPECT_FALSE(fs.failed());
  EXPECT_OK(fs.SyncDir(tmp.path()));
}

TEST_F(PowerLossFs, KeepUnsyncedEntriesModeLosesOnlyUnsyncedData) {
  fs.set_keep_unsynced_entries(true);
  Write("a", "old", true);
  ASSERT_OK(fs.SyncDir(tmp.path()));
  Write("b", "new", true);
  Write("c", "lost", false);
  ASSERT_OK(fs.Rename(tmp.File("b"), tmp.File("a")));
  fs.Crash();
  EXPECT_EQ(Read("a"), "new");  // the unsynced rename survived
  EXPECT_EQ(Read("b"), "<absent>");
  EXPECT_EQ(Read("c"), "");  // the entry survived, its unsynced data did not
}

TEST_F(PowerLossFs, UnsyncedTruncateIsUndone) {
  Write("a", "0123456789", true);
  ASSERT_OK(fs.SyncDir(tmp.path()));
  ASSERT_OK(fs.Truncate(tmp.File("a"), 4));
  EXPECT_EQ(Read("a"), "0123");
  fs.Crash();
  EXPECT_EQ(Read("a"), "0123456789");
}

class RecordingSink final : public DownloadSink {
 public:
  Status OnResponse(const HttpResponseHead& h) override {
    head = h;
    return Status::Ok();
  }
  Status Write(const uint8_t* d, size_t n) override {
    body.append(reinterpret_cast<const char*>(d), n);
    return Status::Ok();
  }
  HttpResponseHead head;
  std::string body;
};

TEST(FakeDownloader, ServesRangesOnlyWhenIfRangeMatches) {
  ::oxide::testing::FakeDownloader dl;
  dl.SetFull("u", "0123456789", std::string(64, 'a'));
  RecordingSink first;
  ASSERT_TRUE(dl.Get({"u", {}, nullptr}, first).ok());
  std::string etag = first.head.Header("etag");
  RecordingSink ranged;
  ASSERT_TRUE(dl.Get({"u", {{"Range", "bytes=4-"}, {"If-Range", etag}}, nullptr}, ranged).ok());
  EXPECT_EQ(ranged.head.status, 206);
  EXPECT_EQ(ranged.head.Header("content-range"), "bytes 4-9/10");
  EXPECT_EQ(ranged.body, "456789");
  RecordingSink stale;
  ASSERT_TRUE(dl.Get({"u", {{"Range", "bytes=4-"}, {"If-Range", "\"x\""}}, nullptr}, stale).ok());
  EXPECT_EQ(stale.head.status, 200);
  EXPECT_EQ(stale.body, "0123456789");
}

TEST(FakeDownloader, FailsOnceAfterNBytes) {
  ::oxide::testing::FakeDownloader dl;
  dl.SetFull("u", "0123456789", std::string(64, 'a'));
  dl.FailAfterBytes(3);
  RecordingSink sink;
  EXPECT_STATUS(dl.Get({"u", {}, nullptr}, sink).status(), ErrorCode::kUnavailable);
  EXPECT_EQ(sink.body, "012");
  RecordingSink again;
  EXPECT_TRUE(dl.Get({"u", {}, nullptr}, again).ok());
  EXPECT_EQ(again.body, "0123456789");
}

TEST(FakeDownloader, ResourceChangedMidTransferIsServedWholeOnResume) {
  ::oxide::testing::FakeDownloader dl;
  dl.SetFull("u", "0123456789", std::string(64, 'a'));
  dl.set_chunk_size(2);
  dl.set_on_chunk([&dl](uint64_t sent) {
    if (sent == 4) dl.SetEtag("u", "\"v2\"");
  });
  RecordingSink first;
  ASSERT_TRUE(dl.Get({"u", {}, nullptr}, first).ok());
  EXPECT_EQ(first.body, "0123456789");  // the transfer in flight is unaffected
  std::string old_etag = first.head.Header("etag");
  EXPECT_NE(old_etag, "\"v2\"");
  RecordingSink resumed;
  ASSERT_TRUE(
      dl.Get({"u", {{"Range", "bytes=4-"}, {"If-Range", old_etag}}, nullptr}, resumed).ok());
  EXPECT_EQ(resumed.head.status, 200);
  EXPECT_EQ(resumed.head.Header("etag"), "\"v2\"");
  dl.set_ignore_if_range(true);  // a broken cache: 206 of the new resource
  RecordingSink broken;
  ASSERT_TRUE(dl.Get({"u", {{"Range", "bytes=4-"}, {"If-Range", old_etag}}, nullptr}, broken).ok());
  EXPECT_EQ(broken.head.status, 206);
}

}  // namespace
}  // namespace oxide::agent
