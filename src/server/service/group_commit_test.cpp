// GroupCommit and the heartbeat path over it: concurrent work shares one transaction, a failing
// item undoes only its own writes, and campaign bookkeeping stays right under concurrency.
#include "server/service/group_commit.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "server/service/committer_hold.hpp"
#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server {
namespace {

using protocol::UpdateStage;

using testing::CommitterHold;
using testing::WaitFor;

Status SetAgentVersion(store::Store& s, const std::string& device, const std::string& v) {
  OXIDE_ASSIGN_OR_RETURN(store::DeviceRecord d, s.devices().Get(device));
  d.agent_version = v;
  return s.devices().Update(d);
}

// The first caller leads a batch of one; the nine that queue while it runs form the next batch
// together, in one transaction, and d5's failure (after its write) undoes d5's write only.
TEST(GroupCommitTest, QueuedCallersShareOneTransactionAndAFailureUndoesOnlyItsOwnWrites) {
  testing::TestEnv env;
  env.SeedFleet("f", 10);
  GroupCommit group(*env.store, env.events.get());
  std::atomic<bool> first_running{false};
  std::vector<Status> results(10);
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    results[0] = group.Run([&]() -> Status {
      first_running = true;
      // Hold this batch until the others queued behind it.
      if (!WaitFor([&] { return group.waiting() == 9; })) return Internal("nobody queued");
      return SetAgentVersion(*env.store, "d0", "a0");
    });
  });
  ASSERT_TRUE(WaitFor([&] { return first_running.load(); }));
  for (int i = 1; i < 10; ++i) {
    threads.emplace_back([&, i] {
      const std::string id = "d" + std::to_string(i);
      results[i] = group.Run([&]() -> Status {
        OXIDE_RETURN_IF_ERROR(SetAgentVersion(*env.store, id, "a" + std::to_string(i)));
        if (i == 5) return InvalidArgument("d5 fails after its write");
        return Status::Ok();
      });
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(group.batches(), 2u);
  EXPECT_EQ(group.items(), 10u);
  for (int i = 0; i < 10; ++i) {
    const std::string id = "d" + std::to_string(i);
    auto d = env.store->devices().Get(id);
    ASSERT_OK(d.status());
    if (i == 5) {
      EXPECT_STATUS(results[i], ErrorCode::kInvalidArgument);
      EXPECT_NE(d->agent_version, "a5");
    } else {
      EXPECT_OK(results[i]) << id;
      EXPECT_EQ(d->agent_version, "a" + std::to_string(i));
    }
  }
}

// An item that swallows a failed nested write is not acknowledged and keeps none of its writes
// (as a whole transaction would roll back); the batch and the store go on.
TEST(GroupCommitTest, ASwallowedNestedFailureStillUndoesTheItem) {
  testing::TestEnv env;
  env.SeedFleet("f", 1);
  GroupCommit group(*env.store, nullptr);
  // A nested transaction that fails marks the enclosing one failed; the savepoint catches it.
  Status st = group.Run([&]() -> Status {
    OXIDE_RETURN_IF_ERROR(SetAgentVersion(*env.store, "d0", "x"));
    Status inner = env.store->InTransaction([] { return IoError("disk gone"); });
    (void)inner;  // swallowed by the caller: the savepoint still must not keep "x"
    return Status::Ok();
  });
  EXPECT_FALSE(st.ok());
  EXPECT_NE(env.store->devices().Get("d0")->agent_version, "x");
  // The store is usable afterwards and the next batch commits.
  EXPECT_OK(group.Run([&] { return SetAgentVersion(*env.store, "d0", "y"); }));
  EXPECT_EQ(env.store->devices().Get("d0")->agent_version, "y");
}

// Work that throws runs on the committer thread, where nothing above would catch it: it becomes
// that item's kInternal, its writes are undone, and the committer keeps serving.
TEST(GroupCommitTest, AnExceptionInTheWorkFailsOnlyItsItem) {
  testing::TestEnv env;
  env.SeedFleet("f", 1);
  GroupCommit group(*env.store, nullptr);
  Status st = group.Run([&]() -> Status {
    OXIDE_RETURN_IF_ERROR(SetAgentVersion(*env.store, "d0", "x"));
    throw std::runtime_error("out of memory");
  });
  EXPECT_EQ(st.code(), ErrorCode::kInternal);
  EXPECT_NE(env.store->devices().Get("d0")->agent_version, "x");
  EXPECT_OK(group.Run([&] { return SetAgentVersion(*env.store, "d0", "y"); }));
  EXPECT_EQ(env.store->devices().Get("d0")->agent_version, "y");
}

// Concurrent heartbeats of every device of a campaign (and one unknown device among them): all
// stored, the unknown one refused alone, and the campaign completes exactly once.
TEST(GroupCommitTest, ConcurrentHeartbeatsAllStoredAndCampaignProgressIsRight) {
  testing::TestEnv env;
  const int n = 20;
  env.SeedFleet("f", n);
  env.Upload("m", "v1", "model version one bytes");
  env.Upload("m", "v2", "model version two bytes");
  auto c =
      env.campaigns->Create({"m", "v2", "f", store::CampaignStrategy::kAllAtOnce, {}, {}, {}, {}});
  ASSERT_OK(c.status());
  std::vector<std::thread> threads;
  std::vector<Status> results(n + 1);
  for (int i = 0; i <= n; ++i) {
    threads.emplace_back([&, i] {
      protocol::HeartbeatRequest r;
      r.agent_version = "agent-" + std::to_string(i);
      protocol::UpdateProgress u;
      u.model_id = "m";
      u.version = "v2";
      u.stage = UpdateStage::kCompleted;
      r.update = u;
      const std::string id = i == n ? "unknown-device" : "d" + std::to_string(i);
      results[i] = env.heartbeats->Handle(id, r).status();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_STATUS(results[n], ErrorCode::kNotFound);
  for (int i = 0; i < n; ++i) {
    EXPECT_OK(results[i]) << i;
    EXPECT_EQ(env.store->devices().Get("d" + std::to_string(i))->agent_version,
              "agent-" + std::to_string(i));
  }
  auto after = env.campaigns->Get(c->campaign.id);
  ASSERT_OK(after.status());
  for (const auto& d : after->devices) {
    EXPECT_EQ(d.state, store::DeviceRolloutState::kCompleted) << d.device_id;
  }
  EXPECT_EQ(after->campaign.state, store::CampaignState::kCompleted);
  EXPECT_EQ(env.heartbeats->group_commit().items(), static_cast<uint64_t>(n + 1));
}

// Asynchronous submissions: nothing is answered before the batch holding it committed, the
// three queued heartbeats share one transaction, and the unknown device among them fails alone.
TEST(GroupCommitTest, AsyncHeartbeatsAreAnsweredAfterTheirBatchAndAFailureStaysAlone) {
  testing::TestEnv env;
  env.SeedFleet("f", 2);
  CommitterHold hold(env.heartbeats->group_commit());
  std::atomic<int> answered{0};
  std::vector<Result<protocol::HeartbeatResponse>> results(3, Internal("unanswered"));
  const std::vector<std::string> ids = {"d0", "no-such-device", "d1"};
  for (int i = 0; i < 3; ++i) {
    protocol::HeartbeatRequest r;
    r.agent_version = "async-" + std::to_string(i);
    env.heartbeats->HandleAsync(ids[i], r, [&, i](Result<protocol::HeartbeatResponse> got) {
      results[i] = std::move(got);
      ++answered;
    });
  }
  EXPECT_EQ(env.heartbeats->group_commit().waiting(), 3u);
  EXPECT_EQ(answered.load(), 0);  // queued behind the held batch: not stored, not answered
  const uint64_t batches_before = env.heartbeats->group_commit().batches();
  hold.Release();
  ASSERT_TRUE(WaitFor([&] { return answered.load() == 3; }));
  EXPECT_EQ(env.heartbeats->group_commit().batches(), batches_before + 2);  // held + the three
  EXPECT_OK(results[0].status());
  EXPECT_STATUS(results[1].status(), ErrorCode::kNotFound);
  EXPECT_OK(results[2].status());
  EXPECT_EQ(env.store->devices().Get("d0")->agent_version, "async-0");
  EXPECT_EQ(env.store->devices().Get("d1")->agent_version, "async-2");
}

// A request refused before any store work is answered at once, on the caller's thread.
TEST(GroupCommitTest, InvalidHeartbeatIsAnsweredBeforeHandleAsyncReturns) {
  testing::TestEnv env;
  bool answered = false;
  env.heartbeats->HandleAsync("bad id!", protocol::HeartbeatRequest{},
                              [&](Result<protocol::HeartbeatResponse> r) {
                                EXPECT_STATUS(r.status(), ErrorCode::kInvalidArgument);
                                answered = true;
                              });
  EXPECT_TRUE(answered);
  EXPECT_EQ(env.heartbeats->group_commit().items(), 0u);
}

// Stop: the running batch commits and is answered; what still queued is answered kUnavailable
// without running, and so is anything submitted afterwards. Each exactly once.
TEST(GroupCommitTest, StopAnswersQueuedItemsUnavailableAndTheRunningBatchCommits) {
  testing::TestEnv env;
  env.SeedFleet("f", 2);
  GroupCommit group(*env.store, nullptr);
  std::atomic<bool> running{false}, released{false};
  std::atomic<int> calls{0};
  Status first = Internal("unanswered");
  group.Submit(
      [&]() -> Status {
        running = true;
        if (!WaitFor([&] { return released.load(); })) return Internal("never released");
        return SetAgentVersion(*env.store, "d0", "committed");
      },
      [&](Status st) {
        first = st;
        ++calls;
      });
  ASSERT_TRUE(WaitFor([&] { return running.load(); }));
  std::vector<Status> queued(2, Internal("unanswered"));
  for (int i = 0; i < 2; ++i) {
    group.Submit([&] { return SetAgentVersion(*env.store, "d1", "must not run"); },
                 [&, i](Status st) {
                   queued[i] = st;
                   ++calls;
                 });
  }
  std::thread stopper([&] { group.Stop(); });
  ASSERT_TRUE(WaitFor([&] { return group.waiting() == 0; }));  // Stop took the queue
  released = true;
  stopper.join();
  EXPECT_OK(first);
  EXPECT_STATUS(queued[0], ErrorCode::kUnavailable);
  EXPECT_STATUS(queued[1], ErrorCode::kUnavailable);
  Status late = Internal("unanswered");
  group.Submit([] { return Status::Ok(); }, [&](Status st) { late = st; });
  EXPECT_STATUS(late, ErrorCode::kUnavailable);
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(env.store->devices().Get("d0")->agent_version, "committed");
  EXPECT_NE(env.store->devices().Get("d1")->agent_version, "must not run");
}

// Overload: beyond max_queued waiting items, a submission is refused at once (503 upstream)
// instead of growing the queue and the latency without bound.
TEST(GroupCommitTest, FullQueueRefusesAtOnce) {
  testing::TestEnv env;
  GroupCommit group(*env.store, nullptr, GroupCommitOptions{256, 2});
  CommitterHold hold(group);
  std::atomic<int> ok{0};
  for (int i = 0; i < 2; ++i) {
    group.Submit([] { return Status::Ok(); }, [&](Status st) { ok += st.ok() ? 1 : 0; });
  }
  Status refused = Status::Ok();
  group.Submit([] { return Status::Ok(); }, [&](Status st) { refused = st; });
  EXPECT_STATUS(refused, ErrorCode::kUnavailable);
  hold.Release();
  ASSERT_TRUE(WaitFor([&] { return ok.load() == 2; }));
}

}  // namespace
}  // namespace oxide::server
