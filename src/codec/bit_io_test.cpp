#include "codec/bit_io.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace oxide::codec::internal {
namespace {

struct Written {
  std::string bytes;
  std::vector<unsigned> widths;
  std::vector<uint64_t> values;
};

Written WriteRandom(size_t count, unsigned max_width, uint32_t seed) {
  std::mt19937_64 rng(seed);
  Written w;
  BitWriter bw(&w.bytes);
  for (size_t i = 0; i < count; ++i) {
    unsigned nbits = static_cast<unsigned>(rng() % (max_width + 1));
    uint64_t v = nbits == 0 ? 0 : rng() >> (64 - nbits);
    bw.PutWide(v, nbits);
    w.widths.push_back(nbits);
    w.values.push_back(v);
  }
  bw.Flush();
  return w;
}

const uint8_t* Begin(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// The merge pass's pattern: runs of reads, fast where CanReadFast covers the run, else checked.
TEST(BitCursor, FastAndCheckedReadsAgreeWithTheWriter) {
  for (unsigned max_width : {5u, 13u, 29u, 57u, 64u}) {
    for (uint32_t seed = 1; seed <= 20; ++seed) {
      Written w = WriteRandom(1 + seed * 37, max_width, seed);
      BitCursor c(Begin(w.bytes), Begin(w.bytes) + w.bytes.size());
      size_t i = 0, fast_reads = 0;
      while (i < w.values.size()) {
        size_t run_end = std::min(w.values.size(), i + 1 + seed % 11);
        uint64_t run_bits = 0;
        bool wide = false;
        for (size_t k = i; k < run_end; ++k) {
          run_bits += w.widths[k];
          wide |= w.widths[k] > 57;
        }
        const bool fast = !wide && c.CanReadFast(run_bits);
        for (; i < run_end; ++i) {
          uint64_t v = fast ? c.GetFast(w.widths[i]) : c.Get(w.widths[i]);
          ASSERT_EQ(v, w.values[i]) << "width " << max_width << " seed " << seed << " at " << i;
          fast_reads += fast;
        }
      }
      EXPECT_FALSE(c.Overrun());
      EXPECT_TRUE(c.AtCleanEnd());
      if (max_width <= 57 && w.values.size() > 200) {
        EXPECT_GT(fast_reads, 0u);
      }
    }
  }
}

TEST(BitCursor, CanReadFastKeepsEightBytesOfSlack) {
  std::string bytes(16, '\xff');
  BitCursor c(Begin(bytes), Begin(bytes) + bytes.size());
  EXPECT_TRUE(c.CanReadFast(64 + 7));  // the last read starts in byte 8 and loads bytes 8..15
  EXPECT_FALSE(c.CanReadFast(72));     // a read at byte 9 would load byte 16
  std::string few(7, '\xff');
  BitCursor short_input(Begin(few), Begin(few) + few.size());
  EXPECT_FALSE(short_input.CanReadFast(0));
}

TEST(BitCursor, ReadsPastTheEndAreZeroAndReported) {
  std::string bytes = "\x0f";
  BitCursor c(Begin(bytes), Begin(bytes) + 1);
  EXPECT_EQ(c.Get(6), 0x0fu);
  EXPECT_EQ(c.Get(5), 0u);
  EXPECT_TRUE(c.Overrun());
  EXPECT_FALSE(c.AtCleanEnd());
}

TEST(BitCursor, PaddingBitsMustBeZero) {
  std::string bytes = "\x83";  // 3 bits 011 read, 10000 left
  BitCursor c(Begin(bytes), Begin(bytes) + 1);
  EXPECT_EQ(c.Get(3), 3u);
  EXPECT_FALSE(c.AtCleanEnd());
  BitCursor d(Begin(bytes), Begin(bytes) + 1);
  EXPECT_EQ(d.Get(8), 0x83u);
  EXPECT_TRUE(d.AtCleanEnd());
  BitCursor e(Begin(bytes), Begin(bytes) + 1);
  EXPECT_FALSE(e.AtCleanEnd());  // a whole unread byte
}

}  // namespace
}  // namespace oxide::codec::internal
