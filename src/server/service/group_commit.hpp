#pragma once

// Group commit: the store work of concurrent requests runs in one transaction. A caller hands
// its work to Submit() (asynchronous: an I/O thread hands a heartbeat over and goes back to its
// event loop) or Run() (waits), and is answered once the transaction holding its writes
// committed, so an acknowledged write is never lost when the process dies (kill -9) right after
// the answer. One committer thread takes every queued item (up to max_batch), runs each as a
// savepoint of one transaction (a failing item undoes only its own writes), commits, and then
// answers them all; what queued meanwhile forms the next batch. So batches grow with the load
// and one BEGIN/COMMIT (on PostgreSQL one round trip to commit) serves many requests.
// Backend-neutral: only Store::InTransaction and Store::InSavepoint.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "base/status.hpp"
#include "server/service/events.hpp"
#include "store/store.hpp"

namespace oxide::server {

struct GroupCommitOptions {
  size_t max_batch = 256;  // items per transaction
  // Items waiting for the committer; beyond, Submit answers kUnavailable at once (503: the
  // agent retries at its next poll) instead of letting the latency grow without bound.
  size_t max_queued = 8192;
};

class GroupCommit {
 public:
  using Work = std::function<Status()>;
  // The item's outcome: its own error (its writes undone, the batch went on), the commit's
  // error (nothing of the batch was stored), kUnavailable (queue full or stopped) or OK.
  using Done = std::function<void(Status)>;

  // `events` (may be null): what an item publishes is held until its batch committed, and
  // dropped with a failed item or a failed commit.
  GroupCommit(store::Store& store, EventBus* events, GroupCommitOptions options = {})
      : store_(store), events_(events), options_(options) {}
  ~GroupCommit();  // Stop()
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  void SetEvents(EventBus* events) { events_ = events; }

  // Test hook (null: none): called on the committer thread with each batch taken from the
  // queue, before its transaction begins, so a test can hold the committer without holding
  // the store (requests still read it meanwhile) while later submissions queue. May be
  // replaced at any time; a batch uses the hook set when it was taken.
  void SetBeforeBatchForTest(std::function<void()> hook);

  // Queues fn and returns at once. fn runs on the committer thread inside a savepoint of a
  // shared transaction; done(status) is called exactly once on the committer thread after that
  // transaction ended (or on this thread, before Submit returns, when refused). fn and done must
  // not block on other items. The committer thread starts with the first Submit.
  void Submit(Work fn, Done done);

  // Submit and wait for the outcome (must not be called from fn or done).
  Status Run(Work fn);

  // The batch being run finishes (committed and answered); items still queued, and any
  // submitted later, are answered kUnavailable without running. Joins the committer thread.
  void Stop();

  // Transactions committed so far and items they held, and items waiting for a batch
  // (tests, metrics).
  uint64_t batches() const;
  uint64_t items() const;
  size_t waiting() const;

 private:
  struct Item {
    Work fn;
    Done done;
    Status status;
  };
  void Loop();
  void RunBatch(std::deque<Item>& batch);
  static void Answer(Item& it, Status st);  // it.done(st); an exception never leaves the thread

  store::Store& store_;
  EventBus* events_;
  const GroupCommitOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopped_ = false;
  std::thread committer_;               // started by the first Submit
  std::function<void()> before_batch_;  // test hook, under mu_
  uint64_t batches_ = 0;
  uint64_t items_ = 0;
};

}  // namespace oxide::server
