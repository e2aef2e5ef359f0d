#include "codec/float_model.hpp"

#include <vector>

#include "codec/bit_io.hpp"
#include "codec/element.hpp"
#include "codec/float_context.hpp"
#include "codec/rans.hpp"
#include "codec/scratch.hpp"

namespace oxide::codec::internal {

namespace {

constexpr unsigned kBuckets = kFloatBuckets;
constexpr uint8_t kFlagNeighbour = kFloatFlagNeighbour;

// The raw part of element x: the mantissa, with the sign above it (shift + 1 bits).
template <class U>
U RawBits(U x, unsigned shift) {
  const U mant_mask = static_cast<U>((U{1} << shift) - 1);
  return static_cast<U>((x & mant_mask) | ((x >> (8 * sizeof(U) - 1)) << shift));
}

// Mode 3: one (shift + 1)-bit value per element in coding order, through the bit writer.
template <class U>
void WriteRawPacked(const uint8_t* data, const uint32_t* order, size_t m, unsigned shift,
                    std::string* out) {
  BitWriter bw(out);
  for (size_t p = 0; p < m; ++p) {
    bw.Put(RawBits<U>(LoadElement<U>(data + order[p] * sizeof(U)), shift), shift + 1);
  }
  bw.Flush();
}

// Mode 4 (float_bytes_decoder.hpp): planes of the raw values in element order. fp16: three bit
// planes (mantissa bit 8, bit 9, the sign; 8 elements a byte, LSB first), then the low mantissa
// bytes; bf16: the raw bytes; fp32: the low 16 bits (LE), then the high 8.
template <class U>
void WriteRawBytes(const uint8_t* data, size_t m, unsigned shift, std::string* out) {
  auto raw = [&](size_t i) { return RawBits<U>(LoadElement<U>(data + i * sizeof(U)), shift); };
  if (shift == 10) {
    for (unsigned bit = 8; bit <= 10; ++bit) {
      BitWriter bw(out);
      for (size_t i = 0; i < m; ++i) bw.Put((raw(i) >> bit) & 1, 1);
      bw.Flush();
    }
  }
  size_t at = out->size();
  const unsigned low_bytes = shift == 23 ? 2 : 0;
  out->resize(at + m * (low_bytes + 1));
  char* dst = out->data() + at;
  if (low_bytes != 0) {
    for (size_t i = 0; i < m; ++i) {
      dst[2 * i] = static_cast<char>(raw(i));
      dst[2 * i + 1] = static_cast<char>(raw(i) >> 8);
    }
    dst += 2 * m;
  }
  for (size_t i = 0; i < m; ++i) dst[i] = static_cast<char>(raw(i) >> (8 * low_bytes));
}

template <class U>
void EncodeT(const BlockInfo& info, const uint8_t* data, size_t n, FloatRaw layout,
             std::string* out, Scratch* sc) {
  constexpr unsigned kW = sizeof(U);
  const ExponentField ef = ExponentOf(info.kind);
  const unsigned alphabet = 1u << ef.bits;
  const size_t m = n / kW;
  const U emask = static_cast<U>(alphabet - 1);

  uint8_t* exps = Grow(&sc->tok, m);
  std::vector<uint32_t>& hist = sc->hist;
  hist.assign(alphabet, 0);
  for (size_t i = 0; i < m; ++i) {
    exps[i] = static_cast<uint8_t>((LoadElement<U>(data + i * kW) >> ef.shift) & emask);
    ++hist[exps[i]];
  }
  hist[0] = 0;
  unsigned ref_exp = MostFrequent(hist.data(), alphabet);

  uint8_t buckets[256];
  FloatBucketTable(ref_exp, ef.bits, true, buckets);
  uint8_t* ctx = Grow(&sc->ctx, m);
  std::vector<uint32_t>& counts = sc->counts;
  counts.assign(size_t{kBuckets} * alphabet, 0);
  std::vector<uint32_t>& flat = sc->marg;
  flat.assign(alphabet, 0);
  // Contexts and symbols in coding order (see LaneElement).
  const size_t q = m / kRansStates;
  uint8_t* exps_order = Grow(&sc->sym_order, m);
  uint32_t* order = Grow(&sc->order, m);
  for (size_t p = 0; p < m; ++p) {
    size_t i = LaneElement(p, q);
    order[p] = static_cast<uint32_t>(i);
    exps_order[p] = exps[i];
    ctx[p] = buckets[HasLanePrev(i, q) ? exps[i - 1] : 0];
    ++counts[size_t{ctx[p]} * alphabet + exps[i]];
    ++flat[exps[i]];
  }
  double with_ctx = 0;
  for (unsigned c = 0; c < kBuckets; ++c) {
    with_ctx += EstimateCostBits(counts.data() + size_t{c} * alphabet, alphabet);
  }
  const bool use_nb = with_ctx < EstimateCostBits(flat.data(), alphabet);
  if (!use_nb) std::fill(ctx, ctx + m, uint8_t{0});

  RansTables& tables = sc->tables;
  BuildEncoderTables(use_nb ? counts.data() : flat.data(), alphabet, use_nb ? kBuckets : 1,
                     &tables);
  out->push_back(static_cast<char>(use_nb ? kFlagNeighbour : 0));
  out->push_back(static_cast<char>(ref_exp));
  WriteModelBody(data + m * kW, n - m * kW, tables, exps_order, ctx, m, out, &sc->words);
  if (layout == FloatRaw::kPackedBits) {
    WriteRawPacked<U>(data, order, m, ef.shift, out);
  } else {
    WriteRawBytes<U>(data, m, ef.shift, out);
  }
}

template <class U>
Status DecodeT(const BlockInfo& info, const uint8_t* p, const uint8_t* end, uint8_t* data, size_t n,
               Scratch* sc) {
  constexpr unsigned kW = sizeof(U);
  const ExponentField ef = ExponentOf(info.kind);
  const unsigned alphabet = 1u << ef.bits;
  const size_t m = n / kW;
  if (end - p < 2) return Corrupt("float block: truncated header");
  uint8_t flags = p[0];
  unsigned ref_exp = p[1];
  p += 2;
  if (flags > kFlagNeighbour || ref_exp >= alphabet) return Corrupt("float block: bad header");
  const bool use_nb = flags & kFlagNeighbour;
  RansTables& t = sc->tables;
  RansDecoder dec;
  OXIDE_RETURN_IF_ERROR(
      ReadModelBody(&p, end, data + m * kW, n - m * kW, alphabet, use_nb ? kBuckets : 1, &t, &dec));
  BitReader br(p, end);
  // (dec and br are locals of this function, so the hot loop keeps them in registers.)

  uint8_t buckets[256];
  FloatBucketTable(ref_exp, ef.bits, use_nb, buckets);
  const unsigned raw_bits = ef.shift + 1;
  const U mant_mask = static_cast<U>((U{1} << ef.shift) - 1);
  const unsigned sign_shift = 8 * kW - 1;
  const uint32_t* fs = t.fs.data();
  const uint8_t* slots = t.slot_sym.data();
  // Context per lane (see LaneElement): four independent dependency chains.
  unsigned prev[kRansStates] = {};
  auto step = [&](size_t i, unsigned j, unsigned lane) {
    unsigned ctx = buckets[prev[lane]];
    unsigned e = dec.Decode(j, fs + size_t{ctx} * alphabet, slots + (size_t{ctx} << kProbBits));
    U raw = static_cast<U>(br.Get(raw_bits));
    U x = static_cast<U>((raw & mant_mask) | (static_cast<U>(e) << ef.shift) |
                         ((raw >> ef.shift) << sign_shift));
    StoreElement<U>(data + i * kW, x);
    prev[lane] = e;
  };
  ForEachInCodingOrder(m, step);
  if (!dec.Finished()) return Corrupt("float block: rANS stream does not decode cleanly");
  if (!br.AtCleanEnd()) return Corrupt("float block: raw bits do not end cleanly");
  return Status::Ok();
}

}  // namespace

bool FloatModelSupports(ElementKind kind) {
  return kind == ElementKind::kFp16 || kind == ElementKind::kBf16 || kind == ElementKind::kFp32;
}

void EncodeFloatModel(const BlockInfo& info, const uint8_t* data, size_t n, FloatRaw layout,
                      std::string* out, Scratch* sc) {
  if (info.width == 4) return EncodeT<uint32_t>(info, data, n, layout, out, sc);
  return EncodeT<uint16_t>(info, data, n, layout, out, sc);
}

Status DecodeFloatModel(const BlockInfo& info, const uint8_t* p, const uint8_t* end, uint8_t* data,
                        size_t n, Scratch* sc) {
  if (info.width == 4) return DecodeT<uint32_t>(info, p, end, data, n, sc);
  return DecodeT<uint16_t>(info, p, end, data, n, sc);
}

}  // namespace oxide::codec::internal
