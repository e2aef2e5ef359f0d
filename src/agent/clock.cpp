#include "agent/clock.hpp"

#include <thread>

#include "agent/stop_flag.hpp"

namespace oxide::agent {

Clock::Duration SystemClock::Now() { return std::chrono::steady_clock::now().time_since_epoch(); }

bool SystemClock::SleepFor(Duration d) {
  if (stop_ == nullptr) {
    std::this_thread::sleep_for(d);
    return true;
  }
  return !stop_->WaitFor(d);
}

}  // namespace oxide::agent
