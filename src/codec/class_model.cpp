#include "codec/class_model.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/coding.hpp"
#include "codec/bit_io.hpp"
#include "codec/class_model_tokens.hpp"
#include "codec/element.hpp"
#include "codec/rans.hpp"
#include "codec/scratch.hpp"
#include "codec/table_code.hpp"

namespace oxide::codec::internal {

namespace {

// Estimated bits of a compact table entry (CompactTableBits).
constexpr double kTableBitsPerSymbol = 9.5;
// Fewer zero targets than this in a block are not worth two more table entries.
constexpr size_t kMinZeros = 8;

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

}  // namespace oxide::codec::internal
