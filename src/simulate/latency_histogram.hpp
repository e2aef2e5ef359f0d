#pragma once

#include <array>
#include <cstdint>

namespace oxide::simulate {

// Latencies in microseconds, log-linear buckets (HdrHistogram style): exact below 64 µs, then 32
// buckets per power of two, so a percentile is within 1/32 (about 3 %) of the true value while
// the histogram stays a fixed 15 KiB however many samples it holds. Not thread-safe.
class LatencyHistogram {
 public:
  void Record(int64_t micros);  // negative values count as 0
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  int64_t max() const { return max_; }
  // The value below which `percent` % of the samples fall (the upper edge of the bucket that
  // holds that rank, never above max()); 0 when empty. `percent` is clamped to [0, 100].
  int64_t Percentile(double percent) const;

 private:
  static constexpr int kSubBits = 5;             // 32 buckets per power of two
  static constexpr int kLinear = 2 << kSubBits;  // 0..63 µs: one bucket each
  static constexpr int kOctaves = 64 - (kSubBits + 1);
  static constexpr int kBuckets = kLinear + kOctaves * (1 << kSubBits);

  static int BucketOf(uint64_t v);
  static int64_t UpperEdge(int bucket);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  int64_t max_ = 0;
};

}  // namespace oxide::simulate
