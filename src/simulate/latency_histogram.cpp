#include "simulate/latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace oxide::simulate {

int LatencyHistogram::BucketOf(uint64_t v) {
  if (v < static_cast<uint64_t>(kLinear)) return static_cast<int>(v);
  const int exp = static_cast<int>(std::bit_width(v)) - 1;  // >= kSubBits + 1
  const int sub = static_cast<int>((v >> (exp - kSubBits)) & ((1u << kSubBits) - 1));
  return kLinear + (exp - (kSubBits + 1)) * (1 << kSubBits) + sub;
}

int64_t LatencyHistogram::UpperEdge(int bucket) {
  if (bucket < kLinear) return bucket;
  const int rel = bucket - kLinear;
  const int exp = rel / (1 << kSubBits) + kSubBits + 1;
  const uint64_t sub = static_cast<uint64_t>(rel % (1 << kSubBits));
  const uint64_t step = uint64_t{1} << (exp - kSubBits);
  const uint64_t lower = (uint64_t{1} << exp) + sub * step;
  return static_cast<int64_t>(lower + step - 1);
}

void LatencyHistogram::Record(int64_t micros) {
  const uint64_t v = micros < 0 ? 0 : static_cast<uint64_t>(micros);
  ++buckets_[static_cast<size_t>(BucketOf(v))];
  ++count_;
  max_ = std::max(max_, static_cast<int64_t>(v));
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

int64_t LatencyHistogram::Percentile(double percent) const {
  if (count_ == 0) return 0;
  percent = std::clamp(percent, 0.0, 100.0);
  // The sample of rank ceil(p·n) (1-based), at least the first.
  uint64_t rank = static_cast<uint64_t>(std::ceil(percent / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return std::min(UpperEdge(static_cast<int>(i)), max_);
  }
  return max_;
}

}  // namespace oxide::simulate
