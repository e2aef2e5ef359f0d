#include "server/service/event_relay.hpp"

#include "base/log.hpp"

namespace oxide::server {

Status EventRelay::RunOnce(bool trim) {
  auto relayed = bus_.Relay();
  if (!relayed.ok()) return relayed.status();
  if (!trim) return Status::Ok();
  const uint64_t last = bus_.last_id();
  if (last <= options_.retain) return Status::Ok();
  return log_.Trim(static_cast<int64_t>(last - options_.retain));
}

void EventRelay::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  bus_.SetOutboxWake([this] { Wake(); });
  thread_ = std::thread([this] { Loop(); });
}

void EventRelay::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void EventRelay::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  bus_.SetOutboxWake(nullptr);
  // What the last requests published still reaches the log (and the other replicas).
  Status last = RunOnce(false);
  if (!last.ok()) log::Warn("event relay failed", {{"error", last.ToString()}});
}

void EventRelay::Loop() {
  auto next_trim = std::chrono::steady_clock::now() + options_.trim_every;
  bool failing = false;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, options_.poll, [this] { return stop_ || woken_; });
      if (stop_) return;
      woken_ = false;
    }
    const auto now = std::chrono::steady_clock::now();
    const bool trim = now >= next_trim;
    if (trim) next_trim = now + options_.trim_every;
    Status st = RunOnce(trim);
    // Logged once per outage, not every poll.
    if (!st.ok() && !failing) log::Warn("event relay failed", {{"error", st.ToString()}});
    if (st.ok() && failing) log::Info("event relay recovered");
    failing = !st.ok();
  }
}

}  // namespace oxide::server
