#pragma once

#include <chrono>
#include <cstdint>

namespace oxide {

class StopFlag;

// Time and sleeping, injected everywhere (agent and server) so tests run on
// testing::FakeClock, whose SleepFor only advances time and never blocks.
// Implementations must be safe to call from several threads at once.
class Clock {
 public:
  using Duration = std::chrono::nanoseconds;
  virtual ~Clock() = default;
  // Time since an arbitrary fixed origin; never goes backwards. For timeouts and intervals.
  virtual Duration Now() const = 0;
  // Wall-clock time in Unix milliseconds. For timestamps that are stored or shown; may jump.
  virtual int64_t UnixMillis() const = 0;
  // Sleeps for `d`; returns false when woken early because the process must stop.
  virtual bool SleepFor(Duration d) = 0;
};

// steady_clock and system_clock. Sleeps wait on `stop` (may be null) so SIGTERM interrupts them
// at once. `stop` must outlive the clock.
class SystemClock final : public Clock {
 public:
  explicit SystemClock(StopFlag* stop = nullptr) : stop_(stop) {}
  Duration Now() const override;
  int64_t UnixMillis() const override;
  bool SleepFor(Duration d) override;

 private:
  StopFlag* stop_;
};

}  // namespace oxide
