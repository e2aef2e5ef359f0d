#include "codec/class_model.hpp"

#include <algorithm>
#include <bit>
#include <vector>

#include "base/coding.hpp"
#include "codec/bit_io.hpp"
#include "codec/element.hpp"
#include "codec/rans.hpp"

namespace oxide::codec::internal {

namespace {

constexpr unsigned kNeighbourBuckets = 8;
constexpr unsigned kBaseBuckets = 6;
constexpr uint8_t kFlagBase = 1;
constexpr uint8_t kFlagNeighbour = 2;
constexpr uint8_t kSub8Transform = 2;  // delta::format::Transform::kSub8 (codec cannot link delta)

// Byte-wise zigzag of every byte of a word (SUB8 residuals are independent byte differences).
template <class U>
U ZigZagBytes(U x) {
  constexpr U kLow = static_cast<U>(0x0101010101010101ull);
  U sign = (x >> 7) & kLow;
  return static_cast<U>(((x << 1) & static_cast<U>(~kLow)) ^ static_cast<U>(sign * 0xff));
}
template <class U>
U UnZigZagBytes(U z) {
  constexpr U kLow = static_cast<U>(0x0101010101010101ull);
  constexpr U kHigh7 = static_cast<U>(0x7f7f7f7f7f7f7f7full);
  return static_cast<U>(((z >> 1) & kHigh7) ^ static_cast<U>((z & kLow) * 0xff));
}

// Neighbour bucket by the sum of the two previous classes (index 0..128).
void NeighbourTable(unsigned ref_class, bool use, uint8_t* table) {
  for (unsigned s = 0; s <= 128; ++s) {
    unsigned mean = (s + 1) / 2;
    int b = 0;
    if (use && mean != 0) {
      int d = static_cast<int>(mean) - static_cast<int>(ref_class) + 4;
      b = std::clamp(d, 1, static_cast<int>(kNeighbourBuckets) - 1);
    }
    table[s] = static_cast<uint8_t>(b);
  }
}

// Base-exponent bucket, premultiplied by `stride`, for every exponent value.
void BaseTable(unsigned ref_exp, unsigned exp_bits, unsigned stride, std::vector<uint32_t>* t) {
  t->assign(size_t{1} << exp_bits, 0);
  for (unsigned e = 0; e < t->size(); ++e) {
    unsigned b;
    if (e > ref_exp) {
      b = 0;
    } else {
      unsigned d = ref_exp - e;
      b = d == 0 ? 1 : d == 1 ? 2 : d <= 3 ? 3 : d <= 7 ? 4 : 5;
    }
    (*t)[e] = b * stride;
  }
}

template <class U>
unsigned ClassOf(U v) {
  return static_cast<unsigned>(std::bit_width(v));
}

// Tokens: values 0..3 are their own token; a larger value of class c (c = bit_width >= 3) is
// 4 + 4 * (c - 3) + the two bits below its leading one, followed by c - 3 raw bits. The two
// modelled bits matter: residuals are roughly gaussian, so within one octave the lower values are
// clearly likelier, which a bare class would leave to the raw bits.
constexpr unsigned TokenCount(unsigned width) { return 4 + 4 * (8 * width - 2); }

template <class U>
unsigned TokenOf(U v, unsigned* raw_bits) {
  unsigned c = ClassOf(v);
  if (c <= 2) {
    *raw_bits = 0;
    return static_cast<unsigned>(v);
  }
  *raw_bits = c - 3;
  return 4 + 4 * (c - 3) + static_cast<unsigned>((v >> (c - 3)) & 3);
}

// Per token: the value's bits above the raw ones, how many raw bits follow, and the class.
struct TokenTables {
  uint8_t lead[256];
  uint8_t raw_bits[256];
  uint8_t cls[256];
  explicit TokenTables(unsigned count) {
    for (unsigned t = 0; t < 256; ++t) {
      if (t < 4) {
        lead[t] = static_cast<uint8_t>(t);
        raw_bits[t] = 0;
        cls[t] = static_cast<uint8_t>(t == 0 ? 0 : t == 1 ? 1 : 2);
      } else {
        unsigned c = t < count ? 3 + (t - 4) / 4 : 3;
        lead[t] = static_cast<uint8_t>(4 | (t & 3));
        raw_bits[t] = static_cast<uint8_t>(c - 3);
        cls[t] = static_cast<uint8_t>(c);
      }
    }
  }
};

template <class U>
void EncodeT(const BlockInfo& info, const uint8_t* residual, const uint8_t* base, size_t n,
             std::string* out) {
  constexpr unsigned kW = sizeof(U);
  constexpr unsigned kClasses = 8 * kW + 1;
  constexpr unsigned kAlphabet = TokenCount(kW);
  const size_t m = n / kW;
  const bool sub8 = info.transform == kSub8Transform;
  const ExponentField ef = ExponentOf(info.kind);
  const bool can_base = base != nullptr && ef.bits != 0;

  std::vector<U> vals(m);
  std::vector<uint8_t> cls(m), tok(m), raw_bits(m);
  uint32_t class_hist[kClasses] = {};
  for (size_t i = 0; i < m; ++i) {
    U v = LoadElement<U>(residual + i * kW);
    if (sub8) v = ZigZagBytes(v);
    vals[i] = v;
    unsigned rb = 0;
    tok[i] = static_cast<uint8_t>(TokenOf(v, &rb));
    raw_bits[i] = static_cast<uint8_t>(rb);
    cls[i] = static_cast<uint8_t>(ClassOf(v));
    ++class_hist[cls[i]];
  }
  unsigned ref_class = class_hist[0] == m ? 1 : 1 + MostFrequent(class_hist + 1, kClasses - 1);

  unsigned ref_exp = 0;
  std::vector<uint32_t> base_bucket;
  std::vector<uint8_t> bctx(m, 0);
  if (can_base) {
    std::vector<uint32_t> exp_hist(size_t{1} << ef.bits, 0);
    const U emask = static_cast<U>((U{1} << ef.bits) - 1);
    for (size_t i = 0; i < m; ++i) {
      unsigned e = static_cast<unsigned>((LoadElement<U>(base + i * kW) >> ef.shift) & emask);
      bctx[i] = 0;
      ++exp_hist[e];
    }
    // Zero and subnormal bases are frequent in sparse tensors but say nothing about scale.
    exp_hist[0] = 0;
    ref_exp = MostFrequent(exp_hist.data(), static_cast<unsigned>(exp_hist.size()));
    BaseTable(ref_exp, ef.bits, 1, &base_bucket);
    for (size_t i = 0; i < m; ++i) {
      unsigned e = static_cast<unsigned>((LoadElement<U>(base + i * kW) >> ef.shift) & emask);
      bctx[i] = static_cast<uint8_t>(base_bucket[e]);
    }
  }

  // Joint counts under the full context; the smaller models are its marginals.
  uint8_t nb_table[129];
  NeighbourTable(ref_class, true, nb_table);
  std::vector<uint8_t> nctx(m);
  std::vector<uint32_t> counts(size_t{kBaseBuckets} * kNeighbourBuckets * kAlphabet, 0);
  unsigned c1 = 0, c2 = 0;
  for (size_t i = 0; i < m; ++i) {
    nctx[i] = nb_table[c1 + c2];
    ++counts[(size_t{bctx[i]} * kNeighbourBuckets + nctx[i]) * kAlphabet + tok[i]];
    c2 = c1;
    c1 = cls[i];
  }
  double best_cost = 0;
  uint8_t best_flags = 0;
  std::vector<uint32_t> best_counts;
  for (uint8_t flags = 0; flags < 4; ++flags) {
    if ((flags & kFlagBase) && !can_base) continue;
    unsigned nb = (flags & kFlagBase) ? kBaseBuckets : 1;
    unsigned nn = (flags & kFlagNeighbour) ? kNeighbourBuckets : 1;
    std::vector<uint32_t> marg(size_t{nb} * nn * kAlphabet, 0);
    for (unsigned b = 0; b < kBaseBuckets; ++b) {
      for (unsigned k = 0; k < kNeighbourBuckets; ++k) {
        unsigned ctx = (nb > 1 ? b : 0) * nn + (nn > 1 ? k : 0);
        const uint32_t* src = counts.data() + (size_t{b} * kNeighbourBuckets + k) * kAlphabet;
        uint32_t* dst = marg.data() + size_t{ctx} * kAlphabet;
        for (unsigned s = 0; s < kAlphabet; ++s) dst[s] += src[s];
      }
    }
    double cost = 0;
    for (unsigned c = 0; c < nb * nn; ++c) {
      cost += EstimateCostBits(marg.data() + size_t{c} * kAlphabet, kAlphabet);
    }
    if (best_counts.empty() || cost < best_cost) {
      best_cost = cost;
      best_flags = flags;
      best_counts = std::move(marg);
    }
  }
  const bool use_base = best_flags & kFlagBase;
  const bool use_nb = best_flags & kFlagNeighbour;
  const unsigned nn = use_nb ? kNeighbourBuckets : 1;
  const unsigned contexts = (use_base ? kBaseBuckets : 1) * nn;
  std::vector<uint8_t> ctx(m);
  for (size_t i = 0; i < m; ++i) {
    ctx[i] = static_cast<uint8_t>((use_base ? bctx[i] : 0) * nn + (use_nb ? nctx[i] : 0));
  }

  RansTables tables;
  BuildEncoderTables(best_counts.data(), kAlphabet, contexts, &tables);
  out->push_back(static_cast<char>(best_flags));
  out->push_back(static_cast<char>(ref_class));
  if (use_base) PutVarint64(out, ref_exp);
  out->append(reinterpret_cast<const char*>(residual) + m * kW, n - m * kW);
  WriteTables(tables, out);
  std::string stream;
  RansEncode(tables, tok.data(), ctx.data(), m, &stream);
  PutVarint64(out, stream.size());
  out->append(stream);
  BitWriter bw(out);
  for (size_t i = 0; i < m; ++i) {
    unsigned rb = raw_bits[i];
    if (rb != 0) bw.PutWide(static_cast<U>(vals[i] & static_cast<U>((U{1} << rb) - 1)), rb);
  }
  bw.Flush();
}

template <class U, bool kUseBase, bool kSub8>
Status DecodeLoop(const uint8_t* base, unsigned exp_shift, unsigned exp_bits,
                  const std::vector<uint32_t>& base_ctx, const uint8_t* nb_table,
                  const RansTables& t, RansDecoder* dec, BitReader* br, uint8_t* residual,
                  size_t m) {
  constexpr unsigned kW = sizeof(U);
  constexpr unsigned kAlphabet = TokenCount(kW);
  const TokenTables tt(kAlphabet);
  const U emask = static_cast<U>((U{1} << exp_bits) - 1);
  const uint32_t* fs = t.fs.data();
  const uint8_t* slots = t.slot_sym.data();
  unsigned c1 = 0, c2 = 0;
  auto step = [&](size_t i, unsigned j) {
    unsigned ctx = nb_table[c1 + c2];
    if constexpr (kUseBase) {
      ctx += base_ctx[static_cast<size_t>((LoadElement<U>(base + i * kW) >> exp_shift) & emask)];
    }
    unsigned tk = dec->Decode(j, fs + size_t{ctx} * kAlphabet, slots + (size_t{ctx} << kProbBits));
    unsigned nbits = tt.raw_bits[tk];
    U raw;
    if constexpr (kW == 8) {
      raw = static_cast<U>(br->GetWide(nbits));
    } else {
      raw = static_cast<U>(br->Get(nbits));
    }
    U v = static_cast<U>((static_cast<U>(tt.lead[tk]) << nbits) | raw);
    if constexpr (kSub8) v = UnZigZagBytes(v);
    StoreElement<U>(residual + i * kW, v);
    c2 = c1;
    c1 = tt.cls[tk];
  };
  size_t i = 0;
  for (; i + kRansStates <= m; i += kRansStates) {
    step(i, 0);
    step(i + 1, 1);
    step(i + 2, 2);
    step(i + 3, 3);
  }
  for (unsigned j = 0; i < m; ++i, ++j) step(i, j);
  if (!dec->Finished()) return Corrupt("residual block: rANS stream does not decode cleanly");
  if (!br->AtCleanEnd()) return Corrupt("residual block: raw bits do not end cleanly");
  return Status::Ok();
}

template <class U>
Status DecodeT(const BlockInfo& info, const uint8_t* p, const uint8_t* end, const uint8_t* base,
               uint8_t* residual, size_t n) {
  constexpr unsigned kW = sizeof(U);
  constexpr unsigned kClasses = 8 * kW + 1;
  constexpr unsigned kAlphabet = TokenCount(kW);
  const size_t m = n / kW;
  const ExponentField ef = ExponentOf(info.kind);
  if (end - p < 2) return Corrupt("residual block: truncated class-model header");
  uint8_t flags = p[0];
  unsigned ref_class = p[1];
  p += 2;
  if (flags > 3 || ref_class >= kClasses) return Corrupt("residual block: bad class-model header");
  const bool use_base = flags & kFlagBase;
  const bool use_nb = flags & kFlagNeighbour;
  uint64_t ref_exp = 0;
  if (use_base) {
    if (ef.bits == 0) return Corrupt("residual block: exponent context for a non-float kind");
    if (base == nullptr) return Corrupt("residual block: coded against a base but none given");
    if (!GetVarint64(&p, end, &ref_exp) || ref_exp >= (uint64_t{1} << ef.bits)) {
      return Corrupt("residual block: bad reference exponent");
    }
  }
  size_t tail = n - m * kW;
  if (static_cast<size_t>(end - p) < tail) return Corrupt("residual block: truncated tail");
  std::memcpy(residual + m * kW, p, tail);
  p += tail;
  const unsigned nn = use_nb ? kNeighbourBuckets : 1;
  const unsigned contexts = (use_base ? kBaseBuckets : 1) * nn;
  RansTables tables;
  OXIDE_RETURN_IF_ERROR(ReadTables(&p, end, kAlphabet, contexts, &tables));
  uint64_t stream_len = 0;
  if (!GetVarint64(&p, end, &stream_len) || stream_len > static_cast<uint64_t>(end - p)) {
    return Corrupt("residual block: bad rANS stream length");
  }
  RansDecoder dec;
  OXIDE_RETURN_IF_ERROR(dec.Init(p, p + stream_len));
  BitReader br(p + stream_len, end);

  uint8_t nb_table[129];
  NeighbourTable(ref_class, use_nb, nb_table);
  std::vector<uint32_t> base_ctx;
  if (use_base) BaseTable(static_cast<unsigned>(ref_exp), ef.bits, nn, &base_ctx);
  const bool sub8 = info.transform == kSub8Transform;
  if (use_base) {
    return sub8 ? DecodeLoop<U, true, true>(base, ef.shift, ef.bits, base_ctx, nb_table, tables,
                                            &dec, &br, residual, m)
                : DecodeLoop<U, true, false>(base, ef.shift, ef.bits, base_ctx, nb_table, tables,
                                             &dec, &br, residual, m);
  }
  return sub8 ? DecodeLoop<U, false, true>(base, 0, 1, base_ctx, nb_table, tables, &dec, &br,
                                           residual, m)
              : DecodeLoop<U, false, false>(base, 0, 1, base_ctx, nb_table, tables, &dec, &br,
                                            residual, m);
}

}  // namespace

void EncodeClassModel(const BlockInfo& info, const uint8_t* residual, const uint8_t* base, size_t n,
                      std::string* out) {
  switch (info.width) {
    case 1:
      return EncodeT<uint8_t>(info, residual, base, n, out);
    case 2:
      return EncodeT<uint16_t>(info, residual, base, n, out);
    case 4:
      return EncodeT<uint32_t>(info, residual, base, n, out);
    default:
      return EncodeT<uint64_t>(info, residual, base, n, out);
  }
}

Status DecodeClassModel(const BlockInfo& info, const uint8_t* p, const uint8_t* end,
                        const uint8_t* base, uint8_t* residual, size_t n) {
  switch (info.width) {
    case 1:
      return DecodeT<uint8_t>(info, p, end, base, residual, n);
    case 2:
      return DecodeT<uint16_t>(info, p, end, base, residual, n);
    case 4:
      return DecodeT<uint32_t>(info, p, end, base, residual, n);
    default:
      return DecodeT<uint64_t>(info, p, end, base, residual, n);
  }
}

}  // namespace oxide::codec::internal
