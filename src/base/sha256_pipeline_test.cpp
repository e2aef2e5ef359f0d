#include "base/sha256_pipeline.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace oxide {
namespace {

std::vector<uint8_t> Bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

TEST(PipelinedSha256, MatchesSha256ForAnySplit) {
  for (size_t buffer : {size_t{1}, size_t{7}, size_t{4096}, size_t{1} << 18}) {
    for (size_t n :
         {size_t{0}, size_t{1}, size_t{4095}, size_t{4096}, size_t{100003}, size_t{3} << 20}) {
      if (buffer < 4096 && n > 100003) continue;  // a hand-off every few bytes: slow, no news
      std::vector<uint8_t> data = Bytes(n, static_cast<uint32_t>(n + buffer));
      std::mt19937 rng(3);
      PipelinedSha256 h(buffer);
      for (size_t off = 0; off < n;) {
        size_t take = std::min<size_t>(n - off, 1 + rng() % 70000);
        h.Update(data.data() + off, take);
        off += take;
      }
      EXPECT_EQ(h.Finish(), Sha256::Of(data.data(), n)) << "buffer " << buffer << " n " << n;
    }
  }
}

TEST(PipelinedSha256, IsReusableAfterFinishAndWorksInline) {
  std::vector<uint8_t> a = Bytes(300000, 5), b = Bytes(200000, 6);
  PipelinedSha256 h(4096);
  h.Update(a.data(), a.size());
  EXPECT_EQ(h.Finish(), Sha256::Of(a.data(), a.size()));
  h.Update(b.data(), b.size());
  EXPECT_EQ(h.Finish(), Sha256::Of(b.data(), b.size()));
  h.HashInline();
  h.Update(a.data(), 5000);
  h.Update(a.data() + 5000, a.size() - 5000);
  EXPECT_EQ(h.Finish(), Sha256::Of(a.data(), a.size()));
}

TEST(PipelinedSha256, DestroyedWithoutFinishJoinsItsThread) {
  std::vector<uint8_t> data = Bytes(1 << 20, 9);
  PipelinedSha256 h(4096);
  h.Update(data.data(), data.size());  // several hand-offs: the thread is running
}

}  // namespace
}  // namespace oxide
