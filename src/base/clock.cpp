#include "base/clock.hpp"

#include <thread>

#include "base/stop_flag.hpp"

namespace oxide {

Clock::Duration SystemClock::Now() const {
  return std::chrono::steady_clock::now().time_since_epoch();
}

int64_t SystemClock::UnixMillis() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool SystemClock::SleepFor(Duration d) {
  if (stop_ == nullptr) {
    std::this_thread::sleep_for(d);
    return true;
  }
  return !stop_->WaitFor(d);
}

}  // namespace oxide
