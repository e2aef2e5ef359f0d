#pragma once

// Element access shared by the context models: little-endian loads and stores, and where a
// float kind keeps its exponent.

#include <cstddef>
#include <cstdint>
#include <cstring>

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

// Index of the most frequent value in hist[0, size) (the lowest on ties).
inline unsigned MostFrequent(const uint32_t* hist, unsigned size) {
  unsigned best = 0;
  for (unsigned k = 1; k < size; ++k) {
    if (hist[k] > hist[best]) best = k;
  }
  return best;
}

}  // namespace oxide::codec::internal
