#include "delta/transform.hpp"

#include <cstring>
#include <type_traits>

namespace oxide::delta {

using format::Transform;

namespace {

template <class U>
U Load(const uint8_t* p) {
  U v;
  std::memcpy(&v, p, sizeof(U));  // the format is little-endian, as is every supported host
  return v;
}
template <class U>
void Store(uint8_t* p, U v) {
  std::memcpy(p, &v, sizeof(U));
}

template <class U>
U ZigZag(U x) {
  using S = std::make_signed_t<U>;
  constexpr int kBits = sizeof(U) * 8;
  return static_cast<U>((x << 1) ^ static_cast<U>(static_cast<S>(x) >> (kBits - 1)));
}
template <class U>
U UnZigZag(U z) {
  return static_cast<U>((z >> 1) ^ static_cast<U>(0 - (z & 1)));
}
// IEEE sign-magnitude bit pattern -> unsigned key with the same order as the float value.
template <class U>
U Ord(U x) {
  constexpr U kSign = static_cast<U>(U{1} << (sizeof(U) * 8 - 1));
  return (x & kSign) ? static_cast<U>(~x) : static_cast<U>(x | kSign);
}
template <class U>
U UnOrd(U k) {
  constexpr U kSign = static_cast<U>(U{1} << (sizeof(U) * 8 - 1));
  return (k & kSign) ? static_cast<U>(k & ~kSign) : static_cast<U>(~k);
}

// The transform is a template parameter so that each loop is branch-free (and vectorisable).
template <class U, bool kOrdered>
void Forward(const uint8_t* tg, const uint8_t* b, uint8_t* r, size_t elems) {
  for (size_t i = 0; i < elems; ++i) {
    U x = Load<U>(tg + i * sizeof(U));
    U y = Load<U>(b + i * sizeof(U));
    U out;
    if constexpr (kOrdered) {
      out = ZigZag<U>(static_cast<U>(Ord(x) - Ord(y)));
    } else {
      out = ZigZag<U>(static_cast<U>(x - y));
    }
    Store<U>(r + i * sizeof(U), out);
  }
}

template <class U, bool kOrdered>
void Inverse(const uint8_t* r, const uint8_t* b, uint8_t* tg, size_t elems) {
  for (size_t i = 0; i < elems; ++i) {
    U d = UnZigZag<U>(Load<U>(r + i * sizeof(U)));
    U y = Load<U>(b + i * sizeof(U));
    U out;
    if constexpr (kOrdered) {
      out = UnOrd<U>(static_cast<U>(Ord(y) + d));
    } else {
      out = static_cast<U>(y + d);
    }
    Store<U>(tg + i * sizeof(U), out);
  }
}

template <bool kForward>
void Dispatch(Transform t, size_t width, const uint8_t* a, const uint8_t* base, uint8_t* out,
              size_t n) {
  size_t whole = n - n % width;
  if (t == Transform::kXor) {
    for (size_t i = 0; i < n; ++i) out[i] = a[i] ^ base[i];
    return;
  }
  if (t == Transform::kSub8) {
    for (size_t i = 0; i < n; ++i) {
      out[i] =
          kForward ? static_cast<uint8_t>(a[i] - base[i]) : static_cast<uint8_t>(a[i] + base[i]);
    }
    return;
  }
  size_t elems = whole / width;
  auto run = [&](auto tag) {
    using U = decltype(tag);
    const bool ordered = t != Transform::kSubInt;
    if constexpr (kForward) {
      ordered ? Forward<U, true>(a, base, out, elems) : Forward<U, false>(a, base, out, elems);
    } else {
      ordered ? Inverse<U, true>(a, base, out, elems) : Inverse<U, false>(a, base, out, elems);
    }
  };
  switch (width) {
    case 1:
      run(uint8_t{});
      break;
    case 2:
      run(uint16_t{});
      break;
    case 4:
      run(uint32_t{});
      break;
    default:
      run(uint64_t{});
      break;
  }
  for (size_t i = whole; i < n; ++i) out[i] = a[i] ^ base[i];
}

}  // namespace

bool IsValidWidthByte(uint8_t b) {
  uint8_t w = b & 0x0f;
  return (b & 0x70) == 0 && (w == 1 || w == 2 || w == 4 || w == 8);
}

bool IsValidTransform(uint8_t transform, uint8_t width) {
  if (transform < 1 || transform > format::kMaxTransform) return false;
  return width == 1 || width == 2 || width == 4 || width == 8;
}

void ForwardTransform(Transform t, size_t width, const uint8_t* target, const uint8_t* base,
                      uint8_t* residual, size_t n) {
  Dispatch<true>(t, width, target, base, residual, n);
}

void InverseTransform(Transform t, size_t width, const uint8_t* residual, const uint8_t* base,
                      uint8_t* target, size_t n) {
  Dispatch<false>(t, width, residual, base, target, n);
}

namespace {
// Fixed-width plane loops: one pass over the elements, every plane written (or read) in the same
// iteration, which the compiler turns into vector shuffles; the generic loop below made `width`
// strided passes, byte by byte.
// 32-bit words: byte k of 4 elements into one word each pass, stored as 4 plane bytes.
void GroupPlanes4(const uint8_t* in, uint8_t* out, size_t elems) {
  uint8_t* p0 = out;
  uint8_t* p1 = out + elems;
  uint8_t* p2 = out + 2 * elems;
  uint8_t* p3 = out + 3 * elems;
  for (size_t i = 0; i < elems; ++i) {
    uint32_t v;
    std::memcpy(&v, in + 4 * i, 4);
    p0[i] = static_cast<uint8_t>(v);
    p1[i] = static_cast<uint8_t>(v >> 8);
    p2[i] = static_cast<uint8_t>(v >> 16);
    p3[i] = static_cast<uint8_t>(v >> 24);
  }
}
void UngroupPlanes4(const uint8_t* in, uint8_t* out, size_t elems) {
  const uint8_t* p0 = in;
  const uint8_t* p1 = in + elems;
  const uint8_t* p2 = in + 2 * elems;
  const uint8_t* p3 = in + 3 * elems;
  for (size_t i = 0; i < elems; ++i) {
    uint32_t v = static_cast<uint32_t>(p0[i]) | static_cast<uint32_t>(p1[i]) << 8 |
                 static_cast<uint32_t>(p2[i]) << 16 | static_cast<uint32_t>(p3[i]) << 24;
    std::memcpy(out + 4 * i, &v, 4);
  }
}
void GroupPlanes2(const uint8_t* in, uint8_t* out, size_t elems) {
  uint8_t* p0 = out;
  uint8_t* p1 = out + elems;
  for (size_t i = 0; i < elems; ++i) {
    uint16_t v;
    std::memcpy(&v, in + 2 * i, 2);
    p0[i] = static_cast<uint8_t>(v);
    p1[i] = static_cast<uint8_t>(v >> 8);
  }
}
void UngroupPlanes2(const uint8_t* in, uint8_t* out, size_t elems) {
  const uint8_t* p0 = in;
  const uint8_t* p1 = in + elems;
  for (size_t i = 0; i < elems; ++i) {
    uint16_t v = static_cast<uint16_t>(p0[i] | p1[i] << 8);
    std::memcpy(out + 2 * i, &v, 2);
  }
}
}  // namespace

void GroupPlanes(const uint8_t* in, uint8_t* out, size_t n, size_t width) {
  if (width <= 1) {
    if (n > 0) std::memcpy(out, in, n);
    return;
  }
  size_t elems = n / width;
  if (width == 2) {
    GroupPlanes2(in, out, elems);
  } else if (width == 4) {
    GroupPlanes4(in, out, elems);
  } else {
    for (size_t k = 0; k < width; ++k) {
      uint8_t* plane = out + k * elems;
      for (size_t i = 0; i < elems; ++i) plane[i] = in[i * width + k];
    }
  }
  if (n > elems * width) std::memcpy(out + elems * width, in + elems * width, n - elems * width);
}

void UngroupPlanes(const uint8_t* in, uint8_t* out, size_t n, size_t width) {
  if (width <= 1) {
    if (n > 0) std::memcpy(out, in, n);
    return;
  }
  size_t elems = n / width;
  if (width == 2) {
    UngroupPlanes2(in, out, elems);
  } else if (width == 4) {
    UngroupPlanes4(in, out, elems);
  } else {
    for (size_t k = 0; k < width; ++k) {
      const uint8_t* plane = in + k * elems;
      for (size_t i = 0; i < elems; ++i) out[i * width + k] = plane[i];
    }
  }
  if (n > elems * width) std::memcpy(out + elems * width, in + elems * width, n - elems * width);
}

namespace {
// Transposes an 8x8 bit matrix held in a 64-bit word (an involution).
inline uint64_t Transpose8x8(uint64_t x) {
  uint64_t t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
  x = x ^ t ^ (t << 7);
  t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
  x = x ^ t ^ (t << 14);
  t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
  return x ^ t ^ (t << 28);
}
}  // namespace

namespace {
template <size_t W>
void GroupBitsW(const uint8_t* in, uint8_t* out, size_t groups) {
  for (size_t k = 0; k < W; ++k) {
    uint8_t* planes = out + k * 8 * groups;
    const uint8_t* src = in + k;
    for (size_t g = 0; g < groups; ++g, src += 8 * W) {
      uint64_t x = 0;
      for (size_t i = 0; i < 8; ++i) x |= static_cast<uint64_t>(src[i * W]) << (8 * i);
      x = Transpose8x8(x);
      for (size_t j = 0; j < 8; ++j) planes[j * groups + g] = static_cast<uint8_t>(x >> (8 * j));
    }
  }
}

template <size_t W>
void UngroupBitsW(const uint8_t* in, uint8_t* out, size_t groups) {
  for (size_t k = 0; k < W; ++k) {
    const uint8_t* planes = in + k * 8 * groups;
    uint8_t* dst = out + k;
    for (size_t g = 0; g < groups; ++g, dst += 8 * W) {
      uint64_t x = 0;
      for (size_t j = 0; j < 8; ++j) {
        x |= static_cast<uint64_t>(planes[j * groups + g]) << (8 * j);
      }
      x = Transpose8x8(x);
      for (size_t i = 0; i < 8; ++i) dst[i * W] = static_cast<uint8_t>(x >> (8 * i));
    }
  }
}

template <bool kGroup>
void BitsDispatch(const uint8_t* in, uint8_t* out, size_t n, size_t width) {
  size_t groups = n / width / 8;
  switch (width) {
    case 1:
      kGroup ? GroupBitsW<1>(in, out, groups) : UngroupBitsW<1>(in, out, groups);
      break;
    case 2:
      kGroup ? GroupBitsW<2>(in, out, groups) : UngroupBitsW<2>(in, out, groups);
      break;
    case 4:
      kGroup ? GroupBitsW<4>(in, out, groups) : UngroupBitsW<4>(in, out, groups);
      break;
    default:
      kGroup ? GroupBitsW<8>(in, out, groups) : UngroupBitsW<8>(in, out, groups);
      break;
  }
  size_t done = groups * 8 * width;
  if (n > done) std::memcpy(out + done, in + done, n - done);
}
}  // namespace

void GroupBits(const uint8_t* in, uint8_t* out, size_t n, size_t width) {
  BitsDispatch<true>(in, out, n, width);
}

void UngroupBits(const uint8_t* in, uint8_t* out, size_t n, size_t width) {
  BitsDispatch<false>(in, out, n, width);
}

void GroupLayout(const uint8_t* in, uint8_t* out, size_t n, uint8_t width_byte) {
  size_t w = width_byte & 0x0f;
  if (width_byte & kBitPlaneFlag) {
    GroupBits(in, out, n, w);
  } else {
    GroupPlanes(in, out, n, w);
  }
}

void UngroupLayout(const uint8_t* in, uint8_t* out, size_t n, uint8_t width_byte) {
  size_t w = width_byte & 0x0f;
  if (width_byte & kBitPlaneFlag) {
    UngroupBits(in, out, n, w);
  } else {
    UngroupPlanes(in, out, n, w);
  }
}

}  // namespace oxide::delta
