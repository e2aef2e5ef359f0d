#include "base/coding.hpp"

#include <gtest/gtest.h>

namespace oxide {
namespace {

TEST(Coding, VarintRoundTrip) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 40, ~0ull}) {
    std::string s;
    PutVarint64(&s, v);
    const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
    uint64_t out = 0;
    ASSERT_TRUE(GetVarint64(&p, p + s.size(), &out));
    EXPECT_EQ(out, v);
  }
}

TEST(Coding, VarintRejectsTruncationAndOverflow) {
  const uint8_t trunc[] = {0x80, 0x80};
  const uint8_t* p = trunc;
  uint64_t out;
  EXPECT_FALSE(GetVarint64(&p, trunc + 2, &out));
  const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  p = over;
  EXPECT_FALSE(GetVarint64(&p, over + 10, &out));
}

TEST(Coding, FixedRoundTrip) {
  std::string s;
  PutFixed32(&s, 0xdeadbeef);
  PutFixed64(&s, 0x0123456789abcdefull);
  auto* p = reinterpret_cast<const uint8_t*>(s.data());
  EXPECT_EQ(DecodeFixed32(p), 0xdeadbeefu);
  EXPECT_EQ(DecodeFixed64(p + 4), 0x0123456789abcdefull);
}

}  // namespace
}  // namespace oxide
