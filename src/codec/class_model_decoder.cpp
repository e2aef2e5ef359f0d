#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "base/coding.hpp"
#include "codec/bit_io.hpp"
#include "codec/class_model.hpp"
#include "codec/class_model_tokens.hpp"
#include "codec/element.hpp"
#include "codec/rans.hpp"
#include "codec/scratch.hpp"
#include "codec/table_code.hpp"

// The class model's decoder (class_model.hpp describes the model, class_model.cpp encodes it).
namespace oxide::codec::internal {

namespace {

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

// Positions per lane that the token pass decodes ahead of the merge pass (4 KiB of tokens).
constexpr size_t kChunkPerLane = 1024;

// Two passes over each chunk of coding positions: the token pass runs the rANS states and the
// contexts (which need only tokens and base exponents), the merge pass reads the raw bits and
// stores the elements. Apart, the token pass is four independent chains and the merge pass's
// bit reads are single loads (BitCursor); fused, every element waited on both (measured on real
// fine-tunes: 1.35-1.5x faster apart).
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
