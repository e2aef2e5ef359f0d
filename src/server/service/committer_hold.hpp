#pragma once

// Test helpers (tests only) for code over GroupCommit: WaitFor polls a condition against a
// deadline (no sleep-based synchronisation), and CommitterHold parks the committer thread
// between batches so that what is submitted meanwhile queues.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "base/status.hpp"
#include "server/service/group_commit.hpp"

namespace oxide::server::testing {

// true once done() held; false after 30 s (the caller's assertion fails instead of hanging).
template <typename Fn>
bool WaitFor(Fn done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

// Holds the committer thread on a batch of one no-op item, before that batch's transaction
// begins (GroupCommit::SetBeforeBatchForTest): the store stays free for the requests' own reads
// (auth, access checks), and whatever is submitted until Release() (or destruction) queues, to
// be run as the next batch. The hold itself counts as one item. `group` must outlive it.
class CommitterHold {
 public:
  explicit CommitterHold(GroupCommit& group) : group_(group) {
    // Shared with the hook: the committer may still be leaving the hook when this is gone.
    auto state = state_;
    group_.SetBeforeBatchForTest([state] {
      if (state->released.load()) return;
      state->holding = true;
      WaitFor([&] { return state->released.load(); });
    });
    group_.Submit([] { return Status::Ok(); }, [](Status) {});
    EXPECT_TRUE(WaitFor([&] { return state->holding.load(); }));
  }
  ~CommitterHold() { Release(); }
  CommitterHold(const CommitterHold&) = delete;
  CommitterHold& operator=(const CommitterHold&) = delete;

  void Release() {
    state_->released = true;
    group_.SetBeforeBatchForTest(nullptr);
  }

 private:
  struct State {
    std::atomic<bool> holding{false};
    std::atomic<bool> released{false};
  };
  GroupCommit& group_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace oxide::server::testing
