#include "delta/transform.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

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
