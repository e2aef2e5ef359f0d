#include "server/service/offline_sweeper.hpp"

#include <algorithm>

#include "base/log.hpp"
#include "server/service/event_data.hpp"

namespace oxide::server {

OfflineSweeper::OfflineSweeper(store::Store& store, const Clock& clock, EventBus& events,
                               OfflineSweeperOptions options)
    : store_(store),
      clock_(clock),
      events_(events),
      options_(options),
      // Never-seen devices (last_seen 0) are "unknown", not offline: the range starts at 1.
      cursor_seen_(std::max<store::TimeMs>(1, clock.UnixMillis() - options.offline_after_ms)) {}

Result<size_t> OfflineSweeper::SweepOnce() {
  // Offline when now - last_seen > offline_after (LivenessAt), i.e. last_seen < threshold.
  const store::TimeMs threshold = clock_.UnixMillis() - options_.offline_after_ms;
  size_t published = 0;
  while (threshold > cursor_seen_) {
    OXIDE_ASSIGN_OR_RETURN(auto batch, store_.devices().ListSeenBetween(cursor_seen_, cursor_id_,
                                                                        threshold, options_.batch));
    for (const auto& d : batch) {
      events_.Publish(EventType::kDeviceChanged, DeviceChangedData(d, "offline", "offline"));
      cursor_seen_ = d.last_seen;
      cursor_id_ = d.id;
      ++published;
    }
    if (batch.size() < options_.batch) {
      // Swept up to the threshold: later devices start at it.
      if (threshold > cursor_seen_) {
        cursor_seen_ = threshold;
        cursor_id_.clear();
      }
      break;
    }
  }
  return published;
}

void OfflineSweeper::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void OfflineSweeper::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void OfflineSweeper::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void OfflineSweeper::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, options_.interval, [this] { return stop_ || woken_; });
      if (stop_) return;
      woken_ = false;
    }
    auto swept = SweepOnce();
    if (!swept.ok()) log::Warn("offline sweep failed", {{"error", swept.status().ToString()}});
  }
}

}  // namespace oxide::server
