#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace oxide {

// A one-way "please stop" flag owned by the app layer (AgentMain) and passed by pointer to the
// parts that block: the curl progress callback polls requested(), sleeps wait on WaitFor(), the
// health check polls it between child-process polls. Thread-safe. Request() is not
// async-signal-safe: AgentMain calls it from a sigwait() thread, not from a signal handler.
class StopFlag {
 public:
  void Request();
  bool requested() const { return requested_.load(std::memory_order_acquire); }
  // Waits up to `d`; returns true when a stop was requested (possibly before the call).
  bool WaitFor(std::chrono::nanoseconds d);

 private:
  std::atomic<bool> requested_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace oxide
