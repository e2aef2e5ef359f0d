#include "delta/patch_header.hpp"

#include <gtest/gtest.h>

#include "testing/status_matchers.hpp"

namespace oxide::delta {
namespace {

PatchHeader Sample() {
  PatchHeader h;
  h.strategy = Strategy::kTensor;
  h.format_hint = 1;
  h.base_size = 123;
  h.base_sha256 = Sha256::Of("base");
  h.target_size = 456;
  h.target_sha256 = Sha256::Of("target");
  h.body_size = 789;
  return h;
}

TEST(PatchHeader, RoundTrips) {
  std::string bytes = EncodePatchHeader(Sample());
  ASSERT_EQ(bytes.size(), kPatchHeaderSize);
  auto h = ParsePatchHeader(bytes);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->strategy, Strategy::kTensor);
  EXPECT_EQ(h->base_size, 123u);
  EXPECT_EQ(h->target_sha256, Sha256::Of("target"));
  EXPECT_EQ(h->body_size, 789u);
}

TEST(PatchHeader, RejectsBadMagic) {
  std::string bytes = EncodePatchHeader(Sample());
  bytes[0] = 'X';
  EXPECT_STATUS(ParsePatchHeader(bytes).status(), ErrorCode::kCorrupt);
}

TEST(PatchHeader, RejectsReferenceVersionOneAsUnsupported) {
  std::string bytes = EncodePatchHeader(Sample());
  bytes[4] = 1;
  EXPECT_STATUS(ParsePatchHeader(bytes).status(), ErrorCode::kUnsupported);
  EXPECT_STATUS(ParsePatchHeader(bytes.substr(0, 5)).status(), ErrorCode::kUnsupported);
}

TEST(PatchHeader, RejectsFlippedByteViaChecksum) {
  for (size_t i = 8; i < kPatchHeaderSize; i += 7) {
    std::string bytes = EncodePatchHeader(Sample());
    bytes[i] = static_cast<char>(bytes[i] ^ 0x01);
    EXPECT_STATUS(ParsePatchHeader(bytes).status(), ErrorCode::kCorrupt) << "byte " << i;
  }
}

TEST(PatchHeader, RejectsTruncation) {
  std::string bytes = EncodePatchHeader(Sample());
  for (size_t n = 0; n < kPatchHeaderSize; ++n) {
    auto st = ParsePatchHeader(bytes.substr(0, n)).status();
    EXPECT_STATUS(st, ErrorCode::kCorrupt) << "length " << n;
  }
}

TEST(PatchHeader, StrategyNamesAreStable) {
  EXPECT_EQ(ToString(Strategy::kBinary), "binary");
  EXPECT_EQ(ToString(Strategy::kTensor), "tensor");
  EXPECT_EQ(ToString(Strategy::kFull), "full");
}

}  // namespace
}  // namespace oxide::delta

namespace oxide::delta {
namespace {

TEST(PatchHeader, RejectsUnknownStrategy) {
  PatchHeader h = Sample();
  h.strategy = static_cast<Strategy>(9);
  EXPECT_STATUS(ParsePatchHeader(EncodePatchHeader(h)).status(), ErrorCode::kUnsupported);
}

}  // namespace
}  // namespace oxide::delta
