#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <utility>
#include <vector>

namespace oxide::simulate {

// When each simulated device acts next: a min-heap of (due time, device index), 16 bytes per
// scheduled device, so 100,000 devices cost 1.6 MB and no thread or timer each. Times are
// microseconds on any monotonic clock. Ties go to the lower device index. Not thread-safe.
class Scheduler {
 public:
  void At(int64_t due_us, uint32_t device);
  // The earliest device due at or before `now_us`, removed from the heap; nullopt when none is.
  std::optional<uint32_t> PopDue(int64_t now_us);
  // The earliest due time, nullopt when nothing is scheduled.
  std::optional<int64_t> NextDue() const;
  size_t size() const { return heap_.size(); }

 private:
  std::vector<std::pair<int64_t, uint32_t>> heap_;
};

// Spreads devices over time so that N devices polling every T seconds offer N/T requests per
// second evenly instead of N at once: a device's first action falls uniformly in [0, T), each
// later one T ± 10 % after the last (as agents drift apart). Deterministic for a seed.
class Jitter {
 public:
  explicit Jitter(uint64_t seed) : rng_(seed) {}
  int64_t First(int64_t start_us, int64_t interval_us);
  int64_t Next(int64_t now_us, int64_t interval_us);
  // Uniform in [0, 1): picks which devices download and which fail.
  double Uniform() { return unit_(rng_); }

 private:
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
};

}  // namespace oxide::simulate
