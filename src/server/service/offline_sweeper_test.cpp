// The offline sweeper on the fake clock: one "offline" per device as it crosses --offline-after,
// never for never-seen devices nor twice for one silence; the thread sweeps when woken.
#include "server/service/offline_sweeper.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

using Json = nlohmann::json;

class OfflineSweeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env.SeedFleet("f", 3);
    ASSERT_OK(env.devices->Register("never", "never seen", {}).status());
    auto s = env.events->Subscribe({});
    ASSERT_OK(s.status());
    sub = std::move(s).value();
  }
  OfflineSweeperOptions Options(size_t batch) {
    OfflineSweeperOptions o;
    o.offline_after_ms = env.options.offline_after_ms;
    o.interval = std::chrono::hours(1);  // the tests sweep by hand or Wake()
    o.batch = batch;
    return o;
  }
  // "device change" of the device.changed events since the last call.
  std::vector<std::string> Changes() {
    std::vector<std::string> out;
    for (const auto& e : sub->Take().events) {
      if (e->type != EventType::kDeviceChanged) continue;
      Json j = Json::parse(e->data);
      out.push_back(j["device_id"].get<std::string>() + " " + j["change"].get<std::string>() + " " +
                    j["status"].get<std::string>());
    }
    return out;
  }
  void Beat(const std::string& device) { env.Beat(device, protocol::HeartbeatRequest{}); }

  testing::TestEnv env;
  std::unique_ptr<EventSubscription> sub;
};

TEST_F(OfflineSweeperTest, PublishesOfflineOncePerSilenceInBoundedBatches) {
  const store::TimeMs after = env.options.offline_after_ms;
  OfflineSweeper sweeper(*env.store, env.clock, *env.events, Options(/*batch=*/1));
  Beat("d0");
  Beat("d1");
  env.clock.AdvanceMs(30'000);
  Beat("d2");
  Changes();  // the "online" ones

  EXPECT_EQ(*sweeper.SweepOnce(), 0u);
  env.clock.AdvanceMs(after - 30'000);  // d0 and d1 exactly at the limit: still online
  EXPECT_EQ(*sweeper.SweepOnce(), 0u);
  env.clock.AdvanceMs(1);
  EXPECT_EQ(*sweeper.SweepOnce(), 2u);  // two batches of one
  EXPECT_EQ(Changes(), (std::vector<std::string>{"d0 offline offline", "d1 offline offline"}));
  EXPECT_EQ(*sweeper.SweepOnce(), 0u);  // still offline: not again

  Beat("d0");  // back online, then silent again
  env.clock.AdvanceMs(30'000);
  EXPECT_EQ(*sweeper.SweepOnce(), 1u);
  env.clock.AdvanceMs(after);
  EXPECT_EQ(*sweeper.SweepOnce(), 1u);
  EXPECT_EQ(Changes(), (std::vector<std::string>{"d0 online online", "d2 offline offline",
                                                 "d0 offline offline"}));
  auto d0 = env.devices->Get("d0");
  ASSERT_OK(d0.status());
  EXPECT_EQ(d0->liveness, Liveness::kOffline);  // the event agrees with the device list
}

TEST_F(OfflineSweeperTest, DevicesAlreadyOfflineAtStartGetNoEvent) {
  Beat("d0");
  env.clock.AdvanceMs(env.options.offline_after_ms + 1);
  OfflineSweeper sweeper(*env.store, env.clock, *env.events, Options(256));
  env.clock.AdvanceMs(env.options.offline_after_ms);
  EXPECT_EQ(*sweeper.SweepOnce(), 0u);
}

TEST_F(OfflineSweeperTest, ThreadSweepsWhenWokenAndStops) {
  OfflineSweeper sweeper(*env.store, env.clock, *env.events, Options(256));
  Beat("d1");
  Changes();
  sweeper.Start();
  env.clock.AdvanceMs(env.options.offline_after_ms + 1);
  sweeper.Wake();
  std::vector<std::string> seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (seen.empty() && std::chrono::steady_clock::now() < deadline) {
    seen = Changes();
    std::this_thread::yield();  // waits on observable state, bounded by the deadline
  }
  sweeper.Stop();  // returns at once though the interval is an hour
  EXPECT_EQ(seen, std::vector<std::string>{"d1 offline offline"});
}

}  // namespace
}  // namespace oxide::server
