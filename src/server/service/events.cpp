#include "server/service/events.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <deque>
#include <nlohmann/json.hpp>
#include <random>

#include "base/log.hpp"
#include "store/store.hpp"

namespace oxide::server {

// One subscriber's queue. Lock order: EventBus::mu_, then EventSubscriber::mu.
struct EventSubscriber {
  EventFilter filter;
  std::string owner;
  std::mutex mu;
  std::deque<std::shared_ptr<const Event>> queue;
  // Replayed events do not count against the limit until the reader first takes them: a
  // resume may legitimately hand over more than queue_limit retained events at once.
  size_t replayed = 0;
  bool dropped = false;
  std::function<void()> wake;
};

namespace {

using Json = nlohmann::json;

thread_local EventScope* tls_scope = nullptr;

// Rows read from the log per query.
constexpr size_t kRelayBatch = 1000;
// Events kept while the log cannot be written (then dropped, logged).
constexpr size_t kMaxOutbox = 100'000;

std::string RandomStreamId() {
  std::random_device rd;
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%08x%08x%08x%08x", rd(), rd(), rd(), rd());
  return buf;
}

std::string Rfc3339(int64_t unix_ms) {
  std::time_t secs = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return buf;
}

std::string StringField(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

void CallWake(const std::shared_ptr<EventSubscriber>& s) {
  std::function<void()> wake;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    wake = s->wake;
  }
  if (wake) wake();
}

}  // namespace

std::string_view ToString(EventType t) {
  switch (t) {
    case EventType::kDeviceChanged:
      return "device.changed";
    case EventType::kCampaignState:
      return "campaign.state";
    case EventType::kCampaignDevice:
      return "campaign.device";
    case EventType::kPatchBuilt:
      return "patch.built";
    case EventType::kPatchFailed:
      return "patch.failed";
  }
  return "unknown";
}

bool EventFilter::Matches(const Event& e) const {
  if (!campaign_id.empty() && e.campaign_id != campaign_id) return false;
  if (!device_id.empty() && e.device_id != device_id) return false;
  if (type_prefixes.empty()) return true;
  const std::string_view name = ToString(e.type);
  for (const auto& p : type_prefixes) {
    if (name.substr(0, p.size()) == p) return true;
  }
  return false;
}

// ---- EventSubscription ------------------------------------------------------------------

EventSubscription::~EventSubscription() { bus_->Unsubscribe(sub_); }

void EventSubscription::SetWake(std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(sub_->mu);
  sub_->wake = std::move(wake);
}

EventSubscription::Batch EventSubscription::Take() {
  Batch b;
  std::lock_guard<std::mutex> lock(sub_->mu);
  b.dropped = sub_->dropped;
  b.events.assign(std::make_move_iterator(sub_->queue.begin()),
                  std::make_move_iterator(sub_->queue.end()));
  sub_->queue.clear();
  sub_->replayed = 0;
  return b;
}

bool EventSubscription::dropped() const {
  std::lock_guard<std::mutex> lock(sub_->mu);
  return sub_->dropped;
}

// ---- EventBus ---------------------------------------------------------------------------

EventBus::EventBus(const Clock& clock, EventBusOptions options)
    : clock_(clock), options_(std::move(options)) {
  if (options_.stream_id.empty()) options_.stream_id = RandomStreamId();
  ring_.reserve(options_.history);
}

EventBus::~EventBus() = default;

std::optional<Event> EventBus::Prepare(EventType type, std::string json_data) const {
  Json j = Json::parse(json_data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    log::Error("event data is not a JSON object: dropped", {{"type", ToString(type)}});
    return std::nullopt;
  }
  if (!j.contains("ts")) j["ts"] = Rfc3339(clock_.UnixMillis());
  Event e;
  e.type = type;
  e.campaign_id = StringField(j, "campaign_id");
  e.device_id = StringField(j, "device_id");
  // One line whatever the input held (an SSE data line ends at the first newline).
  e.data = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  return e;
}

uint64_t EventBus::Publish(EventType type, std::string json_data) {
  auto e = Prepare(type, std::move(json_data));
  if (!e) return 0;
  if (EventScope* scope = EventScope::Find(this)) {
    scope->pending_.push_back({std::move(e), type, nullptr});
    return 0;
  }
  return PublishPrepared(std::move(*e));
}

void EventBus::PublishAfterCommit(EventType type, std::function<std::string()> make_data) {
  if (EventScope* scope = EventScope::Find(this)) {
    scope->pending_.push_back({std::nullopt, type, std::move(make_data)});
    return;
  }
  Publish(type, make_data());
}

uint64_t EventBus::PublishPrepared(Event e) {
  if (log_ != nullptr) {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(outbox_mu_);
      if (outbox_.size() >= kMaxOutbox) {
        // The log has been unreachable for long: losing events beats exhausting memory.
        log::Error("event log unreachable: event dropped", {{"type", ToString(e.type)}});
        return 0;
      }
      if (outbox_.empty()) wake = outbox_wake_;
      outbox_.push_back(std::move(e));
    }
    if (wake) wake();
    return 0;
  }
  return Deliver(std::move(e), /*number=*/true);
}

uint64_t EventBus::Deliver(Event e, bool number) {
  std::vector<std::shared_ptr<EventSubscriber>> to_wake;
  uint64_t id;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (number) e.id = last_id_ + 1;
    last_id_ = id = e.id;
    auto shared = std::make_shared<const Event>(std::move(e));
    if (options_.history == 0) {
      floor_id_ = shared->id;
    } else if (ring_.size() < options_.history) {
      ring_.push_back(shared);
    } else {
      // max: a gap in the log (RaiseFloorAfterGap) may have put the floor above the ring.
      floor_id_ = std::max(floor_id_, ring_[ring_start_]->id);
      ring_[ring_start_] = shared;
      ring_start_ = (ring_start_ + 1) % ring_.size();
    }
    for (size_t i = 0; i < subscribers_.size();) {
      auto& s = subscribers_[i];
      if (!s->filter.Matches(*shared)) {
        ++i;
        continue;
      }
      std::lock_guard<std::mutex> sub_lock(s->mu);
      if (s->queue.size() >= options_.queue_limit + s->replayed) {
        // A reader this far behind is dropped (it resumes with Last-Event-ID), so neither its
        // memory nor the publishers depend on how fast it reads.
        s->dropped = true;
        s->queue.clear();
        to_wake.push_back(s);
        subscribers_[i] = std::move(subscribers_.back());
        subscribers_.pop_back();
        continue;
      }
      if (s->queue.empty()) to_wake.push_back(s);
      s->queue.push_back(shared);
      ++i;
    }
  }
  for (const auto& s : to_wake) CallWake(s);
  return id;
}

Result<std::unique_ptr<EventSubscription>> EventBus::Subscribe(SubscribeOptions o) {
  if (log_ != nullptr && o.last_event_id && *o.last_event_id > last_id()) {
    // The client saw this id on another replica, whose row this one may not have relayed yet.
    auto relayed = Relay();
    if (!relayed.ok()) log::Warn("event relay failed", {{"error", relayed.status().ToString()}});
  }
  auto sub = std::make_shared<EventSubscriber>();
  sub->filter = std::move(o.filter);
  sub->owner = std::move(o.owner);
  std::lock_guard<std::mutex> lock(mu_);
  if (subscribers_.size() >= options_.max_subscribers) {
    return Unavailable("too many open event streams (" + std::to_string(subscribers_.size()) +
                       "); try again later");
  }
  if (!sub->owner.empty()) {
    size_t mine = 0;
    for (const auto& s : subscribers_) mine += s->owner == sub->owner ? 1 : 0;
    if (mine >= options_.max_per_owner) {
      return Unavailable("this token already has " + std::to_string(mine) +
                         " open event streams; close one first");
    }
  }
  bool gap = false;
  if (o.last_event_id) {
    const uint64_t after = *o.last_event_id;
    gap = (!o.stream_id.empty() && o.stream_id != options_.stream_id) || after > last_id_ ||
          after < floor_id_;
    if (!gap) {
      // Ids need not be consecutive (a log's seqs may skip), so scan the ring in order.
      for (size_t i = 0; i < ring_.size(); ++i) {
        const auto& e = ring_[(ring_start_ + i) % ring_.size()];
        if (e->id > after && sub->filter.Matches(*e)) sub->queue.push_back(e);
      }
      sub->replayed = sub->queue.size();
    }
  }
  subscribers_.push_back(sub);
  return std::unique_ptr<EventSubscription>(new EventSubscription(this, sub, gap, last_id_));
}

// ---- the shared log ---------------------------------------------------------------------

std::optional<Event> EventBus::FromLog(const store::EventLogRecord& r) const {
  std::optional<EventType> type;
  for (EventType t : kAllEventTypes) {
    if (ToString(t) == r.type) type = t;
  }
  if (!type) return std::nullopt;  // written by a newer replica: skipped, not fatal
  Json j = Json::parse(r.data, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  Event e;
  e.id = static_cast<uint64_t>(r.seq);
  e.type = *type;
  e.data = r.data;
  e.campaign_id = StringField(j, "campaign_id");
  e.device_id = StringField(j, "device_id");
  return e;
}

Status EventBus::AttachLog(store::EventLogStore& log) {
  OXIDE_ASSIGN_OR_RETURN(options_.stream_id, log.DatabaseId());
  log_ = &log;
  bool first = true;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(auto rows, log.ListAfter(static_cast<int64_t>(last_id()), kRelayBatch));
    for (const auto& r : rows) {
      if (first) {
        // Older rows were trimmed (or never existed): a resume before this one is a gap.
        std::lock_guard<std::mutex> lock(mu_);
        floor_id_ = last_id_ = static_cast<uint64_t>(r.seq) - 1;
        first = false;
      }
      if (auto e = FromLog(r)) {
        Deliver(std::move(*e), /*number=*/false);
      } else {
        std::lock_guard<std::mutex> lock(mu_);
        last_id_ = static_cast<uint64_t>(r.seq);
      }
    }
    if (rows.size() < kRelayBatch) return Status::Ok();
  }
}

Result<size_t> EventBus::Relay() {
  if (log_ == nullptr) return size_t{0};
  std::lock_guard<std::mutex> relay_lock(relay_mu_);
  std::vector<Event> pending;
  {
    std::lock_guard<std::mutex> lock(outbox_mu_);
    pending.swap(outbox_);
  }
  if (!pending.empty()) {
    // The whole outbox in one transaction (one lock, one commit), not one per event.
    std::vector<store::EventLogRecord> batch;
    batch.reserve(pending.size());
    const store::TimeMs at = clock_.UnixMillis();
    for (const auto& e : pending) {
      batch.push_back(store::EventLogRecord{0, std::string(ToString(e.type)), e.data, at});
    }
    auto seqs = log_->AppendBatch(batch);
    if (!seqs.ok()) {
      // Kept, in order, ahead of what was published meanwhile: the next Relay() retries.
      std::lock_guard<std::mutex> lock(outbox_mu_);
      outbox_.insert(outbox_.begin(), std::make_move_iterator(pending.begin()),
                     std::make_move_iterator(pending.end()));
      return seqs.status();
    }
  }
  size_t delivered = 0;
  bool first = true;
  while (true) {
    OXIDE_ASSIGN_OR_RETURN(auto rows,
                           log_->ListAfter(static_cast<int64_t>(last_id()), kRelayBatch));
    if (first && !rows.empty() && static_cast<uint64_t>(rows.front().seq) > last_id() + 1) {
      // Seqs may skip (a rolled-back append); rows below the log's minimum were trimmed while
      // this replica lagged: its streams missed them.
      OXIDE_ASSIGN_OR_RETURN(int64_t min_seq, log_->MinSeq());
      if (static_cast<uint64_t>(min_seq) > last_id() + 1) {
        RaiseFloorAfterGap(static_cast<uint64_t>(rows.front().seq) - 1);
      }
    }
    first = false;
    for (const auto& r : rows) {
      if (auto e = FromLog(r)) {
        Deliver(std::move(*e), /*number=*/false);
        ++delivered;
      } else {
        std::lock_guard<std::mutex> lock(mu_);
        last_id_ = static_cast<uint64_t>(r.seq);
      }
    }
    if (rows.size() < kRelayBatch) return delivered;
  }
}

void EventBus::RaiseFloorAfterGap(uint64_t up_to) {
  std::vector<std::shared_ptr<EventSubscriber>> dropped;
  uint64_t missed_after = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    missed_after = last_id_;
    floor_id_ = last_id_ = up_to;
    for (auto& s : subscribers_) {
      std::lock_guard<std::mutex> sub_lock(s->mu);
      s->dropped = true;
      s->queue.clear();
      dropped.push_back(s);
    }
    subscribers_.clear();
  }
  // Like a reader that fell behind: the stream ends, the client resumes with its Last-Event-ID,
  // which is now below the floor, and gets a reset.
  for (const auto& s : dropped) CallWake(s);
  log::Warn("event relay fell behind the log's retention: open streams reset",
            {{"missed_after", static_cast<int64_t>(missed_after)},
             {"resumes_at", static_cast<int64_t>(up_to + 1)},
             {"streams", static_cast<int64_t>(dropped.size())}});
}

void EventBus::SetOutboxWake(std::function<void()> wake) {
  std::lock_guard<std::mutex> lock(outbox_mu_);
  outbox_wake_ = std::move(wake);
}

size_t EventBus::outbox_size() const {
  std::lock_guard<std::mutex> lock(outbox_mu_);
  return outbox_.size();
}

void EventBus::Unsubscribe(const std::shared_ptr<EventSubscriber>& sub) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < subscribers_.size(); ++i) {
    if (subscribers_[i] == sub) {
      subscribers_[i] = std::move(subscribers_.back());
      subscribers_.pop_back();
      return;
    }
  }
}

uint64_t EventBus::last_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_id_;
}

size_t EventBus::subscriber_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return subscribers_.size();
}

// ---- EventScope -------------------------------------------------------------------------

EventScope::EventScope(EventBus* bus) : bus_(bus) {
  if (bus_ == nullptr) return;
  parent_ = tls_scope;
  tls_scope = this;
  open_ = true;
}

EventScope::~EventScope() { Leave(); }

void EventScope::Leave() {
  if (!open_) return;
  open_ = false;
  tls_scope = parent_;
}

EventScope* EventScope::Find(const EventBus* bus) {
  for (EventScope* s = tls_scope; s != nullptr; s = s->parent_) {
    if (s->bus_ == bus) return s;
  }
  return nullptr;
}

void EventScope::Commit() {
  if (!open_) return;
  Leave();  // what publishes now must not land back in this scope
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& p : pending) {
    if (p.event) {
      if (EventScope* outer = Find(bus_)) {
        outer->pending_.push_back(std::move(p));
      } else {
        bus_->PublishPrepared(std::move(*p.event));
      }
    } else {
      bus_->PublishAfterCommit(p.type, std::move(p.make_data));
    }
  }
}

}  // namespace oxide::server
