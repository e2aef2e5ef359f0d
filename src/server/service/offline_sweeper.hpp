#pragma once

// Publishes device.changed "offline" as devices go offline. Liveness is computed on read (no
// write when a device goes quiet), so nothing else notices the moment: every `interval` this
// asks the store for the devices whose last heartbeat crossed the --offline-after threshold
// since the previous sweep (a range on the last_seen index, in bounded batches) and publishes one
// event each. Devices already offline when the server starts get none.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "server/service/events.hpp"
#include "store/store.hpp"

namespace oxide::server {

struct OfflineSweeperOptions {
  store::TimeMs offline_after_ms = 90'000;
  std::chrono::milliseconds interval{std::chrono::seconds(5)};
  size_t batch = 256;  // devices per store query
};

class OfflineSweeper {
 public:
  // `store`, `clock` and `events` must outlive the sweeper.
  OfflineSweeper(store::Store& store, const Clock& clock, EventBus& events,
                 OfflineSweeperOptions options);
  ~OfflineSweeper() { Stop(); }
  OfflineSweeper(const OfflineSweeper&) = delete;
  OfflineSweeper& operator=(const OfflineSweeper&) = delete;

  // One sweep at the clock's time: publishes "offline" for each device whose last heartbeat is
  // older than offline_after and was not yet swept; returns how many. Not concurrent with itself
  // (the thread, or a test, calls it).
  Result<size_t> SweepOnce();

  // Starts the thread: SweepOnce every interval, or at once after Wake(). Stop() joins it;
  // both idempotent.
  void Start();
  void Wake();
  void Stop();

 private:
  void Loop();

  store::Store& store_;
  const Clock& clock_;
  EventBus& events_;
  OfflineSweeperOptions options_;
  // Everything at or before (cursor_seen_, cursor_id_) in (last_seen, id) order was swept.
  store::TimeMs cursor_seen_;
  std::string cursor_id_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace oxide::server
