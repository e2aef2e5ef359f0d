#pragma once

// Element access shared by the context models: little-endian loads and stores, and where a
// float kind keeps its exponent.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "codec/residual_coder.hpp"

namespace oxide::codec::internal {

template <class U>
inline U LoadElement(const uint8_t* p) {
  U v;
  std::memcpy(&v, p, sizeof(U));  // the format is little-endian, as is every supported host
  return v;
}
template <class U>
inline void StoreElement(uint8_t* p, U v) {
  std::memcpy(p, &v, sizeof(U));
}

// The exponent field of an IEEE-style float kind: bits [shift, shift + bits).
struct ExponentField {
  unsigned shift = 0;
  unsigned bits = 0;  // 0: the kind has no exponent (kBytes)
};

inline ExponentField ExponentOf(ElementKind kind) {
  switch (kind) {
    case ElementKind::kFp16:
      return {10, 5};
    case ElementKind::kBf16:
      return {7, 8};
    case ElementKind::kFp32:
      return {23, 8};
    case ElementKind::kFp64:
      return {52, 11};
    case ElementKind::kBytes:
      break;
  }
  return {};
}

// The delta transforms (delta::format::Transform; the codec cannot link delta, whose builder
// and applier link the codec).
inline constexpr uint8_t kXorTransform = 1;
inline constexpr uint8_t kSub8Transform = 2;
inline constexpr uint8_t kSubIntTransform = 3;
inline constexpr uint8_t kSubOrdTransform = 4;
inline constexpr uint8_t kScaledSubOrdTransform = 5;  // coded chunks only: ordered, like 4

// The residual transform `t` makes for a zero target element against base element b: +0 (all
// bits clear) or, with `negative`, only the top bit set (-0 for a float kind). The same
// formulas as delta::ForwardTransform (delta/transform_test.cpp checks that they agree), so a
// coder can name "the target is zero" with one symbol instead of the residual's bits.
template <class U>
[[gnu::always_inline]] inline U ZeroTargetResidual(uint8_t t, U b, bool negative) {
  using S = std::make_signed_t<U>;
  constexpr unsigned kBits = sizeof(U) * 8;
  constexpr U kTop = static_cast<U>(U{1} << (kBits - 1));
  const U target = negative ? kTop : U{0};
  auto zigzag = [](U x) {
    return static_cast<U>((x << 1) ^ static_cast<U>(static_cast<S>(x) >> (kBits - 1)));
  };
  auto ord = [](U x) { return (x & kTop) ? static_cast<U>(~x) : static_cast<U>(x | kTop); };
  switch (t) {
    case kXorTransform:
      return static_cast<U>(target ^ b);
    case kSub8Transform: {
      U r = 0;
      for (unsigned k = 0; k < sizeof(U); ++k) {
        unsigned d = static_cast<unsigned>((target >> (8 * k)) & 0xff) -
                     static_cast<unsigned>((b >> (8 * k)) & 0xff);
        r = static_cast<U>(r | static_cast<U>(static_cast<U>(d & 0xff) << (8 * k)));
      }
      return r;
    }
    case kSubIntTransform:
      return zigzag(static_cast<U>(target - b));
    case kSubOrdTransform:
      return zigzag(static_cast<U>(ord(target) - ord(b)));
    default:
      return 0;
  }
}

// Index of the most frequent value in hist[0, size) (the lowest on ties).
inline unsigned MostFrequent(const uint32_t* hist, unsigned size) {
  unsigned best = 0;
  for (unsigned k = 1; k < size; ++k) {
    if (hist[k] > hist[best]) best = k;
  }
  return best;
}

}  // namespace oxide::codec::internal
