#pragma once

#include <chrono>

namespace oxide::agent {

// Monotonic time and sleeping, injected so tests run on a FakeClock (src/testing/fake_clock.hpp)
// whose SleepFor only advances time.
class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  virtual ~Clock() = default;
  // Time since an arbitrary fixed origin; never goes backwards.
  virtual Duration Now() = 0;
  // Sleeps for `d`; returns false when woken early because the agent must stop.
  virtual bool SleepFor(Duration d) = 0;
};

class StopFlag;

// steady_clock; sleeps wait on `stop` (may be null) so SIGTERM interrupts them at once.
// `stop` must outlive the clock.
class SystemClock final : public Clock {
 public:
  explicit SystemClock(StopFlag* stop) : stop_(stop) {}
  Duration Now() override;
  bool SleepFor(Duration d) override;

 private:
  StopFlag* stop_;
};

}  // namespace oxide::agent
