#pragma once

#include <atomic>
#include <chrono>

#include "store/records.hpp"

namespace oxide::server {

// Time source for services; tests inject ManualClock so no test sleeps.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual store::TimeMs Now() const = 0;  // unix milliseconds
};

class SystemClock final : public Clock {
 public:
  store::TimeMs Now() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that only moves when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(store::TimeMs start = 1'700'000'000'000) : now_(start) {}
  store::TimeMs Now() const override { return now_.load(); }
  void Advance(store::TimeMs ms) { now_ += ms; }
  void Set(store::TimeMs ms) { now_ = ms; }

 private:
  std::atomic<store::TimeMs> now_;
};

}  // namespace oxide::server
