#pragma once

// Synthetic tensors for the codec's tests, fuzz seeds and benchmarks: gaussian weights, a
// fine-tune of them, and the delta transforms (re-implemented here: the codec sits below
// oxide_delta and must not link it).

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace oxide::codec::testing {

inline uint16_t FloatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  x += 0x7fff + ((x >> 16) & 1);  // round to nearest even (finite inputs only)
  return static_cast<uint16_t>(x >> 16);
}

// Normal-range values only (|f| in [2^-14, 65504]); smaller ones flush to signed zero.
inline uint16_t FloatToFp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int e = static_cast<int>((x >> 23) & 0xff) - 127 + 15;
  if (e <= 0) return static_cast<uint16_t>(sign);
  if (e >= 31) return static_cast<uint16_t>(sign | 0x7bff);
  return static_cast<uint16_t>(sign | static_cast<uint32_t>(e) << 10 | ((x >> 13) & 0x3ff));
}

// Stores w as one `width`-byte float (2: bf16 if `bf16`, else fp16).
inline void StoreFloat(uint8_t* p, unsigned width, bool bf16, float w) {
  if (width == 4) {
    std::memcpy(p, &w, 4);
  } else if (width == 8) {
    double d = w;
    std::memcpy(p, &d, 8);
  } else {
    uint16_t h = bf16 ? FloatToBf16(w) : FloatToFp16(w);
    std::memcpy(p, &h, 2);
  }
}

// `count` gaussian weights (sigma `scale`), stored as `width`-byte floats (2: bf16 if `bf16`,
// else fp16; 4: fp32; 8: fp64). A fraction `zeros` of them is exactly 0.
inline std::vector<uint8_t> GaussianWeights(size_t count, unsigned width, bool bf16, float scale,
                                            double zeros, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<uint8_t> out(count * width);
  for (size_t i = 0; i < count; ++i) {
    float w = u(rng) < zeros ? 0.0f : dist(rng);
    StoreFloat(out.data() + i * width, width, bf16, w);
  }
  return out;
}

// A fine-tune of `base`: w + N(0, rel * |w| + abs), re-rounded to the element's format. A
// fraction `frozen` of the elements (whole runs of 64) stays bit-identical.
inline std::vector<uint8_t> FineTune(const std::vector<uint8_t>& base, unsigned width, bool bf16,
                                     float rel, float abs, double frozen, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<uint8_t> out = base;
  size_t count = base.size() / width;
  bool freeze = false;
  for (size_t i = 0; i < count; ++i) {
    if (i % 64 == 0) freeze = u(rng) < frozen;
    if (freeze) continue;
    uint8_t* p = out.data() + i * width;
    float w;
    if (width == 4) {
      std::memcpy(&w, p, 4);
    } else if (width == 8) {
      double d;
      std::memcpy(&d, p, 8);
      w = static_cast<float>(d);
    } else {
      uint16_t h;
      std::memcpy(&h, p, 2);
      uint32_t x;
      if (bf16) {
        x = uint32_t{h} << 16;
      } else {
        uint32_t e = (h >> 10) & 0x1f;
        x = (uint32_t{h} & 0x8000) << 16;
        if (e != 0) x |= (e - 15 + 127) << 23 | (uint32_t{h} & 0x3ff) << 13;
      }
      std::memcpy(&w, &x, 4);
    }
    w += dist(rng) * (rel * std::fabs(w) + abs);
    StoreFloat(p, width, bf16, w);
  }
  return out;
}

// The delta transforms of delta/transform.hpp (1 XOR, 2 SUB8, 3 SUBINT, 4 SUBORD).
template <class U>
U ZigZag(U x) {
  return static_cast<U>((x << 1) ^ (0 - (x >> (sizeof(U) * 8 - 1))));
}
template <class U>
U Ord(U x) {
  constexpr U kSign = static_cast<U>(U{1} << (sizeof(U) * 8 - 1));
  return (x & kSign) ? static_cast<U>(~x) : static_cast<U>(x | kSign);
}
template <class U>
void ForwardT(unsigned transform, const uint8_t* t, const uint8_t* b, uint8_t* r, size_t elems) {
  for (size_t i = 0; i < elems; ++i) {
    U x, y;
    std::memcpy(&x, t + i * sizeof(U), sizeof(U));
    std::memcpy(&y, b + i * sizeof(U), sizeof(U));
    U v = transform == 3 ? ZigZag<U>(static_cast<U>(x - y))
                         : ZigZag<U>(static_cast<U>(Ord(x) - Ord(y)));
    std::memcpy(r + i * sizeof(U), &v, sizeof(U));
  }
}
inline std::vector<uint8_t> Residual(unsigned transform, unsigned width,
                                     const std::vector<uint8_t>& target,
                                     const std::vector<uint8_t>& base) {
  size_t n = target.size();
  std::vector<uint8_t> r(n);
  for (size_t i = 0; i < n; ++i) {
    r[i] = transform == 2 ? static_cast<uint8_t>(target[i] - base[i]) : target[i] ^ base[i];
  }
  if (transform <= 2) return r;
  size_t elems = n / width;
  if (width == 1) ForwardT<uint8_t>(transform, target.data(), base.data(), r.data(), elems);
  if (width == 2) ForwardT<uint16_t>(transform, target.data(), base.data(), r.data(), elems);
  if (width == 4) ForwardT<uint32_t>(transform, target.data(), base.data(), r.data(), elems);
  if (width == 8) ForwardT<uint64_t>(transform, target.data(), base.data(), r.data(), elems);
  return r;
}

}  // namespace oxide::codec::testing
