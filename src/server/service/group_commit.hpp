#pragma once

// Group commit: the store work of concurrent requests runs in one transaction. A caller hands
// its work to Run() and is answered once the transaction holding its writes committed, so an
// acknowledged write is never lost when the process dies (kill -9) right after the answer.
// The first caller to find no commit in progress leads: it takes every queued work item (up
// to max_batch), runs each as a savepoint of one transaction (a failing item undoes only its own
// writes) and commits; callers that queued meanwhile wait for it, and one of them leads the next
// batch. One BEGIN/COMMIT (and on PostgreSQL one round trip to commit) per batch instead of per
// request. Backend-neutral: only Store::InTransaction and Store::InSavepoint.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "base/status.hpp"
#include "server/service/events.hpp"
#include "store/store.hpp"

namespace oxide::server {

class GroupCommit {
 public:
  // `events` (may be null): what an item publishes is held until its batch committed, and
  // dropped with a failed item or a failed commit.
  GroupCommit(store::Store& store, EventBus* events, size_t max_batch = 256)
      : store_(store), events_(events), max_batch_(max_batch) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  void SetEvents(EventBus* events) { events_ = events; }

  // Runs fn (on this thread or on the leader's) inside a savepoint of a shared transaction and
  // returns once that transaction ended: fn's error (its writes undone, the batch goes on), the
  // commit's error (nothing of the batch was stored), or OK (committed). fn must not block on
  // other callers of Run.
  Status Run(const std::function<Status()>& fn);

  // Transactions committed so far and items they held, and callers waiting for a batch
  // (tests, metrics).
  uint64_t batches() const;
  uint64_t items() const;
  size_t waiting() const;

 private:
  struct Item {
    const std::function<Status()>* fn = nullptr;
    Status status;
    bool done = false;
  };
  void RunBatch(std::deque<Item*>& batch);

  store::Store& store_;
  EventBus* events_;
  const size_t max_batch_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item*> queue_;
  bool leading_ = false;  // a batch is being run
  uint64_t batches_ = 0;
  uint64_t items_ = 0;
};

}  // namespace oxide::server
