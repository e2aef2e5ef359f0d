#include "codec/table_code.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "testing/status_matchers.hpp"

namespace oxide::codec::internal {
namespace {

struct Written {
  unsigned alphabet;
  unsigned contexts;
  std::vector<uint32_t> counts;
  RansTables enc;
  std::string bytes;
};

Written Write(unsigned alphabet, unsigned contexts, uint32_t seed) {
  std::mt19937 rng(seed);
  Written w{alphabet, contexts, std::vector<uint32_t>(size_t{alphabet} * contexts), {}, {}};
  for (size_t i = 0; i < w.counts.size(); ++i) {
    // Unused contexts, unused symbols, single-symbol contexts and wide ranges of counts.
    unsigned c = static_cast<unsigned>(i / alphabet);
    if (c % 5 == 4 || rng() % 3 == 0) continue;
    w.counts[i] = rng() % 2 ? 1 + rng() % 4 : rng() % 2000000;
  }
  BuildAndWriteCompactTables(w.counts.data(), alphabet, contexts, &w.enc, &w.bytes);
  return w;
}

TEST(CompactTables, RoundTripToTheEncodersFrequencies) {
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    Written w = Write(1 + seed * 6 % 256, 1 + seed % 48, seed);
    for (unsigned c = 0; c < w.contexts; ++c) {
      uint32_t sum = 0;
      for (unsigned s = 0; s < w.alphabet; ++s) {
        uint32_t f = w.enc.fs[size_t{c} * w.alphabet + s] & 0xffff;
        EXPECT_EQ(f != 0, w.counts[size_t{c} * w.alphabet + s] != 0) << "seed " << seed;
        sum += f;
      }
      EXPECT_TRUE(sum == 0 || sum == kProbScale) << "seed " << seed << " context " << c;
    }
    w.bytes += "tail";
    const uint8_t* p = reinterpret_cast<const uint8_t*>(w.bytes.data());
    const uint8_t* end = p + w.bytes.size();
    RansTables dec;
    ASSERT_OK(ReadCompactTables(&p, end, w.alphabet, w.contexts, &dec));
    EXPECT_EQ(dec.fs, w.enc.fs) << "seed " << seed;
    EXPECT_EQ(end - p, 4) << "the reader must stop at the end of the tables";
  }
}

TEST(CompactTables, AreSmallerThanPlainTables) {
  Written w = Write(124, 48, 7);
  std::string plain;
  RansTables t;
  BuildEncoderTables(w.counts.data(), w.alphabet, w.contexts, &t);
  WriteTables(t, &plain);
  EXPECT_LT(w.bytes.size() * 10, plain.size() * 7);
}

Status Read(const std::string& bytes, unsigned alphabet, unsigned contexts) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(bytes.data());
  RansTables t;
  return ReadCompactTables(&p, p + bytes.size(), alphabet, contexts, &t);
}

TEST(CompactTables, MalformedTablesAreCorrupt) {
  Written w = Write(60, 8, 3);
  ASSERT_OK(Read(w.bytes, 60, 8));
  for (size_t cut = 0; cut < w.bytes.size(); ++cut) {
    EXPECT_STATUS(Read(w.bytes.substr(0, cut), 60, 8), ErrorCode::kCorrupt) << cut;
  }
  // A smaller alphabet than the writer's puts symbols out of range.
  EXPECT_STATUS(Read(w.bytes, 20, 8), ErrorCode::kCorrupt);
  // All zero bits: a gamma code that never ends.
  EXPECT_STATUS(Read(std::string(64, '\0'), 60, 8), ErrorCode::kCorrupt);
  // One context, one symbol: gamma(2) = bits 0,1,0 and gamma(1) = bit 1 fill the low nibble
  // of byte 0 (LSB first: 0b1010); the 8-bit code follows, 255 (> 199) here.
  std::string bad_code;
  bad_code.push_back(static_cast<char>(0xfa));
  bad_code.push_back(static_cast<char>(0x0f));
  EXPECT_STATUS(Read(bad_code, 60, 1), ErrorCode::kCorrupt);
  // The same with code 199 (0xc7) is a valid single-symbol table.
  std::string good;
  good.push_back(static_cast<char>(0x7a));
  good.push_back(static_cast<char>(0x0c));
  EXPECT_OK(Read(good, 60, 1));
}

}  // namespace
}  // namespace oxide::codec::internal
