#include "codec/float_bytes_decoder.hpp"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "codec/element.hpp"
#include "codec/float_context.hpp"
#include "codec/rans.hpp"
#include "codec/scratch.hpp"

namespace oxide::codec::internal {

namespace {

// The packed table holds the model's contexts, then a trap context that the decoder moves to
// when the previous exponent names a context the block never uses (only a corrupt stream can get
// there). Its offset is the only one with kTrapOffset's bit set, so OR-ing every offset used
// tells afterwards whether that happened; its slots are all zero (symbol 0, freq 1), so decoding
// under it stays in bounds.
constexpr uint32_t kTrapOffset = uint32_t{kFloatBuckets} << kProbBits;
static_assert((kTrapOffset & (kTrapOffset - 1)) == 0, "the trap offset must be a single bit");
constexpr size_t kTableSize = size_t{kFloatBuckets + 1} << kProbBits;

// Positions per lane decoded before merging: the exponents of a chunk (4 KiB) stay in L1.
constexpr size_t kChunk = 1024;

// One symbol of a lane: state x under the context at table offset c. kChecked: fewer than 8
// stream bytes may be left, so every read is checked (a missing word sets *overrun).
template <bool kChecked>
[[gnu::always_inline]] inline unsigned DecodeSymbol(uint32_t& x, size_t c, const uint32_t* tab,
                                                    const uint8_t*& wp, const uint8_t* wend,
                                                    bool& overrun) {
  uint32_t d = tab[c + (x & (kProbScale - 1))];  // c: size_t, so no extension in the index
  x = ((d >> kPackedFreqShift & (kProbScale - 1)) + 1) * (x >> kProbBits) + (d >> kPackedBiasShift);
  uint16_t w = 0;
  uint32_t need = x < kRansLow;
  if (kChecked) {
    bool have = wend - wp >= 2;
    if (have) std::memcpy(&w, wp, 2);  // the format is little-endian, as is every host
    overrun |= need && !have;
    // A missing word fails the block (overrun); wp must still not pass the end of the stream.
    need &= static_cast<uint32_t>(have);
  } else {
    std::memcpy(&w, wp, 2);
  }
  // Both values computed (the empty asm hides that `shifted` is only needed on one path), so
  // that g++ selects with a cmov instead of a branch, which mispredicts every few symbols.
  uint32_t shifted = (x << 16) | w;
  __asm__("" : "+r"(shifted));
  x = need ? shifted : x;
  wp += need * 2;
  return d & 0xff;
}

// Eight elements at a time go through the compilers' generic vectors (g++ and clang; SSE2 on
// x86-64, NEON on arm64): the scalar merge does not vectorise at -O2 and took a third of the
// time. The raw planes are laid out for this (float_model.hpp).
using V8u8 = uint8_t __attribute__((vector_size(8)));
using V8u16 = uint16_t __attribute__((vector_size(16)));
using V8u32 = uint32_t __attribute__((vector_size(32)));

V8u16 Load8x8(const uint8_t* p) {
  V8u8 v;
  std::memcpy(&v, p, 8);
  return __builtin_convertvector(v, V8u16);
}

// The float kinds: the element type, the size of the raw section of m elements, its planes, and
// an element (or eight) from an exponent and the raw planes.
struct Bf16 {  // a byte plane: the sign above the 7 mantissa bits
  using U = uint16_t;
  const uint8_t* bytes;
  static size_t RawSize(size_t m) { return m; }
  Bf16(const uint8_t* p, size_t) : bytes(p) {}
  bool CleanPadding(size_t) const { return true; }
  U One(size_t i, unsigned e) const {
    return static_cast<U>((bytes[i] & 0x80) << 8 | e << 7 | (bytes[i] & 0x7f));
  }
  void Eight(size_t i, const uint8_t* e, uint8_t* out) const {
    V8u16 r = Load8x8(bytes + i);
    V8u16 x = ((r & 0x80) << 8) | (Load8x8(e) << 7) | (r & 0x7f);
    std::memcpy(out, &x, sizeof(x));
  }
};

struct Fp32 {  // the low 16 mantissa bits (LE), then a byte plane: the sign above bits 16-22
  using U = uint32_t;
  const uint8_t* low;
  const uint8_t* high;
  static size_t RawSize(size_t m) { return 3 * m; }
  Fp32(const uint8_t* p, size_t m) : low(p), high(p + 2 * m) {}
  bool CleanPadding(size_t) const { return true; }
  U One(size_t i, unsigned e) const {
    uint32_t h = high[i];
    return (low[2 * i] | uint32_t{low[2 * i + 1]} << 8) | (h & 0x7f) << 16 | e << 23 |
           (h & 0x80) << 24;
  }
  void Eight(size_t i, const uint8_t* e, uint8_t* out) const {
    V8u16 l16;
    std::memcpy(&l16, low + 2 * i, sizeof(l16));
    V8u32 l = __builtin_convertvector(l16, V8u32);
    V8u32 h = __builtin_convertvector(Load8x8(high + i), V8u32);
    V8u32 ev = __builtin_convertvector(Load8x8(e), V8u32);
    V8u32 x = l | ((h & 0x7f) << 16) | (ev << 23) | ((h & 0x80) << 24);
    std::memcpy(out, &x, sizeof(x));
  }
};

struct Fp16 {  // bit planes of mantissa bits 8 and 9 and the sign, then the low mantissa bytes
  using U = uint16_t;
  const uint8_t* b8;
  const uint8_t* b9;
  const uint8_t* sign;
  const uint8_t* bytes;
  static size_t PlaneSize(size_t m) { return (m + 7) / 8; }
  static size_t RawSize(size_t m) { return 3 * PlaneSize(m) + m; }
  Fp16(const uint8_t* p, size_t m)
      : b8(p), b9(p + PlaneSize(m)), sign(p + 2 * PlaneSize(m)), bytes(p + 3 * PlaneSize(m)) {}
  // The bits of the last byte of each bit plane past element m - 1 are zero.
  bool CleanPadding(size_t m) const {
    if (m % 8 == 0) return true;
    size_t last = PlaneSize(m) - 1;
    return ((b8[last] | b9[last] | sign[last]) >> (m % 8)) == 0;
  }
  // Bits i..i+7 of a plane. Two bytes: every bit plane is followed by another plane or the
  // byte plane (m >= 1 bytes), so this stays inside the payload.
  static unsigned Bits(const uint8_t* plane, size_t i) {
    uint16_t two;
    std::memcpy(&two, plane + i / 8, 2);
    return (two >> (i % 8)) & 0xff;
  }
  U One(size_t i, unsigned e) const {
    return static_cast<U>(bytes[i] | (Bits(b8, i) & 1) << 8 | (Bits(b9, i) & 1) << 9 | e << 10 |
                          (Bits(sign, i) & 1) << 15);
  }
  void Eight(size_t i, const uint8_t* e, uint8_t* out) const {
    // Lane k keeps bit k of a plane's byte and multiplies it up to bit `to`.
    const V8u16 lane = {0, 1, 2, 3, 4, 5, 6, 7};
    auto spread = [&](const uint8_t* plane, unsigned to) {
      const V8u16 one = V8u16{} + 1;
      V8u16 bits = V8u16{} + static_cast<uint16_t>(Bits(plane, i));
      return (bits & (one << lane)) * ((one << to) >> lane);
    };
    V8u16 x =
        Load8x8(bytes + i) | spread(b8, 8) | spread(b9, 9) | (Load8x8(e) << 10) | spread(sign, 15);
    std::memcpy(out, &x, sizeof(x));
  }
};

// Elements [a, b) from their exponents e[0, b - a) and the raw planes.
template <class K>
void Merge(const K& k, const uint8_t* e, size_t a, size_t b, uint8_t* data) {
  using U = typename K::U;
  size_t i = a;
  for (; i + 8 <= b; i += 8) k.Eight(i, e + (i - a), data + i * sizeof(U));
  for (; i < b; ++i) StoreElement<U>(data + i * sizeof(U), k.One(i, e[i - a]));
}

// Sets up the packed table and next[e], the table offset of the context that follows exponent e.
void BuildTables(const RansTables& t, unsigned ref_exp, unsigned exp_bits, bool use_nb,
                 uint32_t* tab, uint32_t* next) {
  bool used[kFloatBuckets] = {};
  for (unsigned c = 0; c < t.contexts; ++c) {
    used[c] = ContextUsed(t, c);
    if (used[c]) FillPackedSlots(t, c, tab + (size_t{c} << kProbBits));
  }
  std::fill(tab + kTrapOffset, tab + kTableSize, uint32_t{0});
  uint8_t buckets[256];
  FloatBucketTable(ref_exp, exp_bits, use_nb, buckets);
  for (unsigned e = 0; e < (1u << exp_bits); ++e) {
    next[e] = used[buckets[e]] ? uint32_t{buckets[e]} << kProbBits : kTrapOffset;
  }
}

template <class K>
Status DecodeT(unsigned exp_bits, const uint8_t* p, const uint8_t* end, uint8_t* data, size_t n,
               Scratch* sc) {
  using U = typename K::U;
  const unsigned alphabet = 1u << exp_bits;
  const size_t m = n / sizeof(U);
  if (end - p < 2) return Corrupt("float block: truncated header");
  const uint8_t flags = p[0];
  const unsigned ref_exp = p[1];
  p += 2;
  if (flags > kFloatFlagNeighbour || ref_exp >= alphabet) {
    return Corrupt("float block: bad header");
  }
  const bool use_nb = flags & kFloatFlagNeighbour;
  RansTables& t = sc->tables;
  const uint8_t* stream = nullptr;
  const uint8_t* wend = nullptr;
  OXIDE_RETURN_IF_ERROR(ReadModelParts(&p, end, data + m * sizeof(U), n - m * sizeof(U), alphabet,
                                       use_nb ? kFloatBuckets : 1, false, &t, &stream, &wend));
  if (wend - stream < static_cast<ptrdiff_t>(4 * kRansStates) || (wend - stream) % 2 != 0) {
    return Corrupt("float block: rANS stream too short or odd");
  }
  // The raw section, to the end of the payload.
  if (static_cast<size_t>(end - p) != K::RawSize(m)) {
    return Corrupt("float block: raw section does not match the block size");
  }
  const K planes(p, m);
  if (!planes.CleanPadding(m)) return Corrupt("float block: raw bits do not end cleanly");

  uint32_t* tab = Grow(&sc->packed_slots, kTableSize);
  uint32_t next[256];
  BuildTables(t, ref_exp, exp_bits, use_nb, tab, next);

  uint32_t x[kRansStates];
  for (unsigned j = 0; j < kRansStates; ++j) std::memcpy(&x[j], stream + 4 * j, 4);
  const uint8_t* wp = stream + 4 * kRansStates;
  const uint8_t* const safe_end = wend - 8;  // up to here four symbols (a word each) need no check
  bool overrun = false;
  // Lane j's context (see LaneElement); every lane starts as if after exponent 0.
  size_t c0 = next[0], c1 = c0, c2 = c0, c3 = c0;
  size_t seen = 0;  // every context offset used (an empty block uses none)
  uint8_t e[kRansStates * kChunk];
  // One position of each lane; lane j's exponent goes to ek[j * kChunk] (one pointer, constant
  // offsets: four pointers would not fit in the registers with the states).
  auto four = [&](auto checked, uint8_t* ek) __attribute__((always_inline)) {
    constexpr bool kChecked = decltype(checked)::value;
    seen |= c0 | c1 | c2 | c3;
    unsigned s0 = DecodeSymbol<kChecked>(x[0], c0, tab, wp, wend, overrun);
    unsigned s1 = DecodeSymbol<kChecked>(x[1], c1, tab, wp, wend, overrun);
    unsigned s2 = DecodeSymbol<kChecked>(x[2], c2, tab, wp, wend, overrun);
    unsigned s3 = DecodeSymbol<kChecked>(x[3], c3, tab, wp, wend, overrun);
    ek[0] = static_cast<uint8_t>(s0);
    ek[kChunk] = static_cast<uint8_t>(s1);
    ek[2 * kChunk] = static_cast<uint8_t>(s2);
    ek[3 * kChunk] = static_cast<uint8_t>(s3);
    c0 = next[s0];
    c1 = next[s1];
    c2 = next[s2];
    c3 = next[s3];
  };
  const size_t q = m / kRansStates;
  for (size_t k0 = 0; k0 < q; k0 += kChunk) {
    const size_t len = std::min(kChunk, q - k0);
    uint8_t* ek = e;
    for (; ek != e + len && wp <= safe_end; ++ek) four(std::false_type{}, ek);
    for (; ek != e + len; ++ek) four(std::true_type{}, ek);
    for (unsigned j = 0; j < kRansStates; ++j) {
      Merge(planes, e + j * kChunk, j * q + k0, j * q + k0 + len, data);
    }
  }
  // The m % 4 last elements continue lane 3's context under state i % 4 (ForEachInCodingOrder).
  for (size_t i = 4 * q; i < m; ++i) {
    seen |= c3;
    unsigned s = DecodeSymbol<true>(x[i % kRansStates], c3, tab, wp, wend, overrun);
    e[i - 4 * q] = static_cast<uint8_t>(s);
    c3 = next[s];
  }
  if (m > 4 * q) Merge(planes, e, 4 * q, m, data);

  bool clean = !overrun && wp == wend && (seen & kTrapOffset) == 0;
  for (unsigned j = 0; j < kRansStates; ++j) clean = clean && x[j] == kRansLow;
  if (!clean) return Corrupt("float block: rANS stream does not decode cleanly");
  return Status::Ok();
}

}  // namespace

Status DecodeFloatBytes(const BlockInfo& info, const uint8_t* p, const uint8_t* end, uint8_t* data,
                        size_t n, Scratch* sc) {
  const unsigned exp_bits = ExponentOf(info.kind).bits;
  switch (info.kind) {
    case ElementKind::kBf16:
      return DecodeT<Bf16>(exp_bits, p, end, data, n, sc);
    case ElementKind::kFp16:
      return DecodeT<Fp16>(exp_bits, p, end, data, n, sc);
    case ElementKind::kFp32:
      return DecodeT<Fp32>(exp_bits, p, end, data, n, sc);
    default:
      return Corrupt("float block: not a float kind");
  }
}

}  // namespace oxide::codec::internal
