#pragma once

// The live event stream behind GET /api/v1/events (docs/api.md, Events): services publish what
// changed (devices, campaigns, per-device rollout states, patch builds); each open stream
// subscribes with filters and reads its own bounded queue. Socket-free and JSON-light: events
// carry their data as one line of JSON text.
//
// Ordering: ids are assigned under one lock, so they increase strictly in publish order and
// every subscriber sees its events in id order. The bus keeps the last `history` events (a
// ring: publishing costs O(matching subscribers), never O(history)) for resuming streams.
//
// Transactions: events about store writes must not be seen when the transaction rolls back.
// Open an EventScope around InTransaction and Commit() it once the transaction committed: the
// events published on that thread meanwhile are held by the scope and published (in order) on
// Commit, or dropped with it.
//
// Replicas (issue #12): AttachLog() makes the bus one view of the store's shared event log.
// Publish then queues the event in an outbox; Relay() (an EventRelay thread, woken at once by a
// local publish and polling for the other replicas' rows) appends the outbox to the log and
// delivers every new row in seq order, the seq as its id and the database id as stream_id, so
// every replica streams the same ids and a client resumes with Last-Event-ID on any of them.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace oxide::store {
class EventLogStore;
struct EventLogRecord;
}  // namespace oxide::store

namespace oxide::server {

enum class EventType : uint8_t {
  kDeviceChanged = 0,
  kCampaignState = 1,
  kCampaignDevice = 2,
  kPatchBuilt = 3,
  kPatchFailed = 4,
};
// The SSE event name: "device.changed", "campaign.state", "campaign.device", "patch.built",
// "patch.failed".
std::string_view ToString(EventType t);
inline constexpr EventType kAllEventTypes[] = {EventType::kDeviceChanged, EventType::kCampaignState,
                                               EventType::kCampaignDevice, EventType::kPatchBuilt,
                                               EventType::kPatchFailed};

struct Event {
  uint64_t id = 0;
  EventType type = EventType::kDeviceChanged;
  std::string data;  // one line of JSON (an object with "ts")
  // The data's top-level "campaign_id" / "device_id" ("" when absent), for the filters.
  std::string campaign_id;
  std::string device_id;
};

// Which events one stream wants; every given part must hold (AND).
struct EventFilter {
  std::vector<std::string> type_prefixes;  // empty: any type; else ToString(type) starts with one
  std::string campaign_id;                 // "": any
  std::string device_id;                   // "": any
  bool Matches(const Event& e) const;
};

struct EventBusOptions {
  size_t history = 4096;         // events kept for resuming (--event-history)
  size_t queue_limit = 1024;     // events one subscriber may have unread before it is dropped
  size_t max_subscribers = 256;  // open streams (--max-event-streams)
  std::string stream_id;         // "": a random one (tests pin it)
  // Open streams of one owner (an operator token): one client cannot take every slot.
  size_t max_per_owner = 16;
};

class EventBus;
struct EventSubscriber;  // private to events.cpp

// One stream's view of the bus: its unread events, in id order. Destroying it leaves the bus.
// Thread-safe (Take and the wake run on different threads).
class EventSubscription {
 public:
  ~EventSubscription();
  EventSubscription(const EventSubscription&) = delete;
  EventSubscription& operator=(const EventSubscription&) = delete;

  // `wake` is called from a publishing thread (outside the bus's locks) when unread events
  // arrive after Take() had emptied the queue, and when the subscriber is dropped. Set it once,
  // before the first Take(); it must not call back into the bus.
  void SetWake(std::function<void()> wake);

  struct Batch {
    std::vector<std::shared_ptr<const Event>> events;  // in id order
    // The queue overflowed (a slow reader): the subscriber left the bus and gets nothing more.
    bool dropped = false;
  };
  Batch Take();
  bool dropped() const;  // Take() would say dropped

  // Subscribe() could not resume after the requested id (too old, newer than any event, or
  // another stream_id): events were missed and the client must re-fetch its state.
  bool gap() const { return gap_; }
  // The newest id published when the subscription began (0: none yet).
  uint64_t start_id() const { return start_id_; }

 private:
  friend class EventBus;
  EventSubscription(EventBus* bus, std::shared_ptr<EventSubscriber> sub, bool gap, uint64_t start)
      : bus_(bus), sub_(std::move(sub)), gap_(gap), start_id_(start) {}
  EventBus* bus_;
  std::shared_ptr<EventSubscriber> sub_;
  bool gap_;
  uint64_t start_id_;
};

// Thread-safe. `clock` (the events' "ts") must outlive the bus; the bus must outlive every
// subscription.
class EventBus {
 public:
  EventBus(const Clock& clock, EventBusOptions options);
  ~EventBus();
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;

  // Publishes one event; `json_data` must be a JSON object (it gets "ts", RFC 3339 UTC, unless
  // it has one). Returns the event's id; 0 when the data is not a JSON object (logged, dropped),
  // when an EventScope on this thread holds the event until it commits, or when the bus has a
  // log (the id is the seq Relay() gets for it).
  uint64_t Publish(EventType type, std::string json_data);
  // Like Publish, but `make_data` runs when the enclosing EventScope commits (at once when none
  // is open), so the data may read what the transaction wrote.
  void PublishAfterCommit(EventType type, std::function<std::string()> make_data);

  struct SubscribeOptions {
    EventFilter filter;
    // Resume: deliver the retained events after this id first (nullopt: live events only).
    std::optional<uint64_t> last_event_id;
    std::string stream_id;   // the client's idea of the stream; another one is a gap
    std::string owner = {};  // who opened it (operator token id); "": not counted per owner
  };
  // kUnavailable when max_subscribers streams are open, or max_per_owner of this owner.
  Result<std::unique_ptr<EventSubscription>> Subscribe(SubscribeOptions options);

  const std::string& stream_id() const { return options_.stream_id; }
  uint64_t last_id() const;
  size_t subscriber_count() const;  // open streams (for the oxide_event_streams gauge)

  // ---- the shared log (replicas, issue #12) ----
  // Call once, before any Publish or Subscribe; `log` must outlive the bus. Takes the database
  // id as stream_id and loads the log's last `history` rows for resuming. Errors: the store's.
  Status AttachLog(store::EventLogStore& log);
  bool has_log() const { return log_ != nullptr; }
  // Appends the outbox to the log (in publish order, one transaction), then delivers every row
  // after last_id() to the ring and the subscribers; when rows after last_id() were trimmed
  // meanwhile, first raises the floor and drops the open streams (RaiseFloorAfterGap). Returns how
  // many rows were delivered. Serialised inside; never call it inside a store transaction. Without
  // a log: 0.
  Result<size_t> Relay();
  // Called (outside the bus's locks) when Publish queues into an empty outbox: the relay's
  // wake. Set before publishing starts; null clears it.
  void SetOutboxWake(std::function<void()> wake);
  size_t outbox_size() const;

 private:
  friend class EventSubscription;
  friend class EventScope;
  // An event whose data is parsed and stamped, not yet numbered.
  std::optional<Event> Prepare(EventType type, std::string json_data) const;
  uint64_t PublishPrepared(Event e);
  // Adds `e` to the ring and the matching subscribers' queues, numbered next (`number`) or with
  // its own id (a log row's seq, above last_id()). Returns the id.
  uint64_t Deliver(Event e, bool number);
  // The log's rows up to `up_to` were trimmed before this replica relayed them: a resume at or
  // before it is a gap, and every open stream is dropped (its client resumes and gets a reset).
  void RaiseFloorAfterGap(uint64_t up_to);
  // The event a log row holds; nullopt for a type or data this binary does not know.
  std::optional<Event> FromLog(const store::EventLogRecord& r) const;
  void Unsubscribe(const std::shared_ptr<EventSubscriber>& sub);

  const Clock& clock_;
  EventBusOptions options_;
  mutable std::mutex mu_;
  uint64_t last_id_ = 0;
  // Every event with an id above this one is still in the ring (a resume after it is no gap).
  uint64_t floor_id_ = 0;
  std::vector<std::shared_ptr<const Event>> ring_;  // capacity options_.history
  size_t ring_start_ = 0;                           // index of the oldest retained event
  std::vector<std::shared_ptr<EventSubscriber>> subscribers_;

  store::EventLogStore* log_ = nullptr;
  std::mutex relay_mu_;  // one Relay() at a time: rows are delivered in seq order
  mutable std::mutex outbox_mu_;
  std::vector<Event> outbox_;  // published here, not yet in the log
  std::function<void()> outbox_wake_;
};

// Holds the events published on this thread while it is open (see the file comment). Scopes
// nest: an inner Commit hands its events to the enclosing scope of the same bus, which may
// still roll back. Not movable; one thread.
class EventScope {
 public:
  explicit EventScope(EventBus* bus);  // null: inert
  ~EventScope();                       // drops what was not committed
  EventScope(const EventScope&) = delete;
  EventScope& operator=(const EventScope&) = delete;
  void Commit();

 private:
  friend class EventBus;
  struct Pending {
    std::optional<Event> event;  // Publish
    EventType type = EventType::kDeviceChanged;
    std::function<std::string()> make_data;  // PublishAfterCommit
  };
  static EventScope* Find(const EventBus* bus);  // innermost open scope of `bus`, or null
  void Leave();
  EventBus* bus_;
  EventScope* parent_ = nullptr;
  bool open_ = false;
  std::vector<Pending> pending_;
};

}  // namespace oxide::server
