#include "server/service/events.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "testing/fake_clock.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

class EventBusTest : public ::testing::Test {
 protected:
  std::unique_ptr<EventBus> MakeBus(size_t history = 8, size_t queue = 4, size_t max_subs = 4) {
    return std::make_unique<EventBus>(clock_, EventBusOptions{history, queue, max_subs, "s1"});
  }
  static std::string Data(const std::string& campaign, const std::string& device) {
    return R"({"campaign_id":")" + campaign + R"(","device_id":")" + device + R"("})";
  }
  std::unique_ptr<EventSubscription> Sub(EventBus& bus, EventBus::SubscribeOptions o = {}) {
    auto s = bus.Subscribe(std::move(o));
    EXPECT_OK(s.status());
    return s.ok() ? std::move(s).value() : nullptr;
  }
  static std::vector<uint64_t> Ids(const EventSubscription::Batch& b) {
    std::vector<uint64_t> ids;
    for (const auto& e : b.events) ids.push_back(e->id);
    return ids;
  }
  oxide::testing::FakeClock clock_;
};

TEST_F(EventBusTest, IdsIncreaseAndArriveInOrderWithTimestamp) {
  auto bus = MakeBus();
  auto sub = Sub(*bus);
  EXPECT_EQ(bus->Publish(EventType::kCampaignState, Data("c1", "")), 1u);
  EXPECT_EQ(bus->Publish(EventType::kDeviceChanged, "{\n\"device_id\": \"d1\"\n}"), 2u);
  auto b = sub->Take();
  EXPECT_EQ(Ids(b), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(b.events[0]->campaign_id, "c1");
  EXPECT_EQ(b.events[1]->device_id, "d1");
  EXPECT_EQ(b.events[1]->data.find('\n'), std::string::npos);  // one SSE data line
  EXPECT_NE(b.events[0]->data.find(R"("ts":"2023-11-14T22:13:20.000Z")"), std::string::npos)
      << b.events[0]->data;
  EXPECT_EQ(bus->last_id(), 2u);
}

TEST_F(EventBusTest, DataThatIsNotAnObjectIsDropped) {
  auto bus = MakeBus();
  EXPECT_EQ(bus->Publish(EventType::kPatchBuilt, "[1]"), 0u);
  EXPECT_EQ(bus->Publish(EventType::kPatchBuilt, "{oops"), 0u);
  EXPECT_EQ(bus->last_id(), 0u);
}

TEST_F(EventBusTest, ResumeReplaysExactlyTheEventsAfterTheId) {
  auto bus = MakeBus();
  for (int i = 0; i < 5; ++i) bus->Publish(EventType::kCampaignState, Data("c", ""));
  auto sub = Sub(*bus, {{}, 3, "s1"});
  EXPECT_FALSE(sub->gap());
  EXPECT_EQ(sub->start_id(), 5u);
  bus->Publish(EventType::kCampaignState, Data("c", ""));
  EXPECT_EQ(Ids(sub->Take()), (std::vector<uint64_t>{4, 5, 6}));
  auto caught_up = Sub(*bus, {{}, 6, ""});  // no stream_id given: the id is trusted
  EXPECT_FALSE(caught_up->gap());
  EXPECT_TRUE(caught_up->Take().events.empty());
}

TEST_F(EventBusTest, ResumeReplaysAcrossTheRingWrap) {
  auto bus = MakeBus(/*history=*/4, /*queue=*/2);
  for (int i = 0; i < 10; ++i) bus->Publish(EventType::kCampaignState, Data("c", ""));
  auto sub = Sub(*bus, {{}, 6, "s1"});  // 7..10 retained: more than the queue limit
  ASSERT_FALSE(sub->gap());
  bus->Publish(EventType::kCampaignState, Data("c", ""));  // replay does not count as overflow
  auto b = sub->Take();
  EXPECT_FALSE(b.dropped);
  EXPECT_EQ(Ids(b), (std::vector<uint64_t>{7, 8, 9, 10, 11}));
}

TEST_F(EventBusTest, ResumeFromAnEvictedIdIsAGap) {
  auto bus = MakeBus(/*history=*/4);
  for (int i = 0; i < 10; ++i) bus->Publish(EventType::kCampaignState, Data("c", ""));
  auto sub = Sub(*bus, {{}, 5, "s1"});  // 6 was evicted (7..10 kept)
  EXPECT_TRUE(sub->gap());
  EXPECT_TRUE(sub->Take().events.empty());
  bus->Publish(EventType::kCampaignState, Data("c", ""));
  EXPECT_EQ(Ids(sub->Take()), (std::vector<uint64_t>{11}));  // then live
}

TEST_F(EventBusTest, ResumeFromAnotherStreamOrAFutureIdIsAGap) {
  auto bus = MakeBus();
  bus->Publish(EventType::kCampaignState, Data("c", ""));
  EXPECT_TRUE(Sub(*bus, {{}, 0, "other-process"})->gap());
  EXPECT_TRUE(Sub(*bus, {{}, 7, "s1"})->gap());
  EXPECT_FALSE(Sub(*bus, {{}, 0, "s1"})->gap());
}

TEST_F(EventBusTest, FiltersByTypePrefixCampaignAndDevice) {
  auto bus = MakeBus(8, 16);
  auto campaigns = Sub(*bus, {{{"campaign"}, "", ""}, std::nullopt, ""});
  auto one_campaign = Sub(*bus, {{{}, "c2", ""}, std::nullopt, ""});
  auto device_patch = Sub(*bus, {{{"patch", "device.changed"}, "", ""}, std::nullopt, ""});
  auto both = Sub(*bus, {{{}, "c1", "d1"}, std::nullopt, ""});
  bus->Publish(EventType::kCampaignState, Data("c1", ""));     // 1
  bus->Publish(EventType::kCampaignDevice, Data("c2", "d1"));  // 2
  bus->Publish(EventType::kDeviceChanged, Data("", "d1"));     // 3
  bus->Publish(EventType::kPatchFailed, "{}");                 // 4
  bus->Publish(EventType::kCampaignDevice, Data("c1", "d1"));  // 5
  EXPECT_EQ(Ids(campaigns->Take()), (std::vector<uint64_t>{1, 2, 5}));
  EXPECT_EQ(Ids(one_campaign->Take()), (std::vector<uint64_t>{2}));
  EXPECT_EQ(Ids(device_patch->Take()), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(Ids(both->Take()), (std::vector<uint64_t>{5}));
}

TEST_F(EventBusTest, OverflowDropsOnlyThatSubscriberAndWakesIt) {
  auto bus = MakeBus(8, /*queue=*/3);
  auto slow = Sub(*bus);
  auto fast = Sub(*bus);
  int slow_wakes = 0;
  slow->SetWake([&] { ++slow_wakes; });
  for (int i = 0; i < 3; ++i) bus->Publish(EventType::kCampaignState, Data("c", ""));
  EXPECT_EQ(slow_wakes, 1);  // only when the queue stopped being empty
  EXPECT_EQ(Ids(fast->Take()).size(), 3u);
  bus->Publish(EventType::kCampaignState, Data("c", ""));  // the 4th unread: over the limit
  EXPECT_EQ(slow_wakes, 2);
  EXPECT_EQ(bus->subscriber_count(), 1u);
  auto b = slow->Take();
  EXPECT_TRUE(b.dropped);
  EXPECT_TRUE(b.events.empty());
  bus->Publish(EventType::kCampaignState, Data("c", ""));
  EXPECT_TRUE(slow->Take().events.empty());
  EXPECT_EQ(Ids(fast->Take()), (std::vector<uint64_t>{4, 5}));
}

TEST_F(EventBusTest, RefusesSubscribersBeyondTheLimitAndCountsThem) {
  auto bus = MakeBus(8, 4, /*max_subs=*/2);
  auto a = Sub(*bus);
  auto b = Sub(*bus);
  EXPECT_EQ(bus->subscriber_count(), 2u);
  EXPECT_STATUS(bus->Subscribe({}).status(), ErrorCode::kUnavailable);
  a.reset();
  EXPECT_EQ(bus->subscriber_count(), 1u);
  EXPECT_OK(bus->Subscribe({}).status());
}

TEST_F(EventBusTest, ConcurrentPublishersKeepEachSubscriberInIdOrder) {
  constexpr int kThreads = 4;
  constexpr int kEach = 2000;
  auto bus = MakeBus(64, kThreads * kEach, 4);
  auto sub = Sub(*bus);
  std::vector<uint64_t> seen;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    while (true) {
      const bool last = done.load();
      for (const auto& e : sub->Take().events) seen.push_back(e->id);
      if (last) return;
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> publishers;
  for (int t = 0; t < kThreads; ++t) {
    publishers.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) bus->Publish(EventType::kCampaignDevice, Data("c", "d"));
    });
  }
  for (auto& t : publishers) t.join();
  done = true;
  reader.join();
  ASSERT_EQ(seen.size(), size_t{kThreads * kEach});
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i + 1);
}

TEST_F(EventBusTest, ScopeHoldsEventsUntilCommitAndDropsThemOtherwise) {
  auto bus = MakeBus();
  auto sub = Sub(*bus);
  {
    EventScope rolled_back(bus.get());
    EXPECT_EQ(bus->Publish(EventType::kCampaignState, Data("lost", "")), 0u);
  }
  int built = 0;
  {
    EventScope scope(bus.get());
    bus->Publish(EventType::kCampaignState, Data("c1", ""));
    bus->PublishAfterCommit(EventType::kCampaignState, [&] {
      ++built;
      return Data("c2", "");
    });
    {
      EventScope inner(bus.get());  // a nested transaction joins the outer one
      bus->Publish(EventType::kCampaignState, Data("c3", ""));
      inner.Commit();
    }
    EXPECT_TRUE(sub->Take().events.empty());
    EXPECT_EQ(built, 0);
    scope.Commit();
  }
  auto b = sub->Take();
  ASSERT_EQ(b.events.size(), 3u);
  EXPECT_EQ(b.events[0]->campaign_id, "c1");
  EXPECT_EQ(b.events[1]->campaign_id, "c2");
  EXPECT_EQ(b.events[2]->campaign_id, "c3");
  EXPECT_EQ(Ids(b), (std::vector<uint64_t>{1, 2, 3}));
}

TEST_F(EventBusTest, RandomStreamIdsDiffer) {
  EventBus a(clock_, EventBusOptions{});
  EventBus b(clock_, EventBusOptions{});
  EXPECT_EQ(a.stream_id().size(), 32u);
  EXPECT_NE(a.stream_id(), b.stream_id());
}

}  // namespace
}  // namespace oxide::server
