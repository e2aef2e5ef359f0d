#pragma once

// The exponent context shared by the float models (modes 3 and 4, float_model.hpp): the
// exponent of an element is coded under the bucket of the previous exponent in its rANS lane.

#include <cstdint>

namespace oxide::codec::internal {

inline constexpr unsigned kFloatBuckets = 8;
inline constexpr uint8_t kFloatFlagNeighbour = 1;  // header flag: the neighbour context is on

// Fills table[e] for every exponent e < 2^exp_bits: zero/subnormal, above the reference, the
// reference, then ever wider bands below it; all 0 when `use` is false (one context). Exponent 0
// is always bucket 0, the context of an element with no predecessor.
inline void FloatBucketTable(unsigned ref_exp, unsigned exp_bits, bool use, uint8_t* table) {
  for (unsigned e = 0; e < (1u << exp_bits); ++e) {
    unsigned b = 0;
    if (use && e != 0) {
      if (e > ref_exp) {
        b = 1;
      } else {
        unsigned d = ref_exp - e;
        b = d <= 3 ? 2 + d : d <= 5 ? 6 : 7;
      }
    }
    table[e] = static_cast<uint8_t>(b);
  }
}

}  // namespace oxide::codec::internal
