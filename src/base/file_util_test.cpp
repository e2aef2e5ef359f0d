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
