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
  const uint32_t need = x < kRansLow;
  if (kChecked) {
    bool have = wend - wp >= 2;
    if (have) std::memcpy(&w, wp, 2);  // the format is little-endian, as is every host
    overrun |= need && !have;
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

// The float kinds: where the exponent sits and how many raw bits are left around it.
template <class Word, unsigned kShift>
struct Kind {
  using U = Word;
  static constexpr unsigned kRawBits = kShift + 1;
  static constexpr unsigned kWhole = kRawBits / 8;  // whole bytes of a raw value
  static constexpr unsigned kExtra = kRawBits % 8;  // bits above them (the bit plane)

  // The raw value of element i. REQUIRES: i + 1 < m when kWhole == 3 (a 4-byte load).
  static uint32_t RawFast(const uint8_t* bits, const uint8_t* bytes, size_t i) {
    uint32_t raw = 0;
    if constexpr (kWhole == 1) {
      raw = bytes[i];
    } else {
      std::memcpy(&raw, bytes + i * kWhole, 4);
      raw &= 0xffffff;
    }
    if constexpr (kExtra != 0) {
      // Two bytes: the plane is followed by the byte plane, so this stays inside the payload.
      uint16_t two;
      std::memcpy(&two, bits + i * kExtra / 8, 2);
      raw |= ((uint32_t{two} >> (i * kExtra % 8)) & ((1u << kExtra) - 1)) << (8 * kWhole);
    }
    return raw;
  }
  static uint32_t RawLast(const uint8_t* bits, const uint8_t* bytes, size_t i) {
    if constexpr (kWhole == 3) {
      return bytes[3 * i] | uint32_t{bytes[3 * i + 1]} << 8 | uint32_t{bytes[3 * i + 2]} << 16;
    } else {
      return RawFast(bits, bytes, i);
    }
  }
  static U Element(uint32_t raw, unsigned e) {
    constexpr uint32_t kMant = (uint32_t{1} << kShift) - 1;
    return static_cast<U>((raw & kMant) | uint32_t{e} << kShift |
                          static_cast<uint32_t>(raw >> kShift) << (8 * sizeof(U) - 1));
  }
};
using Bf16 = Kind<uint16_t, 7>;
using Fp16 = Kind<uint16_t, 10>;
using Fp32 = Kind<uint32_t, 23>;

// Eight bf16 elements at once with the compilers' generic vectors (g++ and clang; SSE2 on
// x86-64, NEON on arm64): the scalar loop does not vectorise at -O2 and was a third of the time.
using V8u8 = uint8_t __attribute__((vector_size(8)));
using V8u16 = uint16_t __attribute__((vector_size(16)));

inline void MergeBf16x8(const uint8_t* e, const uint8_t* raw, uint8_t* out) {
  V8u8 e8, r8;
  std::memcpy(&e8, e, 8);
  std::memcpy(&r8, raw, 8);
  V8u16 ev = __builtin_convertvector(e8, V8u16);
  V8u16 rv = __builtin_convertvector(r8, V8u16);
  V8u16 x = ((rv & 0x80) << 8) | (ev << 7) | (rv & 0x7f);
  std::memcpy(out, &x, 16);
}

// Elements [a, b) of m from their exponents e[0, b - a) and the raw planes.
template <class K>
void Merge(const uint8_t* e, const uint8_t* bits, const uint8_t* bytes, size_t m, size_t a,
           size_t b, uint8_t* data) {
  using U = typename K::U;
  size_t fast_end = K::kWhole == 3 ? std::min(b, m - 1) : b;
  size_t i = a;
  if constexpr (std::is_same_v<K, Bf16>) {
    for (; i + 8 <= b; i += 8) MergeBf16x8(e + (i - a), bytes + i, data + 2 * i);
  }
  for (; i < fast_end; ++i) {
    StoreElement<U>(data + i * sizeof(U), K::Element(K::RawFast(bits, bytes, i), e[i - a]));
  }
  for (; i < b; ++i) {
    StoreElement<U>(data + i * sizeof(U), K::Element(K::RawLast(bits, bytes, i), e[i - a]));
  }
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
  // The raw section: the bit plane, then the byte plane, to the end of the payload.
  const size_t bits_len = (m * K::kExtra + 7) / 8;
  if (static_cast<size_t>(end - p) != bits_len + m * K::kWhole) {
    return Corrupt("float block: raw section does not match the block size");
  }
  const uint8_t* bits = p;
  const uint8_t* bytes = p + bits_len;
  if ((m * K::kExtra) % 8 != 0 && (bits[bits_len - 1] >> (m * K::kExtra % 8)) != 0) {
    return Corrupt("float block: raw bits do not end cleanly");
  }

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
      Merge<K>(e + j * kChunk, bits, bytes, m, j * q + k0, j * q + k0 + len, data);
    }
  }
  // The m % 4 last elements continue lane 3's context under state i % 4 (ForEachInCodingOrder).
  for (size_t i = 4 * q; i < m; ++i) {
    seen |= c3;
    unsigned s = DecodeSymbol<true>(x[i % kRansStates], c3, tab, wp, wend, overrun);
    e[i - 4 * q] = static_cast<uint8_t>(s);
    c3 = next[s];
  }
  if (m > 4 * q) Merge<K>(e, bits, bytes, m, 4 * q, m, data);

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
