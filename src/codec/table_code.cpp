#include "codec/table_code.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <vector>

#include "codec/bit_io.hpp"

namespace oxide::codec::internal {

namespace {

// kFreqOf[code]: q + 1 for q < 32, then round(32 * 2^((q - 31) / 24)), up to 4096 = kProbScale.
constexpr uint16_t kFreqOf[] = {
    1,    2,    3,    4,    5,    6,    7,    8,    9,    10,   11,   12,   13,   14,   15,   16,
    17,   18,   19,   20,   21,   22,   23,   24,   25,   26,   27,   28,   29,   30,   31,   32,
    33,   34,   35,   36,   37,   38,   39,   40,   41,   43,   44,   45,   47,   48,   49,   51,
    52,   54,   55,   57,   59,   60,   62,   64,   66,   68,   70,   72,   74,   76,   78,   81,
    83,   85,   88,   91,   93,   96,   99,   102,  105,  108,  111,  114,  117,  121,  124,  128,
    132,  136,  140,  144,  148,  152,  157,  161,  166,  171,  176,  181,  186,  192,  197,  203,
    209,  215,  222,  228,  235,  242,  249,  256,  264,  271,  279,  287,  296,  304,  313,  323,
    332,  342,  352,  362,  373,  384,  395,  406,  418,  431,  443,  456,  470,  483,  497,  512,
    527,  542,  558,  575,  592,  609,  627,  645,  664,  683,  703,  724,  745,  767,  790,  813,
    837,  861,  886,  912,  939,  967,  995,  1024, 1054, 1085, 1117, 1149, 1183, 1218, 1253, 1290,
    1328, 1367, 1407, 1448, 1491, 1534, 1579, 1625, 1673, 1722, 1773, 1825, 1878, 1933, 1990, 2048,
    2108, 2170, 2233, 2299, 2366, 2435, 2507, 2580, 2656, 2734, 2814, 2896, 2981, 3069, 3158, 3251,
    3346, 3444, 3545, 3649, 3756, 3866, 3979, 4096};
constexpr unsigned kCodes = sizeof(kFreqOf) / sizeof(kFreqOf[0]);
static_assert(kCodes == 200 && kFreqOf[kCodes - 1] == kProbScale);
constexpr unsigned kMaxGammaBits = 16;  // used + 1 <= 257 and gap + 1 <= 256 need 9

// The code whose frequency is nearest to f on a log scale.
unsigned CodeOf(uint32_t f) {
  const uint16_t* it = std::lower_bound(kFreqOf, kFreqOf + kCodes, f);
  unsigned hi = static_cast<unsigned>(it - kFreqOf);
  if (hi == 0) return 0;
  if (hi == kCodes) return kCodes - 1;
  // f lies in (kFreqOf[hi - 1], kFreqOf[hi]]: nearer by ratio, f^2 against the product.
  uint64_t lo_v = kFreqOf[hi - 1], hi_v = kFreqOf[hi];
  return uint64_t{f} * f < lo_v * hi_v ? hi - 1 : hi;
}

// Frequencies of one context from its codes, summing to kProbScale, each at least 1: scaled
// down in proportion, then the remainder given to (or taken from) the largest. The encoder and
// the decoder both run this, so they agree to the bit.
void Renormalise(const uint16_t* raw, unsigned used, uint32_t* freq) {
  uint64_t total = 0;
  unsigned largest = 0;
  for (unsigned k = 0; k < used; ++k) {
    total += raw[k];
    if (raw[k] > raw[largest]) largest = k;
  }
  int64_t sum = 0;
  for (unsigned k = 0; k < used; ++k) {
    freq[k] = static_cast<uint32_t>(std::max<uint64_t>(1, uint64_t{raw[k]} * kProbScale / total));
    sum += freq[k];
  }
  int64_t diff = static_cast<int64_t>(kProbScale) - sum;
  if (diff >= 0) {
    freq[largest] += static_cast<uint32_t>(diff);
    return;
  }
  while (diff < 0) {  // only where many symbols were raised to 1
    unsigned best = 0;
    for (unsigned k = 1; k < used; ++k) {
      if (freq[k] > freq[best]) best = k;
    }
    int64_t take = std::min<int64_t>(-diff, freq[best] - 1);
    freq[best] -= static_cast<uint32_t>(take);
    diff += take;
  }
}

void PutGamma(BitWriter* bw, uint32_t x) {  // x >= 1
  unsigned n = static_cast<unsigned>(std::bit_width(x)) - 1;
  bw->Put(0, n);
  bw->Put(1, 1);
  bw->Put(x & ((uint32_t{1} << n) - 1), n);
}

bool GetGamma(BitReader* br, uint32_t* x) {
  unsigned n = 0;
  while (br->Get(1) == 0) {
    if (++n > kMaxGammaBits || br->Overrun()) return false;
  }
  *x = (uint32_t{1} << n) | static_cast<uint32_t>(br->Get(n));
  return !br->Overrun();
}

}  // namespace

void BuildAndWriteCompactTables(const uint32_t* counts, unsigned alphabet, unsigned contexts,
                                RansTables* t, std::string* out) {
  t->alphabet = alphabet;
  t->contexts = contexts;
  t->fs.assign(size_t{alphabet} * contexts, 0);
  // An alphabet has at most kMaxAlphabet symbols (rans.hpp): no allocation per block.
  std::array<uint16_t, kMaxAlphabet> norm, raw;
  std::array<uint32_t, kMaxAlphabet> freq;
  std::array<unsigned, kMaxAlphabet> syms;
  BitWriter bw(out);
  for (unsigned c = 0; c < contexts; ++c) {
    NormaliseCounts(counts + size_t{c} * alphabet, alphabet, norm.data());
    unsigned used = 0;
    for (unsigned s = 0; s < alphabet; ++s) {
      if (norm[s] != 0) syms[used++] = s;
    }
    PutGamma(&bw, used + 1);
    unsigned next = 0;
    for (unsigned k = 0; k < used; ++k) {
      unsigned code = CodeOf(norm[syms[k]]);
      raw[k] = kFreqOf[code];
      PutGamma(&bw, syms[k] - next + 1);
      bw.Put(code, 8);
      next = syms[k] + 1;
    }
    if (used == 0) continue;
    Renormalise(raw.data(), used, freq.data());
    uint32_t start = 0;
    for (unsigned k = 0; k < used; ++k) {
      t->fs[size_t{c} * alphabet + syms[k]] = freq[k] | start << 16;
      start += freq[k];
    }
  }
  bw.Flush();
}

Status ReadCompactTables(const uint8_t** p, const uint8_t* end, unsigned alphabet,
                         unsigned contexts, RansTables* t) {
  t->alphabet = alphabet;
  t->contexts = contexts;
  t->fs.assign(size_t{alphabet} * contexts, 0);
  if (alphabet > kMaxAlphabet) return Corrupt("residual block: alphabet too large");
  std::array<uint16_t, kMaxAlphabet> raw;
  std::array<uint32_t, kMaxAlphabet> freq;
  std::array<unsigned, kMaxAlphabet> syms;
  BitReader br(*p, end);
  for (unsigned c = 0; c < contexts; ++c) {
    uint32_t used1 = 0;
    if (!GetGamma(&br, &used1) || used1 - 1 > alphabet) {
      return Corrupt("residual block: bad symbol count in a compact table");
    }
    const unsigned used = used1 - 1;
    if (used == 0) continue;  // fs stays 0: FillAllPackedSlots makes it a trap context
    unsigned next = 0;
    for (unsigned k = 0; k < used; ++k) {
      uint32_t gap1 = 0;
      if (!GetGamma(&br, &gap1) || gap1 - 1 >= alphabet - next) {
        return Corrupt("residual block: compact table symbol out of range");
      }
      unsigned code = static_cast<unsigned>(br.Get(8));
      if (code >= kCodes || br.Overrun()) {
        return Corrupt("residual block: bad frequency code in a compact table");
      }
      syms[k] = next + gap1 - 1;
      raw[k] = kFreqOf[code];
      next = syms[k] + 1;
    }
    Renormalise(raw.data(), used, freq.data());
    uint32_t start = 0;
    for (unsigned k = 0; k < used; ++k) {
      t->fs[size_t{c} * alphabet + syms[k]] = freq[k] | start << 16;
      start += freq[k];
    }
  }
  const uint64_t bytes = (br.ConsumedBits() + 7) / 8;
  if (br.Overrun() || bytes > static_cast<uint64_t>(end - *p)) {
    return Corrupt("residual block: truncated compact table");
  }
  *p += bytes;
  return Status::Ok();
}

}  // namespace oxide::codec::internal
