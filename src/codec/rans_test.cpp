#include "codec/rans.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "testing/status_matchers.hpp"

namespace oxide::codec::internal {
namespace {

TEST(Rans, NormalisedFrequenciesSumToScaleAndKeepEverySymbol) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    unsigned alphabet = 1 + rng() % 256;
    std::vector<uint32_t> counts(alphabet);
    for (auto& c : counts) {
      c = static_cast<uint32_t>((rng() % 3 == 0) ? 0 : (rng() % 2 ? 1 : rng() % 1000000));
    }
    counts[rng() % alphabet] += 1;
    std::vector<uint16_t> freq(alphabet);
    NormaliseCounts(counts.data(), alphabet, freq.data());
    uint32_t sum = 0;
    for (unsigned s = 0; s < alphabet; ++s) {
      EXPECT_EQ(counts[s] == 0, freq[s] == 0) << s;
      sum += freq[s];
    }
    EXPECT_EQ(sum, kProbScale);
  }
}

TEST(Rans, CodesSymbolsUnderContexts) {
  std::mt19937 rng(2);
  const unsigned alphabet = 40, contexts = 5;
  size_t count = 100003;
  std::vector<uint8_t> syms(count), ctxs(count);
  std::vector<uint32_t> counts(alphabet * contexts, 0);
  std::geometric_distribution<int> geo(0.3);
  for (size_t i = 0; i < count; ++i) {
    ctxs[i] = static_cast<uint8_t>(rng() % (contexts - 1));  // the last context stays unused
    syms[i] = static_cast<uint8_t>(std::min<int>(geo(rng) + ctxs[i] * 3, alphabet - 1));
    ++counts[ctxs[i] * alphabet + syms[i]];
  }
  RansTables enc;
  BuildEncoderTables(counts.data(), alphabet, contexts, &enc);
  std::string blob;
  WriteTables(enc, &blob);
  size_t tables_len = blob.size();
  RansEncode(enc, syms.data(), ctxs.data(), count, &blob);
  EXPECT_LT(blob.size(), count);  // about 2.6 bits a symbol

  RansTables dec_tables;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(blob.data());
  const uint8_t* end = p + blob.size();
  ASSERT_OK(ReadTables(&p, end, alphabet, contexts, &dec_tables));
  ASSERT_EQ(p - reinterpret_cast<const uint8_t*>(blob.data()), static_cast<ptrdiff_t>(tables_len));
  RansDecoder dec;
  ASSERT_OK(dec.Init(p, end));
  for (size_t i = 0; i < count; ++i) {
    unsigned s = dec.Decode(static_cast<unsigned>(i % kRansStates),
                            dec_tables.fs.data() + ctxs[i] * alphabet,
                            dec_tables.slot_sym.data() + (size_t{ctxs[i]} << kProbBits));
    ASSERT_EQ(s, syms[i]) << i;
  }
  EXPECT_TRUE(dec.Finished());

  // The packed table decodes the same symbols, one load each.
  std::vector<uint32_t> packed(size_t{contexts} << kProbBits);
  FillAllPackedSlots(dec_tables, packed.data());
  RansDecoder packed_dec;
  ASSERT_OK(packed_dec.Init(p, end));
  for (size_t i = 0; i < count; ++i) {
    unsigned s = packed_dec.DecodePacked(static_cast<unsigned>(i % kRansStates),
                                         packed.data() + (size_t{ctxs[i]} << kProbBits));
    ASSERT_EQ(s, syms[i]) << i;
  }
  EXPECT_TRUE(packed_dec.Finished());
}

TEST(Rans, RejectsTablesThatDoNotSumUp) {
  std::string blob;
  blob.push_back(2);  // two symbols
  blob.push_back(0);  // symbol 0
  blob.push_back(0);  // freq 1
  blob.push_back(0);  // symbol 1
  blob.push_back(0);  // freq 1 (sum 2, not 4096)
  const uint8_t* p = reinterpret_cast<const uint8_t*>(blob.data());
  RansTables t;
  EXPECT_STATUS(ReadTables(&p, p + blob.size(), 4, 1, &t), ErrorCode::kCorrupt);
  std::string big(1, '\x05');  // five symbols in an alphabet of four
  p = reinterpret_cast<const uint8_t*>(big.data());
  EXPECT_STATUS(ReadTables(&p, p + big.size(), 4, 1, &t), ErrorCode::kCorrupt);
}

TEST(Rans, UnusedContextIsAnError) {
  std::vector<uint32_t> counts = {5, 5, 0, 0};  // context 0 used, context 1 not
  RansTables enc;
  BuildEncoderTables(counts.data(), 2, 2, &enc);
  std::string blob;
  WriteTables(enc, &blob);
  uint8_t syms[1] = {0}, ctxs[1] = {0};
  RansEncode(enc, syms, ctxs, 1, &blob);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(blob.data());
  RansTables t;
  ASSERT_OK(ReadTables(&p, p + blob.size(), 2, 2, &t));
  RansDecoder dec;
  ASSERT_OK(dec.Init(p, reinterpret_cast<const uint8_t*>(blob.data()) + blob.size()));
  RansDecoder packed_dec = dec;
  dec.Decode(0, t.fs.data() + 2, t.slot_sym.data() + (size_t{1} << kProbBits));
  EXPECT_FALSE(dec.Finished());
  std::vector<uint32_t> packed(size_t{2} << kProbBits);
  FillAllPackedSlots(t, packed.data());
  RansDecoder used = packed_dec;
  EXPECT_EQ(used.DecodePacked(0, packed.data()), 0u);
  EXPECT_TRUE(used.Finished());
  EXPECT_EQ(packed_dec.DecodePacked(0, packed.data() + (size_t{1} << kProbBits)), kTrapSymbol);
  EXPECT_FALSE(packed_dec.Finished());
}

}  // namespace
}  // namespace oxide::codec::internal
