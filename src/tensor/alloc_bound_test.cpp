// Memory the indexers allocate for hostile headers, measured: this binary replaces the global
// operator new/delete (its own executable, so no other test sees it) to record the largest
// single allocation and the total bytes allocated while tracking is on.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "tensor/tensor_index.hpp"
#include "tensor/tflite_hostile_files.hpp"
#include "testing/gguf_builder.hpp"
#include "testing/status_matchers.hpp"

#if !defined(__SANITIZE_ADDRESS__)
#define OXIDE_ALLOC_TRACK 1
#endif

namespace {
std::atomic<bool> g_track{false};
std::atomic<size_t> g_largest{0};
std::atomic<size_t> g_total{0};
}  // namespace

#ifdef OXIDE_ALLOC_TRACK
namespace {
// Out of line so GCC does not pair the inlined free() with operator new and warn.
[[gnu::noinline]] void Release(void* p) { std::free(p); }
}  // namespace

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

// Every hostile TFLite file, accepted or refused, allocates at most a small multiple of its size
// in total (a sum over every allocation, so it also bounds the work spent copying). The multiple
// is the cost of one indexed tensor (~700 bytes of records and names) over the ~36 bytes of
// FlatBuffer it takes to describe one; quadratic cases were 10^2 to 10^4 times the file.
TEST_F(AllocBoundTest, HostileTfliteFilesAllocateLinearly) {
  struct Case {
    const char* what;
    std::string file;
  };
  const Case cases[] = {
      {"slots sharing one Buffer table, shared shape",
       hostile::SharedShapeFile(2000, 2000, /*share_buffer_table=*/true)},
      {"distinct buffers, one shared shape of 2000 dims",
       hostile::SharedShapeFile(2000, 2000, /*share_buffer_table=*/false)},
      {"slots sharing one empty Buffer table", hostile::SharedEmptyBufferFile(100000)},
      {"slots sharing one Metadata table", hostile::SharedMetadataFile(20000, 100000, true)},
      {"metadata tables naming one buffer of NULs",
       hostile::SharedMetadataFile(20000, 100000, false)},
      {"metadata tables sharing one long name", hostile::SharedNameFile(2000, 100000)},
  };
  for (const Case& c : cases) {
    Status s;
    Track([&] { s = IndexTflite(c.file).status(); });
    std::printf("%-48s %8zu bytes: %10zu allocated, largest %9zu, %s\n", c.what, c.file.size(),
                g_total.load(), g_largest.load(), s.ok() ? "accepted" : s.ToString().c_str());
    EXPECT_LT(g_total.load(), 24 * c.file.size()) << c.what;
  }
}

}  // namespace
}  // namespace oxide::tensor
