#pragma once

// The thread that keeps one replica's EventBus in step with the shared event log (issue #12):
// it runs EventBus::Relay() at once when this replica publishes (the bus's outbox wake) and
// every `poll` otherwise (to pick up what the other replicas appended), and trims the log to
// its last `retain` rows every `trim_every`. Any replica may trim: Trim is idempotent.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>

#include "base/result.hpp"
#include "server/service/events.hpp"
#include "store/store.hpp"

namespace oxide::server {

struct EventRelayOptions {
  std::chrono::milliseconds poll{150};
  // Rows the log keeps for late relays and resuming streams (at least the bus's history).
  size_t retain = 10'000;
  std::chrono::milliseconds trim_every{std::chrono::seconds(60)};
};

class EventRelay {
 public:
  // `bus` (with its log attached) and `log` must outlive the relay.
  EventRelay(EventBus& bus, store::EventLogStore& log, EventRelayOptions options)
      : bus_(bus), log_(log), options_(options) {}
  ~EventRelay() { Stop(); }
  EventRelay(const EventRelay&) = delete;
  EventRelay& operator=(const EventRelay&) = delete;

  // One round in the calling thread: relay, and trim when `trim` (tests call it directly).
  Status RunOnce(bool trim);

  void Start();
  // Relays what is still in the outbox, then joins the thread. Idempotent.
  void Stop();

 private:
  void Loop();
  void Wake();

  EventBus& bus_;
  store::EventLogStore& log_;
  EventRelayOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace oxide::server
