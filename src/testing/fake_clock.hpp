#pragma once

#include <vector>

#include "agent/clock.hpp"

namespace oxide::testing {

// A Clock whose SleepFor only advances time (RocksDB MockSystemClock). After `max_sleeps`
// sleeps, SleepFor returns false (as if the agent were asked to stop), so loops end.
class FakeClock final : public agent::Clock {
 public:
  explicit FakeClock(int max_sleeps = 1 << 30) : max_sleeps_(max_sleeps) {}
  Duration Now() override { return now_; }
  bool SleepFor(Duration d) override {
    now_ += d;
    sleeps_.push_back(d);
    return static_cast<int>(sleeps_.size()) < max_sleeps_;
  }
  void Advance(Duration d) { now_ += d; }
  const std::vector<Duration>& sleeps() const { return sleeps_; }

 private:
  Duration now_{std::chrono::hours(1)};
  int max_sleeps_;
  std::vector<Duration> sleeps_;
};

}  // namespace oxide::testing
