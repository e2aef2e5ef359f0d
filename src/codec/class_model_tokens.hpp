#pragma once

// What the class model's encoder (class_model.cpp) and decoder (class_model_decoder.cpp) share:
// the payload flags, the token alphabet and the context tables. The model itself is described
// in class_model.hpp.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace oxide::codec::internal {

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
inline void NeighbourTable(unsigned ref_class, bool use, bool predicted, uint8_t* table) {
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
inline void BaseTable(unsigned ref_exp, unsigned exp_bits, unsigned stride,
                      std::vector<uint32_t>* t) {
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
inline unsigned ClassOf(U v) {
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
inline unsigned TokenOf(U v, unsigned* raw_bits) {
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

}  // namespace oxide::codec::internal
