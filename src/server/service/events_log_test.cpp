// Replicas (issue #12): two EventBuses over one event log behave as one stream.
#include <gtest/gtest.h>

#include "server/service/event_relay.hpp"
#include "server/service/events.hpp"
#include "server/service/test_env.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "testing/fake_clock.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

// An in-memory log whose writes can be made to fail (a database that is down).
class FlakyLog final : public store::EventLogStore {
 public:
  Result<int64_t> Append(const std::string& type, const std::string& data,
                         store::TimeMs at) override {
    ++transactions;
    if (fail) return IoError("database down");
    rows.push_back({++seq, type, data, at});
    return seq;
  }
  Result<std::vector<int64_t>> AppendBatch(
      const std::vector<store::EventLogRecord>& events) override {
    ++transactions;
    if (fail) return IoError("database down");
    std::vector<int64_t> seqs;
    for (const auto& e : events) {
      rows.push_back({++seq, e.type, e.data, e.at});
      seqs.push_back(seq);
    }
    return seqs;
  }
  Result<int64_t> MinSeq() override { return rows.empty() ? 0 : rows.front().seq; }
  Result<std::vector<store::EventLogRecord>> ListAfter(int64_t after, size_t limit) override {
    std::vector<store::EventLogRecord> out;
    for (const auto& r : rows) {
      if (r.seq > after && out.size() < limit) out.push_back(r);
    }
    return out;
  }
  Status Trim(int64_t up_to) override {
    std::erase_if(rows, [&](const store::EventLogRecord& r) { return r.seq <= up_to; });
    return Status::Ok();
  }
  Result<std::string> DatabaseId() override { return std::string("flaky-db"); }

  bool fail = false;
  int transactions = 0;  // Append and AppendBatch calls
  int64_t seq = 0;
  std::vector<store::EventLogRecord> rows;
};

class EventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::sqlite::OpenSqliteStore(":memory:");
    ASSERT_OK(s.status());
    store_ = std::move(s).value();
  }
  // One replica's bus on the shared log.
  std::unique_ptr<EventBus> Replica(size_t history = 8) {
    auto bus = std::make_unique<EventBus>(clock_, EventBusOptions{history, 16, 4, ""});
    EXPECT_OK(bus->AttachLog(store_->event_log()));
    return bus;
  }
  static std::unique_ptr<EventSubscription> Sub(EventBus& bus, EventBus::SubscribeOptions o = {}) {
    auto s = bus.Subscribe(std::move(o));
    EXPECT_OK(s.status());
    return s.ok() ? std::move(s).value() : nullptr;
  }
  static std::vector<uint64_t> Ids(const EventSubscription::Batch& b) {
    std::vector<uint64_t> ids;
    for (const auto& e : b.events) ids.push_back(e->id);
    return ids;
  }
  static std::string Device(const std::string& id) { return R"({"device_id":")" + id + R"("})"; }

  oxide::testing::FakeClock clock_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(EventLogTest, EventsOfEitherReplicaReachBothWithTheSameIds) {
  auto a = Replica(), b = Replica();
  EXPECT_EQ(a->stream_id(), *store_->event_log().DatabaseId());
  EXPECT_EQ(a->stream_id(), b->stream_id());
  auto on_a = Sub(*a), on_b = Sub(*b);
  EXPECT_EQ(a->Publish(EventType::kDeviceChanged, Device("d1")), 0u);  // id comes from the log
  EXPECT_TRUE(on_a->Take().events.empty());  // not before the relay wrote it
  b->Publish(EventType::kCampaignState, R"({"campaign_id":"c1"})");
  ASSERT_EQ(*b->Relay(), 1u);  // b's own event only: a's is still in a's outbox
  ASSERT_EQ(*a->Relay(), 2u);  // a appends its event (seq 2), then reads b's and its own
  ASSERT_EQ(*b->Relay(), 1u);
  auto got_a = on_a->Take(), got_b = on_b->Take();
  EXPECT_EQ(Ids(got_a), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Ids(got_b), (std::vector<uint64_t>{1, 2}));
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(got_a.events[i]->type, got_b.events[i]->type);
    EXPECT_EQ(got_a.events[i]->data, got_b.events[i]->data);
  }
  EXPECT_EQ(got_b.events[1]->device_id, "d1");  // filters work on relayed events
  EXPECT_EQ(got_a.events[0]->campaign_id, "c1");
}

TEST_F(EventLogTest, ResumeOnAnotherReplicaBeforeItRelayedIsNoGap) {
  auto a = Replica(), b = Replica();
  a->Publish(EventType::kDeviceChanged, Device("d1"));
  a->Publish(EventType::kDeviceChanged, Device("d2"));
  ASSERT_EQ(*a->Relay(), 2u);
  // The client saw id 1 on a; its reconnection lands on b, which has not polled yet.
  auto resumed = Sub(*b, {{}, 1, a->stream_id()});
  EXPECT_FALSE(resumed->gap());
  auto got = resumed->Take();
  ASSERT_EQ(Ids(got), (std::vector<uint64_t>{2}));
  EXPECT_EQ(got.events[0]->device_id, "d2");
  auto future = Sub(*b, {{}, 99, a->stream_id()});
  EXPECT_TRUE(future->gap());
  auto other_db = Sub(*b, {{}, 1, "another-database"});
  EXPECT_TRUE(other_db->gap());
}

TEST_F(EventLogTest, ARestartedReplicaResumesFromTheLogAndTrimmedRowsAreAGap) {
  {
    auto a = Replica();
    for (int i = 0; i < 5; ++i)
      a->Publish(EventType::kDeviceChanged, Device("d" + std::to_string(i)));
    ASSERT_EQ(*a->Relay(), 5u);
  }
  auto restarted = Replica(/*history=*/3);
  EXPECT_EQ(restarted->last_id(), 5u);
  auto resumed = Sub(*restarted, {{}, 2, restarted->stream_id()});
  EXPECT_FALSE(resumed->gap());
  EXPECT_EQ(Ids(resumed->Take()), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_TRUE(Sub(*restarted, {{}, 1, restarted->stream_id()})->gap());  // 2 left the ring

  EventRelay relay(*restarted, store_->event_log(), EventRelayOptions{{}, /*retain=*/2, {}});
  ASSERT_OK(relay.RunOnce(/*trim=*/true));
  auto rows = *store_->event_log().ListAfter(0, 10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].seq, 4);
  auto late = Replica(/*history=*/8);  // starts after the trim: rows 1-3 are gone
  EXPECT_FALSE(Sub(*late, {{}, 3, late->stream_id()})->gap());
  EXPECT_TRUE(Sub(*late, {{}, 2, late->stream_id()})->gap());
}

TEST_F(EventLogTest, RolledBackScopePublishesNothingToTheLog) {
  auto a = Replica();
  {
    EventScope scope(a.get());
    a->Publish(EventType::kDeviceChanged, Device("lost"));
  }
  {
    EventScope scope(a.get());
    a->Publish(EventType::kDeviceChanged, Device("kept"));
    scope.Commit();
  }
  ASSERT_EQ(*a->Relay(), 1u);
  auto rows = *store_->event_log().ListAfter(0, 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].data.find("kept"), std::string::npos);
}

TEST_F(EventLogTest, OutboxSurvivesALogOutageInOrder) {
  FlakyLog log;
  EventBus bus(clock_, EventBusOptions{8, 16, 4, ""});
  ASSERT_OK(bus.AttachLog(log));
  EXPECT_EQ(bus.stream_id(), "flaky-db");
  auto sub = Sub(bus);
  int wakes = 0;
  bus.SetOutboxWake([&] { ++wakes; });
  log.fail = true;
  bus.Publish(EventType::kDeviceChanged, Device("d1"));
  bus.Publish(EventType::kDeviceChanged, Device("d2"));
  EXPECT_EQ(wakes, 1);  // once per empty -> non-empty outbox, not per event
  EXPECT_STATUS(bus.Relay().status(), ErrorCode::kIo);
  EXPECT_EQ(bus.outbox_size(), 2u);
  bus.Publish(EventType::kDeviceChanged, Device("d3"));
  log.fail = false;
  ASSERT_EQ(*bus.Relay(), 3u);
  auto got = sub->Take();
  ASSERT_EQ(got.events.size(), 3u);
  EXPECT_EQ(got.events[0]->device_id, "d1");
  EXPECT_EQ(got.events[2]->device_id, "d3");
  EXPECT_EQ(bus.outbox_size(), 0u);
}

// The relay used to write one transaction (lock, insert, commit) per event.
TEST_F(EventLogTest, RelayAppendsTheWholeOutboxInOneTransaction) {
  FlakyLog log;
  EventBus bus(clock_, EventBusOptions{8, 16, 4, ""});
  ASSERT_OK(bus.AttachLog(log));
  auto sub = Sub(bus);
  for (const char* d : {"d1", "d2", "d3"}) bus.Publish(EventType::kDeviceChanged, Device(d));
  ASSERT_EQ(*bus.Relay(), 3u);
  EXPECT_EQ(log.transactions, 1);
  auto got = sub->Take();
  ASSERT_EQ(Ids(got), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(got.events[2]->device_id, "d3");
  EXPECT_EQ(*bus.Relay(), 0u);
  EXPECT_EQ(log.transactions, 1);  // an empty outbox writes nothing
}

// A replica whose relay lagged while the others appended and trimmed past it used to skip the
// trimmed events silently: its open streams are reset, and a resume before them is a gap.
TEST_F(EventLogTest, RowsTrimmedBeforeALaggingReplicaRelayedThemResetItsStreams) {
  auto a = Replica(), b = Replica();
  b->Publish(EventType::kDeviceChanged, Device("d1"));
  ASSERT_EQ(*b->Relay(), 1u);
  ASSERT_EQ(*a->Relay(), 1u);
  auto live = Sub(*a);
  for (const char* d : {"d2", "d3", "d4", "d5"}) b->Publish(EventType::kDeviceChanged, Device(d));
  ASSERT_EQ(*b->Relay(), 4u);
  ASSERT_OK(store_->event_log().Trim(4));  // another replica's retention, while a lagged
  ASSERT_EQ(*a->Relay(), 1u);
  EXPECT_TRUE(live->dropped());
  EXPECT_TRUE(live->Take().dropped);
  EXPECT_EQ(a->last_id(), 5u);
  EventBus::SubscribeOptions from_seen;
  from_seen.last_event_id = 1;
  from_seen.stream_id = a->stream_id();
  EXPECT_TRUE(Sub(*a, from_seen)->gap());
  EventBus::SubscribeOptions from_kept = from_seen;
  from_kept.last_event_id = 4;
  auto resumed = Sub(*a, from_kept);
  EXPECT_FALSE(resumed->gap());
  EXPECT_EQ(Ids(resumed->Take()), (std::vector<uint64_t>{5}));
}

// Seqs may skip without any trim (PostgreSQL sequences skip on a rolled-back append): no reset.
TEST_F(EventLogTest, SkippedSeqsAreNoGap) {
  FlakyLog log;
  EventBus bus(clock_, EventBusOptions{8, 16, 4, ""});
  ASSERT_OK(bus.AttachLog(log));
  bus.Publish(EventType::kDeviceChanged, Device("d1"));
  ASSERT_EQ(*bus.Relay(), 1u);
  auto live = Sub(bus);
  log.seq += 10;
  bus.Publish(EventType::kDeviceChanged, Device("d2"));
  ASSERT_EQ(*bus.Relay(), 1u);
  EXPECT_FALSE(live->dropped());
  EXPECT_EQ(Ids(live->Take()), (std::vector<uint64_t>{12}));
}

TEST_F(EventLogTest, RowsOfAnUnknownTypeAreSkipped) {
  auto a = Replica();
  ASSERT_OK(store_->event_log().Append("device.renamed", Device("d0"), 1).status());
  ASSERT_OK(store_->event_log().Append("device.changed", Device("d1"), 1).status());
  auto sub = Sub(*a);
  ASSERT_EQ(*a->Relay(), 1u);
  EXPECT_EQ(Ids(sub->Take()), (std::vector<uint64_t>{2}));
  EXPECT_EQ(a->last_id(), 2u);
}

// The thread: a local publish is relayed at once (no poll interval to wait for).
TEST_F(EventLogTest, RelayThreadDeliversALocalPublishWithoutWaitingForThePoll) {
  auto a = Replica();
  EventRelay relay(*a, store_->event_log(),
                   EventRelayOptions{std::chrono::hours(1), 10'000, std::chrono::hours(1)});
  relay.Start();
  auto sub = Sub(*a);
  a->Publish(EventType::kDeviceChanged, Device("d1"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<uint64_t> ids;
  while (ids.empty() && std::chrono::steady_clock::now() < deadline) {
    ids = Ids(sub->Take());
    std::this_thread::yield();
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{1}));
  a->Publish(EventType::kDeviceChanged, Device("d2"));
  relay.Stop();  // flushes the outbox
  EXPECT_EQ(store_->event_log().ListAfter(0, 10)->size(), 2u);
}

// The heartbeat path: a heartbeat that changes nothing publishes nothing, so it appends nothing
// to the shared log (only "online", "updated" and inventory changes cost an append, made by the
// relay thread, off the request).
TEST(EventLogHeartbeatTest, HeartbeatThatChangesNothingAppendsNothing) {
  testing::TestEnv env;
  EventBus bus(env.clock, EventBusOptions{});
  ASSERT_OK(bus.AttachLog(env.store->event_log()));
  env.heartbeats->SetEvents(&bus);
  ASSERT_OK(env.devices->Register("d9", "nine", {}).status());
  env.EnrollDevice("d9");
  protocol::HeartbeatRequest hb;
  env.Beat("d9", hb);  // comes online
  ASSERT_OK(bus.Relay().status());
  const size_t online = env.store->event_log().ListAfter(0, 100)->size();
  EXPECT_EQ(online, 1u);
  for (int i = 0; i < 10; ++i) {
    env.clock.AdvanceMs(1000);
    env.Beat("d9", hb);
  }
  EXPECT_EQ(bus.outbox_size(), 0u);
  ASSERT_OK(bus.Relay().status());
  EXPECT_EQ(env.store->event_log().ListAfter(0, 100)->size(), online);
  hb.current_model = "m";
  hb.current_model_version = "v1";
  env.Beat("d9", hb);  // reports another model: one event
  EXPECT_EQ(bus.outbox_size(), 1u);
}

}  // namespace
}  // namespace oxide::server
