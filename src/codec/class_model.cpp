#include "codec/class_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "base/coding.hpp"
#include "codec/bit_io.hpp"
#include "codec/element.hpp"
#include "codec/rans.hpp"
#include "codec/scratch.hpp"
#include "codec/table_code.hpp"

namespace oxide::codec::internal {

namespace {

constexpr unsigned kNeighbourBuckets = 8;
constexpr unsigned kBaseBuckets = 6;
constexpr uint8_t kFlagBase = 1;
constexpr uint8_t kFlagNeighbour = 2;
// With kFlagNeighbour and a base: the neighbour feature is the neighbours' class plus their base
// exponent, minus this element's base exponent. Where a fine-tune moves weights by similar
// absolute steps, class + exponent is what neighbours share, so this predicts the class.
constexpr uint8_t kFlagPredicted = 4;
constexpr int kPredOffset = 64;  // index = clamp(s1 + s2 - 2e + kPredOffset, 0, 128)
// Two more tokens after the residual tokens: the target element is +0 (token TokenCount) or,
// for a float kind, -0 (TokenCount + 1); the decoder makes the residual from the base element
// (ZeroTargetResidual). A pruned tensor turns 30-90 % of its weights into zeros, whose residuals
// against the unpruned base cost ~30 bits each; as tokens they cost one or two.
constexpr uint8_t kFlagZeros = 8;
// Sign split (SUBINT/SUBORD residuals of width <= 4): tokens code the magnitude |d| of the
// signed difference, times two, plus one bit: whether d's sign differs from a prediction, the
// sign of the last non-zero difference in the lane (kFlagSignLeft) or the sign of the base
// element (kFlagSignBase). Neighbouring weights of a layer that sees correlated inputs (image
// rows, a kernel's taps) move the same way, and a fine-tune often grows weights; where the sign
// follows no prediction the plain zigzag tokens stay (the encoder compares both).
constexpr uint8_t kFlagSignLeft = 16;
constexpr uint8_t kFlagSignBase = 32;
// Tables in the compact form of table_code.hpp (every encoder since sets it).
constexpr uint8_t kFlagCompactTables = 64;
constexpr uint8_t kMaxFlags = 127;
// Estimated bits of a compact table entry (CompactTableBits).
constexpr double kTableBitsPerSymbol = 9.5;
// Fewer zero targets than this in a block are not worth two more table entries.
constexpr size_t kMinZeros = 8;

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

// Neighbour bucket by the sum of the two previous classes (index 0..128), or with `predicted`
// by the predicted-class index (see kFlagPredicted).
void NeighbourTable(unsigned ref_class, bool use, bool predicted, uint8_t* table) {
  for (unsigned s = 0; s <= 128; ++s) {
    int b = 0;
    if (use && predicted) {
      int mean = (static_cast<int>(s) + 1) / 2 - kPredOffset / 2;
      b = std::clamp(mean - static_cast<int>(ref_class) + 4, 0,
                     static_cast<int>(kNeighbourBuckets) - 1);
    } else if (use && s != 0) {
      int d = static_cast<int>((s + 1) / 2) - static_cast<int>(ref_class) + 4;
      b = std::clamp(d, 1, static_cast<int>(kNeighbourBuckets) - 1);
    }
    table[s] = static_cast<uint8_t>(b);
  }
}

inline unsigned PredIndex(int s1, int s2, int e) {
  return static_cast<unsigned>(std::clamp(s1 + s2 - 2 * e + kPredOffset, 0, 128));
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
constexpr unsigned kZeroTokens = 2;
static_assert(TokenCount(8) + kZeroTokens <= 256, "tokens are bytes");
static_assert(2 * TokenCount(4) + kZeroTokens <= 256, "sign-split tokens are bytes");

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
      if (t >= count) {  // the zero-target tokens (class 0, no raw bits) or unused
        lead[t] = 0;
        raw_bits[t] = 0;
        cls[t] = 0;
      } else if (t < 4) {
        lead[t] = static_cast<uint8_t>(t);
        raw_bits[t] = 0;
        cls[t] = static_cast<uint8_t>(t == 0 ? 0 : t == 1 ? 1 : 2);
      } else {
        unsigned c = 3 + (t - 4) / 4;
        lead[t] = static_cast<uint8_t>(4 | (t & 3));
        raw_bits[t] = static_cast<uint8_t>(c - 3);
        cls[t] = static_cast<uint8_t>(c);
      }
    }
  }
};

// One candidate token stream of a block: per element a token, its class (the neighbour
// feature) and its raw bit count.
struct TokenSet {
  uint8_t* tok;
  uint8_t* cls;
  uint8_t* raw_bits;
  unsigned alphabet;
  uint64_t raw_total;  // sum of raw_bits
};

// The context layout chosen for a token set and its estimated cost.
struct ModelChoice {
  double cost = 0;  // table and token bits (raw bits not included)
  uint8_t flags = 0;
  unsigned ref_class = 1;
};

// Element contexts shared by every token set: the base exponent bucket and exponent.
struct BaseContext {
  bool can_base;
  const uint8_t* bctx;
  const uint16_t* exps;
};

// Counts `ts` under every context layout and returns the cheapest; leaves its counts in
// sc->best_counts and the neighbour features in sc->nctx / sc->pctx.
template <unsigned kW>
ModelChoice ChooseLayout(const TokenSet& ts, const BaseContext& bc, size_t m, Scratch* sc) {
  constexpr unsigned kClasses = 8 * kW + 1;
  const unsigned alphabet = ts.alphabet;
  uint32_t class_hist[kClasses] = {};
  for (size_t i = 0; i < m; ++i) ++class_hist[ts.cls[i]];
  ModelChoice choice;
  choice.ref_class = class_hist[0] == m ? 1 : 1 + MostFrequent(class_hist + 1, kClasses - 1);

  // Joint counts under the full context; the smaller models are its marginals.
  uint8_t nb_table[129], pred_table[129];
  NeighbourTable(choice.ref_class, true, false, nb_table);
  NeighbourTable(choice.ref_class, true, true, pred_table);
  const bool can_base = bc.can_base;
  uint8_t* nctx = Grow(&sc->nctx, m);
  uint8_t* pctx = can_base ? Grow(&sc->pctx, m) : nullptr;
  const size_t joint = size_t{kBaseBuckets} * kNeighbourBuckets * alphabet;
  sc->counts.assign(joint, 0);
  sc->pcounts.assign(can_base ? joint : 0, 0);
  uint32_t* counts = sc->counts.data();
  uint32_t* pcounts = sc->pcounts.data();
  const uint8_t* cls = ts.cls;
  const uint8_t* tok = ts.tok;
  const uint8_t* bctx = bc.bctx;
  const uint16_t* exps = bc.exps;
  const size_t q = m / kRansStates;
  for (size_t i = 0; i < m; ++i) {
    unsigned c1 = 0, c2 = 0;
    int s1 = 0, s2 = 0;  // class + base exponent; 0 where the lane has no such element
    if (HasLanePrev(i, q)) {
      c1 = cls[i - 1];
      if (can_base) s1 = static_cast<int>(c1 + exps[i - 1]);
      if (HasLanePrev(i - 1, q)) {
        c2 = cls[i - 2];
        if (can_base) s2 = static_cast<int>(c2 + exps[i - 2]);
      }
    }
    nctx[i] = nb_table[c1 + c2];
    ++counts[(size_t{bctx[i]} * kNeighbourBuckets + nctx[i]) * alphabet + tok[i]];
    if (can_base) {
      pctx[i] = pred_table[PredIndex(s1, s2, static_cast<int>(exps[i]))];
      ++pcounts[(size_t{bctx[i]} * kNeighbourBuckets + pctx[i]) * alphabet + tok[i]];
    }
  }
  bool have_best = false;
  for (uint8_t flags = 0; flags < 8; ++flags) {
    if ((flags & kFlagBase) && !can_base) continue;
    if ((flags & kFlagPredicted) && (!can_base || !(flags & kFlagNeighbour))) continue;
    const uint32_t* joint_counts = (flags & kFlagPredicted) ? pcounts : counts;
    unsigned nb = (flags & kFlagBase) ? kBaseBuckets : 1;
    unsigned nn = (flags & kFlagNeighbour) ? kNeighbourBuckets : 1;
    std::vector<uint32_t>& marg = sc->marg;
    marg.assign(size_t{nb} * nn * alphabet, 0);
    for (unsigned b = 0; b < kBaseBuckets; ++b) {
      for (unsigned k = 0; k < kNeighbourBuckets; ++k) {
        unsigned ctx = (nb > 1 ? b : 0) * nn + (nn > 1 ? k : 0);
        const uint32_t* src = joint_counts + (size_t{b} * kNeighbourBuckets + k) * alphabet;
        uint32_t* dst = marg.data() + size_t{ctx} * alphabet;
        for (unsigned s = 0; s < alphabet; ++s) dst[s] += src[s];
      }
    }
    double cost = 0;
    for (unsigned c = 0; c < nb * nn; ++c) {
      cost += EstimateCostBits(marg.data() + size_t{c} * alphabet, alphabet, kTableBitsPerSymbol);
    }
    if (!have_best || cost < choice.cost) {
      choice.cost = cost;
      choice.flags = flags;
      sc->best_counts.swap(marg);
      have_best = true;
    }
  }
  return choice;
}

// Binary entropy in bits of `agree` out of `total` (0 when total is 0).
double SplitBits(uint64_t agree, uint64_t total) {
  if (total == 0 || agree == 0 || agree == total) return 0;
  double p = static_cast<double>(agree) / static_cast<double>(total);
  return -static_cast<double>(total) * (p * std::log2(p) + (1 - p) * std::log2(1 - p));
}

// The sign-split tokens of `plain` (kFlagSignLeft or kFlagSignBase), in `*out`'s buffers.
template <class U>
void SignTokens(const TokenSet& plain, const uint8_t* residual, const uint8_t* base, size_t m,
                uint8_t predictor, TokenSet* out) {
  constexpr unsigned kW = sizeof(U);
  constexpr unsigned kTokens = TokenCount(kW);
  const size_t q = m / kRansStates;
  unsigned last = 0;  // sign of the lane's last non-zero difference
  out->alphabet = 2 * kTokens + (plain.alphabet > kTokens ? kZeroTokens : 0);
  out->raw_total = 0;
  for (size_t i = 0; i < m; ++i) {
    if (!HasLanePrev(i, q)) last = 0;
    if (plain.tok[i] >= kTokens) {  // a zero target
      out->tok[i] = static_cast<uint8_t>(plain.tok[i] + kTokens);
      out->cls[i] = 0;
      out->raw_bits[i] = 0;
      continue;
    }
    U v = LoadElement<U>(residual + i * kW);
    unsigned sign = static_cast<unsigned>(v & 1);
    U a = static_cast<U>((v >> 1) + (v & 1));
    unsigned pred = predictor == kFlagSignBase
                        ? static_cast<unsigned>(LoadElement<U>(base + i * kW) >> (8 * kW - 1))
                        : last;
    unsigned rb = 0;
    unsigned t = TokenOf(a, &rb);
    out->tok[i] = static_cast<uint8_t>(2 * t + (a != 0 ? (sign ^ pred) : 0));
    out->cls[i] = static_cast<uint8_t>(ClassOf(a));
    out->raw_bits[i] = static_cast<uint8_t>(rb);
    out->raw_total += rb;
    if (a != 0) last = sign;
  }
}

// Which sign predictor, if any, is worth a full evaluation: the one whose sign agreement saves
// at least 3 % of a bit per non-zero difference over coding the sign raw. 0 when none is.
template <class U>
uint8_t PickSignPredictor(const TokenSet& plain, const uint8_t* residual, const uint8_t* base,
                          size_t m) {
  constexpr unsigned kW = sizeof(U);
  const size_t q = m / kRansStates;
  uint64_t nonzero = 0, agree_left = 0, agree_base = 0;
  unsigned last = 0;
  for (size_t i = 0; i < m; ++i) {
    if (!HasLanePrev(i, q)) last = 0;
    if (plain.tok[i] >= TokenCount(kW)) continue;
    U v = LoadElement<U>(residual + i * kW);
    if (v == 0) continue;
    unsigned sign = static_cast<unsigned>(v & 1);
    ++nonzero;
    agree_left += sign == last;
    agree_base += sign == static_cast<unsigned>(LoadElement<U>(base + i * kW) >> (8 * kW - 1));
    last = sign;
  }
  double left = SplitBits(agree_left, nonzero), by_base = SplitBits(agree_base, nonzero);
  double best = std::min(left, by_base);
  if (static_cast<double>(nonzero) - best < 0.03 * static_cast<double>(nonzero) + 64) return 0;
  return left <= by_base ? kFlagSignLeft : kFlagSignBase;
}

template <class U>
void EncodeT(const BlockInfo& info, const uint8_t* residual, const uint8_t* base, size_t n,
             std::string* out, Scratch* sc) {
  constexpr unsigned kW = sizeof(U);
  const size_t m = n / kW;
  const bool sub8 = info.transform == kSub8Transform;
  const ExponentField ef = ExponentOf(info.kind);
  const bool can_base = base != nullptr && ef.bits != 0;
  const bool can_zero =
      base != nullptr && info.transform >= kXorTransform && info.transform <= kSubOrdTransform;
  const bool can_sign = base != nullptr && kW <= 4 &&
                        (info.transform == kSubIntTransform || info.transform == kSubOrdTransform ||
                         info.transform == kScaledSubOrdTransform);

  TokenSet plain{Grow(&sc->tok, m), Grow(&sc->cls, m), Grow(&sc->raw_bits, m), 0, 0};
  uint8_t* cls = plain.cls;
  uint8_t* tok = plain.tok;
  uint8_t* raw_bits = plain.raw_bits;
  for (size_t i = 0; i < m; ++i) {
    U v = LoadElement<U>(residual + i * kW);
    if (sub8) v = ZigZagBytes(v);
    unsigned rb = 0;
    tok[i] = static_cast<uint8_t>(TokenOf(v, &rb));
    raw_bits[i] = static_cast<uint8_t>(rb);
    cls[i] = static_cast<uint8_t>(ClassOf(v));
  }
  // Zero targets whose residual is not already among the cheapest tokens: found in one pass
  // (zero_at[i]: 0 none, 1 +0, 2 -0), turned into tokens only if there are enough of them.
  size_t zeros = 0;
  uint8_t* zero_at = can_zero ? Grow(&sc->zero_at, m) : nullptr;
  if (can_zero) {
    for (size_t i = 0; i < m; ++i) {
      uint8_t z = 0;
      if (cls[i] >= 3) {
        U r = LoadElement<U>(residual + i * kW);
        U b = LoadElement<U>(base + i * kW);
        z = r == ZeroTargetResidual<U>(info.transform, b, false)                  ? 1
            : ef.bits != 0 && r == ZeroTargetResidual<U>(info.transform, b, true) ? 2
                                                                                  : 0;
      }
      zero_at[i] = z;
      zeros += z != 0;
    }
  }
  const bool use_zeros = zeros >= kMinZeros;
  plain.alphabet = TokenCount(kW) + (use_zeros ? kZeroTokens : 0);
  if (use_zeros) {
    for (size_t i = 0; i < m; ++i) {
      if (zero_at[i] == 0) continue;
      tok[i] = static_cast<uint8_t>(TokenCount(kW) + zero_at[i] - 1);
      raw_bits[i] = 0;
      cls[i] = 0;  // as an unchanged element: runs of zeros share the neighbour context
    }
  }
  for (size_t i = 0; i < m; ++i) plain.raw_total += raw_bits[i];

  unsigned ref_exp = 0;
  uint8_t* bctx = Grow(&sc->bctx, m);
  uint16_t* exps = can_base ? Grow(&sc->exps, m) : nullptr;
  if (can_base) {
    std::vector<uint32_t>& exp_hist = sc->hist;
    exp_hist.assign(size_t{1} << ef.bits, 0);
    const U emask = static_cast<U>((U{1} << ef.bits) - 1);
    for (size_t i = 0; i < m; ++i) {
      unsigned e = static_cast<unsigned>((LoadElement<U>(base + i * kW) >> ef.shift) & emask);
      exps[i] = static_cast<uint16_t>(e);
      ++exp_hist[e];
    }
    // Zero and subnormal bases are frequent in sparse tensors but say nothing about scale.
    exp_hist[0] = 0;
    ref_exp = MostFrequent(exp_hist.data(), static_cast<unsigned>(exp_hist.size()));
    BaseTable(ref_exp, ef.bits, 1, &sc->base_ctx);
    const uint32_t* base_bucket = sc->base_ctx.data();
    for (size_t i = 0; i < m; ++i) bctx[i] = static_cast<uint8_t>(base_bucket[exps[i]]);
  } else {
    std::fill(bctx, bctx + m, uint8_t{0});
  }
  const BaseContext bc{can_base, bctx, exps};

  TokenSet chosen = plain;
  ModelChoice choice = ChooseLayout<kW>(plain, bc, m, sc);
  uint8_t sign_flag = can_sign ? PickSignPredictor<U>(plain, residual, base, m) : 0;
  if (sign_flag != 0) {
    TokenSet split{Grow(&sc->tok_split, m), Grow(&sc->cls_split, m), Grow(&sc->raw_split, m), 0, 0};
    SignTokens<U>(plain, residual, base, m, sign_flag, &split);
    // The plain layout's features and counts are set aside while the split is counted, and
    // put back if the split loses.
    sc->nctx.swap(sc->nctx_kept);
    sc->pctx.swap(sc->pctx_kept);
    sc->best_counts.swap(sc->counts_kept);
    ModelChoice split_choice = ChooseLayout<kW>(split, bc, m, sc);
    if (split_choice.cost + static_cast<double>(split.raw_total) <
        choice.cost + static_cast<double>(plain.raw_total)) {
      chosen = split;
      choice = split_choice;
    } else {
      sign_flag = 0;
      sc->nctx.swap(sc->nctx_kept);
      sc->pctx.swap(sc->pctx_kept);
      sc->best_counts.swap(sc->counts_kept);
    }
  }

  const uint8_t best_flags = choice.flags;
  const bool use_base = best_flags & kFlagBase;
  const bool use_nb = best_flags & kFlagNeighbour;
  const bool use_pred = best_flags & kFlagPredicted;
  const unsigned nn = use_nb ? kNeighbourBuckets : 1;
  const unsigned contexts = (use_base ? kBaseBuckets : 1) * nn;
  const uint8_t* nb_ctx = use_pred ? sc->pctx.data() : sc->nctx.data();
  // Symbols and contexts in coding order (see LaneElement).
  const size_t q = m / kRansStates;
  uint8_t* ctx = Grow(&sc->ctx, m);
  uint8_t* tok_order = Grow(&sc->sym_order, m);
  uint32_t* order = Grow(&sc->order, m);
  for (size_t p = 0; p < m; ++p) {
    size_t i = LaneElement(p, q);
    order[p] = static_cast<uint32_t>(i);
    tok_order[p] = chosen.tok[i];
    ctx[p] = static_cast<uint8_t>((use_base ? bctx[i] : 0) * nn + (use_nb ? nb_ctx[i] : 0));
  }

  RansTables& tables = sc->tables;
  out->push_back(static_cast<char>(best_flags | (use_zeros ? kFlagZeros : 0) | sign_flag |
                                   kFlagCompactTables));
  out->push_back(static_cast<char>(choice.ref_class));
  if (use_base) PutVarint64(out, ref_exp);
  out->append(reinterpret_cast<const char*>(residual + m * kW), n - m * kW);
  BuildAndWriteCompactTables(sc->best_counts.data(), chosen.alphabet, contexts, &tables, out);
  sc->stream.clear();
  RansEncode(tables, tok_order, ctx, m, &sc->stream, &sc->words);
  PutVarint64(out, sc->stream.size());
  out->append(sc->stream);
  BitWriter bw(out);
  for (size_t p = 0; p < m; ++p) {
    size_t i = order[p];
    unsigned rb = chosen.raw_bits[i];
    if (rb != 0) {
      U v = LoadElement<U>(residual + i * kW);
      if (sub8) v = ZigZagBytes(v);
      if (sign_flag != 0) v = static_cast<U>((v >> 1) + (v & 1));  // the magnitude
      bw.PutWide(static_cast<U>(v & static_cast<U>((U{1} << rb) - 1)), rb);
    }
  }
  bw.Flush();
}

// What the decode loop reads besides the streams.
struct LoopInputs {
  const uint8_t* base;
  uint8_t transform;
  unsigned exp_shift;
  unsigned exp_bits;
  const std::vector<uint32_t>* base_ctx;
  const uint8_t* nb_table;
};

// How a token becomes a residual element.
enum class Values {
  kPlain,     // the token and raw bits are the element
  kSub8,      // ... after a byte-wise zigzag
  kSignLeft,  // magnitude, sign relative to the lane's last non-zero sign (kFlagSignLeft)
  kSignBase,  // magnitude, sign relative to the base element's sign (kFlagSignBase)
};

// kLoadBase: base exponents are read (for the base context, all zero without kFlagBase, and/or
// for kPred, the predicted-class neighbour feature). kZeros: the two zero-target tokens exist.
// Positions per lane that the token pass decodes ahead of the merge pass (4 KiB of tokens).
constexpr size_t kChunkPerLane = 1024;

// Two passes over each chunk of coding positions: the token pass runs the rANS states and the
// contexts (which need only tokens and base exponents), the merge pass reads the raw bits and
// stores the elements. Apart, the token pass is four independent chains and the merge pass's
// bit reads are single loads (BitCursor); fused, every element waited on both.
// kLoadBase: base exponents are read (for the base context, all zero without kFlagBase, and/or
// for kPred, the predicted-class neighbour feature). kZeros: the two zero-target tokens exist.
template <class U, bool kLoadBase, bool kPred, Values kValues, bool kZeros>
Status DecodeLoop(const LoopInputs& in, const uint32_t* packed, RansDecoder* dec, BitCursor* br,
                  uint8_t* residual, size_t m) {
  constexpr unsigned kW = sizeof(U);
  constexpr unsigned kTokens = TokenCount(kW);
  constexpr bool kSplit = kValues == Values::kSignLeft || kValues == Values::kSignBase;
  constexpr unsigned kValueTokens = kSplit ? 2 * kTokens : kTokens;
  const TokenTables tt(kTokens);
  const uint8_t* base = in.base;
  const unsigned exp_shift = in.exp_shift;
  const uint32_t* base_ctx = in.base_ctx->data();
  const uint8_t* nb_table = in.nb_table;
  const U emask = static_cast<U>((U{1} << in.exp_bits) - 1);
  // Local copies: the hot loops keep coder and bit-reader state in registers.
  RansDecoder d = *dec;
  BitCursor b = *br;
  // Neighbour context per lane (see LaneElement): four independent dependency chains.
  unsigned c1[kRansStates] = {}, c2[kRansStates] = {};
  int s1[kRansStates] = {}, s2[kRansStates] = {};
  unsigned last_sign[kRansStates] = {};
  uint8_t toks[kRansStates * kChunkPerLane];
  // Forced inline: with one loop per context layout the unit is large enough that g++ stops
  // inlining the hot path by itself (measured: half the speed).
  auto token = [&](size_t i, unsigned j, unsigned lane) __attribute__((always_inline)) {
    unsigned e = 0;
    unsigned ctx;
    if constexpr (kLoadBase) {
      e = static_cast<unsigned>((LoadElement<U>(base + i * kW) >> exp_shift) & emask);
    }
    if constexpr (kPred) {
      ctx = nb_table[PredIndex(s1[lane], s2[lane], static_cast<int>(e))] + base_ctx[e];
    } else if constexpr (kLoadBase) {
      ctx = nb_table[c1[lane] + c2[lane]] + base_ctx[e];
    } else {
      ctx = nb_table[c1[lane] + c2[lane]];
    }
    unsigned tk = d.DecodePacked(j, packed + (size_t{ctx} << kProbBits));
    // Zero-target tokens index past kTokens: no raw bits, class 0 (TokenTables).
    const unsigned vt = kSplit ? tk >> 1 : tk;
    if constexpr (kPred) {
      s2[lane] = s1[lane];
      s1[lane] = static_cast<int>(tt.cls[vt] + e);
    } else {
      c2[lane] = c1[lane];
      c1[lane] = tt.cls[vt];
    }
    return tk;
  };
  auto merge = [&](size_t i, unsigned lane, unsigned tk, auto fast) __attribute__((always_inline)) {
    const unsigned vt = kSplit ? tk >> 1 : tk;
    const unsigned nbits = tt.raw_bits[vt];
    U raw;
    if constexpr (!decltype(fast)::value) {
      raw = static_cast<U>(b.Get(nbits));
    } else if constexpr (kW == 8) {
      raw = nbits > 32 ? static_cast<U>(b.GetFast(32) | b.GetFast(nbits - 32) << 32)
                       : static_cast<U>(b.GetFast(nbits));
    } else {
      raw = static_cast<U>(b.GetFast(nbits));
    }
    U v = static_cast<U>((static_cast<U>(tt.lead[vt]) << nbits) | raw);
    if constexpr (kValues == Values::kSub8) v = UnZigZagBytes(v);
    if constexpr (kSplit) {
      unsigned pred;
      if constexpr (kValues == Values::kSignBase) {
        pred = static_cast<unsigned>(LoadElement<U>(base + i * kW) >> (8 * kW - 1));
      } else {
        pred = last_sign[lane];
      }
      // v != 0 exactly when vt != 0: every other value token has a non-zero lead.
      unsigned sign = static_cast<unsigned>(v != 0) & (pred ^ (tk & 1));
      if constexpr (kValues == Values::kSignLeft) last_sign[lane] = v != 0 ? sign : pred;
      v = static_cast<U>(static_cast<U>(v << 1) - sign);  // back to the zigzag form
    }
    if constexpr (kZeros) {
      // Without a branch: in a pruned tensor zero targets are as unpredictable as coin flips.
      U zr = ZeroTargetResidual<U>(in.transform, LoadElement<U>(base + i * kW), tk != kValueTokens);
      v = tk >= kValueTokens ? zr : v;
    }
    StoreElement<U>(residual + i * kW, v);
  };
  // Coding order as in ForEachInCodingOrder, a chunk of kChunkPerLane positions per lane at a
  // time.
  const size_t q = m / kRansStates;
  for (size_t k0 = 0; k0 < q; k0 += kChunkPerLane) {
    const size_t k1 = std::min(q, k0 + kChunkPerLane);
    uint64_t chunk_bits = 0;
    uint8_t* tp = toks;
    for (size_t k = k0; k < k1; ++k, tp += kRansStates) {
#pragma GCC unroll 4
      for (unsigned j = 0; j < kRansStates; ++j) {
        unsigned tk = token(j * q + k, j, j);
        tp[j] = static_cast<uint8_t>(tk);
        chunk_bits += tt.raw_bits[kSplit ? tk >> 1 : tk];
      }
    }
    tp = toks;
    if (b.CanReadFast(chunk_bits)) {
      for (size_t k = k0; k < k1; ++k, tp += kRansStates) {
#pragma GCC unroll 4
        for (unsigned j = 0; j < kRansStates; ++j) merge(j * q + k, j, tp[j], std::true_type{});
      }
    } else {
      for (size_t k = k0; k < k1; ++k, tp += kRansStates) {
#pragma GCC unroll 4
        for (unsigned j = 0; j < kRansStates; ++j) merge(j * q + k, j, tp[j], std::false_type{});
      }
    }
  }
  for (size_t i = 4 * q; i < m; ++i) {
    merge(i, 3, token(i, static_cast<unsigned>(i % kRansStates), 3), std::false_type{});
  }
  *dec = d;
  *br = b;
  if (!dec->Finished()) return Corrupt("residual block: rANS stream does not decode cleanly");
  if (!br->AtCleanEnd()) return Corrupt("residual block: raw bits do not end cleanly");
  return Status::Ok();
}

template <class U>
Status DecodeT(const BlockInfo& info, const uint8_t* p, const uint8_t* end, const uint8_t* base,
               uint8_t* residual, size_t n, Scratch* sc) {
  constexpr unsigned kW = sizeof(U);
  constexpr unsigned kClasses = 8 * kW + 1;
  const size_t m = n / kW;
  const ExponentField ef = ExponentOf(info.kind);
  if (end - p < 2) return Corrupt("residual block: truncated class-model header");
  uint8_t flags = p[0];
  unsigned ref_class = p[1];
  p += 2;
  if (flags > kMaxFlags || ref_class >= kClasses) {
    return Corrupt("residual block: bad class-model header");
  }
  const bool use_base = flags & kFlagBase;
  const bool use_nb = flags & kFlagNeighbour;
  const bool use_pred = flags & kFlagPredicted;
  const bool use_zeros = flags & kFlagZeros;
  if (use_zeros &&
      (base == nullptr || info.transform < kXorTransform || info.transform > kSubOrdTransform)) {
    return Corrupt("residual block: zero-target tokens without a base and a known transform");
  }
  const uint8_t sign_flags = flags & (kFlagSignLeft | kFlagSignBase);
  if (sign_flags != 0 &&
      (sign_flags == (kFlagSignLeft | kFlagSignBase) || base == nullptr || kW > 4 ||
       (info.transform != kSubIntTransform && info.transform != kSubOrdTransform &&
        info.transform != kScaledSubOrdTransform))) {
    return Corrupt("residual block: sign split without a base or an integer difference");
  }
  const unsigned alphabet =
      (sign_flags != 0 ? 2 : 1) * TokenCount(kW) + (use_zeros ? kZeroTokens : 0);
  if (use_pred && (!use_nb || ef.bits == 0 || base == nullptr)) {
    return Corrupt("residual block: predicted-class context without a float base");
  }
  uint64_t ref_exp = 0;
  if (use_base) {
    if (ef.bits == 0) return Corrupt("residual block: exponent context for a non-float kind");
    if (base == nullptr) return Corrupt("residual block: coded against a base but none given");
    if (!GetVarint64(&p, end, &ref_exp) || ref_exp >= (uint64_t{1} << ef.bits)) {
      return Corrupt("residual block: bad reference exponent");
    }
  }
  const unsigned nn = use_nb ? kNeighbourBuckets : 1;
  const unsigned contexts = (use_base ? kBaseBuckets : 1) * nn;
  RansTables& tables = sc->tables;
  RansDecoder dec;
  if (flags & kFlagCompactTables) {
    const size_t tail = n - m * kW;
    if (static_cast<size_t>(end - p) < tail) return Corrupt("coded block: truncated tail");
    if (tail != 0) std::memcpy(residual + m * kW, p, tail);
    p += tail;
    OXIDE_RETURN_IF_ERROR(ReadCompactTables(&p, end, alphabet, contexts, &tables));
    uint64_t stream_len = 0;
    if (!GetVarint64(&p, end, &stream_len) || stream_len > static_cast<uint64_t>(end - p)) {
      return Corrupt("coded block: bad rANS stream length");
    }
    OXIDE_RETURN_IF_ERROR(dec.Init(p, p + stream_len));
    p += stream_len;
  } else {
    const uint8_t* stream = nullptr;
    const uint8_t* stream_end = nullptr;
    OXIDE_RETURN_IF_ERROR(ReadModelParts(&p, end, residual + m * kW, n - m * kW, alphabet, contexts,
                                         false, &tables, &stream, &stream_end));
    OXIDE_RETURN_IF_ERROR(dec.Init(stream, stream_end));
  }
  BitCursor br(p, end);
  uint32_t* packed = Grow(&sc->packed_slots, size_t{contexts} << kProbBits);
  FillAllPackedSlots(tables, packed);

  uint8_t nb_table[129];
  NeighbourTable(ref_class, use_nb, use_pred, nb_table);
  // Base buckets premultiplied by the neighbour count; all zero when only kPred reads the base.
  std::vector<uint32_t>& base_ctx = sc->base_ctx;
  base_ctx.clear();
  if (use_base) {
    BaseTable(static_cast<unsigned>(ref_exp), ef.bits, nn, &base_ctx);
  } else if (use_pred) {
    base_ctx.assign(size_t{1} << ef.bits, 0);
  }
  const bool sub8 = info.transform == kSub8Transform;
  const LoopInputs in{base,      info.transform, ef.shift, ef.bits == 0 ? 1u : ef.bits,
                      &base_ctx, nb_table};
  using T = std::true_type;
  using F = std::false_type;
  auto run = [&](auto load_base, auto pred, auto values, auto zeros) {
    return DecodeLoop<U, decltype(load_base)::value, decltype(pred)::value, decltype(values)::value,
                      decltype(zeros)::value>(in, packed, &dec, &br, residual, m);
  };
  auto with_zeros = [&](auto load_base, auto pred, auto values) {
    return use_zeros ? run(load_base, pred, values, T{}) : run(load_base, pred, values, F{});
  };
  auto with_values = [&](auto load_base, auto pred) {
    using V = Values;
    if (sub8) return with_zeros(load_base, pred, std::integral_constant<V, V::kSub8>{});
    if constexpr (sizeof(U) <= 4) {  // validated above: no sign split for 8-byte elements
      if (sign_flags == kFlagSignLeft) {
        return with_zeros(load_base, pred, std::integral_constant<V, V::kSignLeft>{});
      }
      if (sign_flags == kFlagSignBase) {
        return with_zeros(load_base, pred, std::integral_constant<V, V::kSignBase>{});
      }
    }
    return with_zeros(load_base, pred, std::integral_constant<V, V::kPlain>{});
  };
  if (use_pred) return with_values(T{}, T{});
  if (use_base) return with_values(T{}, F{});
  return with_values(F{}, F{});
}

}  // namespace

void EncodeClassModel(const BlockInfo& info, const uint8_t* residual, const uint8_t* base, size_t n,
                      std::string* out, Scratch* sc) {
  switch (info.width) {
    case 1:
      return EncodeT<uint8_t>(info, residual, base, n, out, sc);
    case 2:
      return EncodeT<uint16_t>(info, residual, base, n, out, sc);
    case 4:
      return EncodeT<uint32_t>(info, residual, base, n, out, sc);
    default:
      return EncodeT<uint64_t>(info, residual, base, n, out, sc);
  }
}

Status DecodeClassModel(const BlockInfo& info, const uint8_t* p, const uint8_t* end,
                        const uint8_t* base, uint8_t* residual, size_t n, Scratch* sc) {
  switch (info.width) {
    case 1:
      return DecodeT<uint8_t>(info, p, end, base, residual, n, sc);
    case 2:
      return DecodeT<uint16_t>(info, p, end, base, residual, n, sc);
    case 4:
      return DecodeT<uint32_t>(info, p, end, base, residual, n, sc);
    default:
      return DecodeT<uint64_t>(info, p, end, base, residual, n, sc);
  }
}

}  // namespace oxide::codec::internal
