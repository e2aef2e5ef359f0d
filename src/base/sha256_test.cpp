#include "base/sha256.hpp"

#include <gtest/gtest.h>

#include "base/file_util.hpp"
#include "testing/temp_dir.hpp"

namespace oxide {
namespace {

TEST(Sha256, KnownVectorAbc) {
  EXPECT_EQ(ToHex(Sha256::Of("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256, StreamingEqualsOneShot) {
  std::string data(100000, 'x');
  Sha256 h;
  for (size_t i = 0; i < data.size(); i += 777) h.Update(data.substr(i, 777));
  EXPECT_EQ(h.Finish(), Sha256::Of(data));
}

TEST(Sha256, HexRoundTrip) {
  Digest d = Sha256::Of("x");
  auto back = DigestFromHex(ToHex(d));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, d);
  EXPECT_EQ(DigestFromHex("zz").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(DigestFromHex(std::string(64, 'g')).status().code(), ErrorCode::kInvalidArgument);
}

TEST(Sha256, FileMatchesBuffer) {
  testing::TempDir dir;
  std::string data(3 << 20, 'q');
  ASSERT_TRUE(AtomicWriteFile(dir.File("f"), data).ok());
  auto d = Sha256File(dir.File("f"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, Sha256::Of(data));
  EXPECT_EQ(Sha256File(dir.File("missing")).status().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace oxide
