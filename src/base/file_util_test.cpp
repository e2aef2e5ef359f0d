#include "base/file_util.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "testing/temp_dir.hpp"

namespace oxide {
namespace {

TEST(AtomicFileWriter, UncommittedLeavesTargetUntouched) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir.File("a"), "old").ok());
  {
    auto w = AtomicFileWriter::Create(dir.File("a"));
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Append("new contents").ok());
  }
  EXPECT_EQ(*ReadFileToString(dir.File("a")), "old");
  size_t entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1u) << "temp file left behind";
}

TEST(AtomicFileWriter, CommitReplaces) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir.File("a"), "old").ok());
  ASSERT_TRUE(AtomicWriteFile(dir.File("a"), "new").ok());
  EXPECT_EQ(*ReadFileToString(dir.File("a")), "new");
}

TEST(AtomicFileWriter, WriteAtOverwritesWhatWasAppended) {
  testing::TempDir dir;
  auto w = AtomicFileWriter::Create(dir.File("a"));
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE((*w)->Append("....body").ok());
  ASSERT_TRUE((*w)->WriteAt(0, "HEAD", 4).ok());
  EXPECT_EQ((*w)->WriteAt(6, "xyz", 3).code(), ErrorCode::kInvalidArgument) << "past the end";
  EXPECT_EQ((*w)->bytes_written(), 8u);
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ(*ReadFileToString(dir.File("a")), "HEADbody");
}

TEST(AtomicFileWriter, LargeFilesCommitWhole) {  // crosses the 8 MiB writeback steps
  testing::TempDir dir;
  auto w = AtomicFileWriter::Create(dir.File("a"));
  ASSERT_TRUE(w.ok());
  const std::string mib(1 << 20, 'z');
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*w)->Append(mib).ok());
  ASSERT_TRUE((*w)->Commit().ok());
  EXPECT_EQ(std::filesystem::file_size(dir.File("a")), 20u << 20);
}

TEST(ReadFileToString, RefusesOversizeFile) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir.File("a"), std::string(100, 'x')).ok());
  EXPECT_EQ(ReadFileToString(dir.File("a"), 10).status().code(), ErrorCode::kResourceExhausted);
}

TEST(MappedFile, MapsContentsAndEmptyFiles) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir.File("a"), "hello").ok());
  ASSERT_TRUE(AtomicWriteFile(dir.File("e"), "").ok());
  auto m = MappedFile::Open(dir.File("a"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->view(), "hello");
  auto e = MappedFile::Open(dir.File("e"));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ((*e)->size(), 0u);
  EXPECT_EQ(MappedFile::Open(dir.File("none")).status().code(), ErrorCode::kNotFound);
}

TEST(MappedFile, ReleasedRangesReadBackUnchanged) {
  testing::TempDir dir;
  std::string data(3 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 131 % 251);
  ASSERT_TRUE(AtomicWriteFile(dir.File("a"), data).ok());
  auto m = MappedFile::Open(dir.File("a"));
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE((*m)->view() == data);
  (*m)->Release(12345, 2 << 20);         // unaligned start: only whole pages inside are dropped
  (*m)->Release(0, data.size() + 4096);  // past the end: clamped
  (*m)->Release(data.size() + 1, 10);    // outside: nothing
  EXPECT_TRUE((*m)->view() == data);
}

TEST(ReadableFile, ReadExactPastEndIsCorrupt) {
  testing::TempDir dir;
  ASSERT_TRUE(AtomicWriteFile(dir.File("a"), "abc").ok());
  auto f = ReadableFile::Open(dir.File("a"));
  ASSERT_TRUE(f.ok());
  char buf[8];
  EXPECT_EQ((*f)->ReadExactAt(1, buf, 5).code(), ErrorCode::kCorrupt);
}

}  // namespace
}  // namespace oxide
