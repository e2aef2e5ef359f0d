#include "delta/transform.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "codec/element.hpp"

namespace oxide::delta {
namespace {

using format::Transform;

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(Transform, EveryTransformAndWidthInverts) {
  for (uint8_t t = 1; t <= format::kMaxTransform; ++t) {
    for (size_t w : {1u, 2u, 4u, 8u}) {
      for (size_t n : {0u, 1u, 7u, 64u, 1003u}) {
        auto target = RandomBytes(n, 1), base = RandomBytes(n, 2);
        std::vector<uint8_t> r(n), back(n);
        ForwardTransform(static_cast<Transform>(t), w, target.data(), base.data(), r.data(), n);
        InverseTransform(static_cast<Transform>(t), w, r.data(), base.data(), back.data(), n);
        EXPECT_EQ(back, target) << "transform " << int(t) << " width " << w << " n " << n;
      }
    }
  }
}

// The codec names a zero target by one token and rebuilds its residual with its own copy of the
// formulas (it sits below delta); both must give the same bytes for every transform and width.
template <class U>
void ExpectZeroResidualsAgree(uint8_t t) {
  auto base = RandomBytes(sizeof(U) * 257, 7);
  for (bool negative : {false, true}) {
    std::vector<uint8_t> target(base.size(), 0);
    if (negative) {
      for (size_t i = sizeof(U) - 1; i < target.size(); i += sizeof(U)) target[i] = 0x80;
    }
    std::vector<uint8_t> r(base.size());
    ForwardTransform(static_cast<Transform>(t), sizeof(U), target.data(), base.data(), r.data(),
                     r.size());
    for (size_t i = 0; i < r.size(); i += sizeof(U)) {
      U b, want;
      std::memcpy(&b, base.data() + i, sizeof(U));
      std::memcpy(&want, r.data() + i, sizeof(U));
      ASSERT_EQ(codec::internal::ZeroTargetResidual<U>(t, b, negative), want)
          << "transform " << int(t) << " width " << sizeof(U) << " negative " << negative;
    }
  }
}

TEST(Transform, CodecZeroTargetResidualsMatchTheTransforms) {
  static_assert(codec::internal::kXorTransform == static_cast<uint8_t>(Transform::kXor));
  static_assert(codec::internal::kSub8Transform == static_cast<uint8_t>(Transform::kSub8));
  static_assert(codec::internal::kSubIntTransform == static_cast<uint8_t>(Transform::kSubInt));
  static_assert(codec::internal::kSubOrdTransform == static_cast<uint8_t>(Transform::kSubOrd));
  for (uint8_t t = 1; t <= format::kMaxTransform; ++t) {
    ExpectZeroResidualsAgree<uint8_t>(t);
    ExpectZeroResidualsAgree<uint16_t>(t);
    ExpectZeroResidualsAgree<uint32_t>(t);
    ExpectZeroResidualsAgree<uint64_t>(t);
  }
}

TEST(Transform, OrderedSubtractionKeepsSmallMovesAcrossZeroSmall) {
  // -min denormal, -0, +0, +min denormal: three steps apart in float order.
  uint32_t a = 0x00000001, b = 0x80000001, d = 0;
  uint8_t r[4];
  ForwardTransform(Transform::kSubOrd, 4, reinterpret_cast<uint8_t*>(&a),
                   reinterpret_cast<uint8_t*>(&b), r, 4);
  std::memcpy(&d, r, 4);
  EXPECT_EQ(d, 6u) << "zigzag(+3)";
  ForwardTransform(Transform::kSubInt, 4, reinterpret_cast<uint8_t*>(&a),
                   reinterpret_cast<uint8_t*>(&b), r, 4);
  std::memcpy(&d, r, 4);
  EXPECT_GT(d, 1u << 24) << "plain integer subtraction sees the sign bit as a huge move";
}

TEST(Transform, ByteAndBitPlanesRoundTrip) {
  for (size_t w : {1u, 2u, 4u, 8u}) {
    for (size_t n : {0u, 5u, 63u, 64u, 65u, 4099u}) {
      auto in = RandomBytes(n, 3);
      std::vector<uint8_t> g(n), back(n);
      for (uint8_t flag : {uint8_t{0}, kBitPlaneFlag}) {
        uint8_t wb = static_cast<uint8_t>(w | flag);
        GroupLayout(in.data(), g.data(), n, wb);
        UngroupLayout(g.data(), back.data(), n, wb);
        EXPECT_EQ(back, in) << "width " << w << " n " << n << " flag " << int(flag);
      }
    }
  }
}

TEST(Transform, BitPlanesIsolateZeroHighBits) {
  std::vector<uint8_t> in(4 * 64, 0);
  for (size_t i = 0; i < 64; ++i) in[4 * i] = static_cast<uint8_t>(i & 1);  // only bit 0
  std::vector<uint8_t> g(in.size());
  GroupBits(in.data(), g.data(), in.size(), 4);
  size_t nonzero = 0;
  for (uint8_t b : g) nonzero += b != 0;
  EXPECT_EQ(nonzero, 8u) << "one bit plane of 8 bytes carries every set bit";
}

// Known answers, computed by hand from docs/format/patch-v2.md (and cross-checked with an
// independent implementation of the spec): these pin the encoding itself, where the round trip
// tests above would accept any invertible function. Each width has a trailing partial element.
struct Kat {
  Transform transform;
  size_t width;
  std::vector<uint8_t> residual;
};

const std::vector<uint8_t>& KatTarget(size_t w) {
  static const std::vector<uint8_t> k1 = {0x00, 0x7f, 0x80, 0xff, 0x10};
  static const std::vector<uint8_t> k2 = {0x00, 0x80, 0x01, 0x00, 0x55};
  // 1.0f, -0.0f, tail
  static const std::vector<uint8_t> k4 = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x80, 0xaa};
  // the double after 1.0, -0.0, tail
  static const std::vector<uint8_t> k8 = {0x01, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0,
                                          0,    0, 0, 0, 0, 0, 0x80, 0x0f};
  return w == 1 ? k1 : w == 2 ? k2 : w == 4 ? k4 : k8;
}

const std::vector<uint8_t>& KatBase(size_t w) {
  static const std::vector<uint8_t> k1 = {0x01, 0x80, 0x7f, 0x00, 0x20};
  static const std::vector<uint8_t> k2 = {0x01, 0x80, 0xff, 0xff, 0x5a};
  // the float after 1.0f, +min denormal, tail
  static const std::vector<uint8_t> k4 = {0x01, 0x00, 0x80, 0x3f, 0x01, 0x00, 0x00, 0x00, 0xa5};
  // 1.0, +0.0, tail
  static const std::vector<uint8_t> k8 = {0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0,
                                          0, 0, 0, 0, 0, 0, 0,    0xf0};
  return w == 1 ? k1 : w == 2 ? k2 : w == 4 ? k4 : k8;
}

// Worked examples: w=1 SUBINT 0x00 - 0x01 = -1 -> zigzag 0x01; w=4 SUBORD -0.0f vs +denormal:
// ord 0x7fffffff - 0x80000001 = -2 -> zigzag 3; w=4 SUBINT 0x80000000 - 1 = 0x7fffffff ->
// zigzag 0xfffffffe. SUB8 subtracts every byte, the tail included (0x55 - 0x5a = 0xfb at w=2);
// XOR, SUBINT and SUBORD XOR the tail (0x55 ^ 0x5a = 0x0f).
const Kat kKats[] = {
    // width 1: target {0x00, 0x7f, 0x80, 0xff, 0x10}, base {0x01, 0x80, 0x7f, 0x00, 0x20}
    {Transform::kXor, 1, {0x01, 0xff, 0xff, 0xff, 0x30}},
    {Transform::kSub8, 1, {0xff, 0xff, 0x01, 0xff, 0xf0}},
    {Transform::kSubInt, 1, {0x01, 0x01, 0x02, 0x01, 0x1f}},
    {Transform::kSubOrd, 1, {0x01, 0xff, 0xff, 0xff, 0x1f}},
    // width 2: target {0x00, 0x80, 0x01, 0x00, 0x55}, base {0x01, 0x80, 0xff, 0xff, 0x5a}
    {Transform::kXor, 2, {0x01, 0x00, 0xfe, 0xff, 0x0f}},
    {Transform::kSub8, 2, {0xff, 0x00, 0x02, 0x01, 0xfb}},
    {Transform::kSubInt, 2, {0x01, 0x00, 0x04, 0x00, 0x0f}},
    {Transform::kSubOrd, 2, {0x02, 0x00, 0xfd, 0xff, 0x0f}},
    // width 4: target {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x80, 0xaa}, base {0x01, 0x00,
    // 0x80, 0x3f, 0x01, 0x00, 0x00, 0x00, 0xa5}
    {Transform::kXor, 4, {0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x80, 0x0f}},
    {Transform::kSub8, 4, {0xff, 0x00, 0x00, 0x00, 0xff, 0x00, 0x00, 0x80, 0x05}},
    {Transform::kSubInt, 4, {0x01, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff, 0x0f}},
    {Transform::kSubOrd, 4, {0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x0f}},
    // width 8: target {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00, 0x00, 0x00, 0x00,
    // 0x00, 0x00, 0x00, 0x80, 0x0f}, base {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x00,
    // 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0}
    {Transform::kXor,
     8,
     {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x80, 0xff}},
    {Transform::kSub8,
     8,
     {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x80, 0x1f}},
    {Transform::kSubInt,
     8,
     {0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
      0xff, 0xff}},
    {Transform::kSubOrd,
     8,
     {0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0xff}},
};

TEST(Transform, KnownAnswers) {
  for (const Kat& k : kKats) {
    const auto& t = KatTarget(k.width);
    const auto& b = KatBase(k.width);
    ASSERT_EQ(t.size(), k.residual.size());
    std::vector<uint8_t> r(t.size()), back(t.size());
    ForwardTransform(k.transform, k.width, t.data(), b.data(), r.data(), t.size());
    EXPECT_EQ(r, k.residual) << "transform " << int(k.transform) << " width " << k.width;
    InverseTransform(k.transform, k.width, k.residual.data(), b.data(), back.data(), t.size());
    EXPECT_EQ(back, t) << "transform " << int(k.transform) << " width " << k.width;
  }
}

TEST(Transform, BytePlanesKnownAnswer) {
  // Two 4-byte elements and one tail byte: plane k holds byte k of each element.
  std::vector<uint8_t> in = {1, 2, 3, 4, 5, 6, 7, 8, 9}, g(9), back(9);
  GroupLayout(in.data(), g.data(), in.size(), 4);
  EXPECT_EQ(g, (std::vector<uint8_t>{1, 5, 2, 6, 3, 7, 4, 8, 9}));
  UngroupLayout(g.data(), back.data(), in.size(), 4);
  EXPECT_EQ(back, in);
}

TEST(Transform, BitPlanesKnownAnswer) {
  // 16 two-byte elements (two groups of 8) and one tail byte. Byte i of plane 8k + j holds, in
  // bit e, bit j of byte k of element 8i + e: plane 0 byte 0 gathers bit 0 of the low bytes
  // 0x05 0x4f 0x99 0xe3 0x2d 0x77 0xc1 0x0b, all odd, so 0xff.
  std::vector<uint8_t> in(33);
  for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<uint8_t>(i * 37 + 5);
  std::vector<uint8_t> g(in.size()), back(in.size());
  GroupLayout(in.data(), g.data(), in.size(), 2 | kBitPlaneFlag);
  EXPECT_EQ(
      g, (std::vector<uint8_t>{0xff, 0xff, 0xaa, 0xaa, 0x33, 0x33, 0x96, 0x96, 0x24, 0xdb, 0x38,
                               0x1c, 0x6a, 0xb5, 0x4c, 0x26, 0x00, 0x00, 0x55, 0x55, 0x66, 0x66,
                               0x2d, 0x2d, 0xb6, 0x49, 0xc7, 0x71, 0x52, 0x2b, 0x64, 0xb2, 0xa5}));
  UngroupLayout(g.data(), back.data(), in.size(), 2 | kBitPlaneFlag);
  EXPECT_EQ(back, in);
}

TEST(Transform, ValidatesWidthBytes) {
  EXPECT_TRUE(IsValidWidthByte(4));
  EXPECT_TRUE(IsValidWidthByte(4 | kBitPlaneFlag));
  EXPECT_FALSE(IsValidWidthByte(3));
  EXPECT_FALSE(IsValidWidthByte(0x14));
  EXPECT_FALSE(IsValidTransform(0, 4));
  EXPECT_FALSE(IsValidTransform(format::kMaxTransform + 1, 4));
}

}  // namespace
}  // namespace oxide::delta
