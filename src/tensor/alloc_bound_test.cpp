// Memory the indexers allocate for hostile headers, measured: this binary replaces the global
// operator new/delete (its own executable, so no other test sees it) to record the largest
// single allocation and the total bytes allocated while tracking is on.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "tensor/tensor_index.hpp"
#include "testing/gguf_builder.hpp"
#include "testing/status_matchers.hpp"

#if !defined(__SANITIZE_ADDRESS__)
#define OXIDE_ALLOC_TRACK 1
#endif

namespace {
std::atomic<bool> g_track{false};
std::atomic<size_t> g_largest{0};
std::atomic<size_t> g_total{0};
// Out of line so GCC does not pair the inlined free() with operator new and warn.
[[gnu::noinline]] void Release(void* p) { std::free(p); }
}  // namespace

#ifdef OXIDE_ALLOC_TRACK
void* operator new(size_t n) {
  if (g_track.load(std::memory_order_relaxed)) {
    g_total.fetch_add(n, std::memory_order_relaxed);
    size_t prev = g_largest.load(std::memory_order_relaxed);
    while (n > prev && !g_largest.compare_exchange_weak(prev, n)) {
    }
  }
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { Release(p); }
void operator delete[](void* p) noexcept { operator delete(p); }
void operator delete(void* p, size_t) noexcept { operator delete(p); }
void operator delete[](void* p, size_t) noexcept { operator delete(p); }
#endif

namespace oxide::tensor {
namespace {

using oxide::testing::GgufBuilder;

class AllocBoundTest : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef OXIDE_ALLOC_TRACK
    GTEST_SKIP() << "operator new is the sanitizer's in this build";
#endif
  }
  template <typename F>
  void Track(F f) {
    g_largest = 0;
    g_total = 0;
    g_track = true;
    f();
    g_track = false;
  }
};

TEST_F(AllocBoundTest, HostileGgufTensorCountReservesLittle) {
  // The count passes the "fits the bytes left" check (24 bytes per smallest info) but the first
  // info is garbage: reserving the claimed count up front took ~5x the file in one allocation.
  const uint64_t left = 1 << 20;
  std::string f = "GGUF" + GgufBuilder::U32(3) + GgufBuilder::U64(left / 24) + GgufBuilder::U64(0);
  f += GgufBuilder::U64(~uint64_t{0});  // the first name's length: past the end
  f.resize(f.size() + left - 8, '\0');
  Status s;
  Track([&] { s = IndexGguf(f).status(); });
  EXPECT_STATUS(s, ErrorCode::kCorrupt);
  EXPECT_LT(g_largest.load(), f.size() / 4);
  EXPECT_LT(g_total.load(), f.size() / 4);
}

}  // namespace
}  // namespace oxide::tensor
