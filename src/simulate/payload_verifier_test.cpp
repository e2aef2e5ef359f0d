#include "simulate/payload_verifier.hpp"

#include <gtest/gtest.h>

#include <random>

#include "delta/build/patch_builder.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::simulate {
namespace {

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string Sha(const std::string& s) { return ToHex(Sha256::Of(s)); }

// Feeds in odd-sized chunks, as a socket would deliver them.
Status FeedAll(PayloadVerifier& v, const std::string& bytes) {
  for (size_t at = 0; at < bytes.size(); at += 1237) {
    const size_t n = std::min<size_t>(1237, bytes.size() - at);
    OXIDE_RETURN_IF_ERROR(v.Feed(reinterpret_cast<const uint8_t*>(bytes.data() + at), n));
  }
  return v.Finish();
}

struct Pair {
  std::string base, target, patch;
};

Pair MakePair() {
  Pair p;
  p.base = RandomBytes(200'000, 1);
  p.target = p.base;
  for (size_t i = 0; i < p.target.size(); i += 997) p.target[i] ^= 0x5a;
  delta::DiffOptions opts;
  opts.threads = 1;
  p.patch = delta::BuildPatch(p.base, p.target, opts).value().patch;
  return p;
}

TEST(PayloadVerifier, FullFileMatches) {
  const std::string model = RandomBytes(100'000, 2);
  auto v = PayloadVerifier::ForFull(Sha(model));
  EXPECT_OK(FeedAll(*v, model));
  EXPECT_EQ(v->target_bytes(), model.size());
}

TEST(PayloadVerifier, FullFileWithOneFlippedByteIsCorrupt) {
  std::string model = RandomBytes(100'000, 2);
  const std::string sha = Sha(model);
  model[500] ^= 1;
  auto v = PayloadVerifier::ForFull(sha);
  EXPECT_STATUS(FeedAll(*v, model), ErrorCode::kCorrupt);
}

TEST(PayloadVerifier, PatchRebuildsTheTargetFromTheBaseInMemory) {
  Pair p = MakePair();
  ASSERT_LT(p.patch.size(), p.target.size());
  auto v = PayloadVerifier::ForPatch(p.base, Sha(p.target), uint64_t{128} << 20);
  EXPECT_OK(FeedAll(*v, p.patch));
  EXPECT_EQ(v->target_bytes(), p.target.size());
}

TEST(PayloadVerifier, KeepsTheTargetWhenAsked) {
  Pair p = MakePair();
  std::string full, rebuilt;
  auto f = PayloadVerifier::ForFull(Sha(p.base), &full);
  EXPECT_OK(FeedAll(*f, p.base));
  EXPECT_EQ(full, p.base);
  auto v = PayloadVerifier::ForPatch(full, Sha(p.target), uint64_t{128} << 20, &rebuilt);
  EXPECT_OK(FeedAll(*v, p.patch));
  EXPECT_EQ(rebuilt, p.target);
}

TEST(PayloadVerifier, PatchForAnotherTargetIsCorrupt) {
  Pair p = MakePair();
  auto v = PayloadVerifier::ForPatch(p.base, Sha(p.base), uint64_t{128} << 20);
  EXPECT_STATUS(FeedAll(*v, p.patch), ErrorCode::kCorrupt);
}

TEST(PayloadVerifier, PatchOnTheWrongBaseIsRefused) {
  Pair p = MakePair();
  std::string other = p.base;
  other[0] ^= 1;
  auto v = PayloadVerifier::ForPatch(other, Sha(p.target), uint64_t{128} << 20);
  EXPECT_STATUS(FeedAll(*v, p.patch), ErrorCode::kFailedPrecondition);
}

}  // namespace
}  // namespace oxide::simulate
