#include "simulate/scheduler.hpp"

#include <algorithm>
#include <functional>

namespace oxide::simulate {

void Scheduler::At(int64_t due_us, uint32_t device) {
  heap_.emplace_back(due_us, device);
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
}

std::optional<uint32_t> Scheduler::PopDue(int64_t now_us) {
  if (heap_.empty() || heap_.front().first > now_us) return std::nullopt;
  std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
  const uint32_t device = heap_.back().second;
  heap_.pop_back();
  return device;
}

std::optional<int64_t> Scheduler::NextDue() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front().first;
}

int64_t Jitter::First(int64_t start_us, int64_t interval_us) {
  return start_us + static_cast<int64_t>(Uniform() * static_cast<double>(interval_us));
}

int64_t Jitter::Next(int64_t now_us, int64_t interval_us) {
  return now_us + static_cast<int64_t>((0.9 + 0.2 * Uniform()) * static_cast<double>(interval_us));
}

}  // namespace oxide::simulate
