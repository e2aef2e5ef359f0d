#include "base/stop_flag.hpp"

namespace oxide {

void StopFlag::Request() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    requested_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
}

bool StopFlag::WaitFor(std::chrono::nanoseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, d, [this] { return requested(); });
}

}  // namespace oxide
