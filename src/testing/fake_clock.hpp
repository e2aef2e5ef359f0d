#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "base/clock.hpp"

namespace oxide::testing {

// A Clock that only moves when told to (RocksDB MockSystemClock): SleepFor advances time instead
// of blocking. Monotonic and wall time move together. After `max_sleeps` sleeps, SleepFor returns
// false (as if the process were asked to stop), so loops end. Thread-safe: server tests advance
// it while worker threads read it.
class FakeClock final : public Clock {
 public:
  static constexpr int64_t kDefaultUnixMillis = 1'700'000'000'000;

  explicit FakeClock(int max_sleeps = 1 << 30, int64_t unix_millis = kDefaultUnixMillis)
      : max_sleeps_(max_sleeps), unix_origin_ms_(unix_millis) {}

  Duration Now() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return now_;
  }
  int64_t UnixMillis() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return unix_origin_ms_ +
           std::chrono::duration_cast<std::chrono::milliseconds>(now_ - kStart).count();
  }
  bool SleepFor(Duration d) override {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
    sleeps_.push_back(d);
    return static_cast<int>(sleeps_.size()) < max_sleeps_;
  }
  void Advance(Duration d) {
    std::lock_guard<std::mutex> lock(mu_);
    now_ += d;
  }
  void AdvanceMs(int64_t ms) { Advance(std::chrono::milliseconds(ms)); }
  // Moves wall time to `unix_millis` (monotonic time moves by the same amount; never backwards).
  void SetUnixMillis(int64_t unix_millis) {
    int64_t delta = unix_millis - UnixMillis();
    if (delta > 0) AdvanceMs(delta);
  }
  std::vector<Duration> sleeps() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sleeps_;
  }

 private:
  static constexpr Duration kStart = std::chrono::hours(1);

  mutable std::mutex mu_;
  Duration now_{kStart};
  int max_sleeps_;
  int64_t unix_origin_ms_;
  std::vector<Duration> sleeps_;
};

}  // namespace oxide::testing
