#include "server/service/group_commit.hpp"

#include <pthread.h>

#include <exception>
#include <future>
#include <string>
#include <system_error>
#include <utility>

namespace oxide::server {

GroupCommit::~GroupCommit() { Stop(); }

void GroupCommit::Submit(Work fn, Done done) {
  std::unique_lock<std::mutex> l(mu_);
  if (stopped_) {
    l.unlock();
    return done(Unavailable("the server is shutting down"));
  }
  if (queue_.size() >= options_.max_queued) {
    l.unlock();
    return done(Unavailable("too many heartbeats waiting to be stored; retry later"));
  }
  if (!committer_.joinable()) {
    // Started before the item is queued: if the thread cannot be created, nothing is left
    // queued without a committer (shutdown would wait for its reply for ever).
    try {
      committer_ = std::thread([this] { Loop(); });
    } catch (const std::system_error& e) {
      l.unlock();
      return done(Unavailable(std::string("cannot start the heartbeat committer: ") + e.what()));
    }
  }
  queue_.push_back(Item{std::move(fn), std::move(done), Status::Ok()});
  l.unlock();
  cv_.notify_one();
}

Status GroupCommit::Run(Work fn) {
  std::promise<Status> outcome;
  std::future<Status> result = outcome.get_future();
  Submit(std::move(fn), [&outcome](Status st) { outcome.set_value(std::move(st)); });
  return result.get();
}

void GroupCommit::Stop() {
  std::deque<Item> refused;
  std::thread committer;
  {
    std::lock_guard<std::mutex> l(mu_);
    stopped_ = true;
    refused.swap(queue_);
    committer = std::move(committer_);
  }
  cv_.notify_all();
  if (committer.joinable()) committer.join();
  for (Item& it : refused) Answer(it, Unavailable("the server is shutting down"));
}

void GroupCommit::Answer(Item& it, Status st) {
  // The committer thread has no handler above it: an exception here would end the process.
  try {
    it.done(std::move(st));
  } catch (const std::exception&) {
    // This reply is lost like a dropped connection; the state it reports is committed, and
    // the device's next heartbeat learns it.
  }
}

void GroupCommit::Loop() {
  // Named for top, perf and bench/server_bench.py's per-thread CPU figures.
  pthread_setname_np(pthread_self(), "oxide-commit");
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stopped_ || !queue_.empty(); });
    if (stopped_) return;  // Stop() answers what is still queued
    std::deque<Item> batch;
    while (!queue_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    std::function<void()> before_batch = before_batch_;
    l.unlock();
    if (before_batch) before_batch();
    RunBatch(batch);
    l.lock();
    ++batches_;
    items_ += batch.size();
    l.unlock();
    // Answered after the commit and outside the lock: a reply may post to an I/O thread or,
    // for Run(), wake the waiting caller.
    for (Item& it : batch) Answer(it, std::move(it.status));
    l.lock();
  }
}

void GroupCommit::RunBatch(std::deque<Item>& batch) {
  EventScope held(events_);  // every item's events, published once the batch committed
  Status tx = store_.InTransaction([&]() -> Status {
    for (Item& it : batch) {
      EventScope item(events_);
      // An exception inside the work becomes this item's error, so its savepoint is rolled back
      // and the rest of the batch commits (on the request thread the router made it a 500).
      it.status = store_.InSavepoint([&it]() -> Status {
        try {
          return it.fn();
        } catch (const std::exception& e) {
          return Internal(std::string("heartbeat failed: ") + e.what());
        }
      });
      if (it.status.ok()) item.Commit();  // into `held`; dropped with a failed item
    }
    return Status::Ok();
  });
  if (!tx.ok()) {
    for (Item& it : batch) {
      if (it.status.ok()) it.status = tx;
    }
    return;
  }
  held.Commit();
}

void GroupCommit::SetBeforeBatchForTest(std::function<void()> hook) {
  std::lock_guard<std::mutex> l(mu_);
  before_batch_ = std::move(hook);
}

uint64_t GroupCommit::batches() const {
  std::lock_guard<std::mutex> l(mu_);
  return batches_;
}

uint64_t GroupCommit::items() const {
  std::lock_guard<std::mutex> l(mu_);
  return items_;
}

size_t GroupCommit::waiting() const {
  std::lock_guard<std::mutex> l(mu_);
  return queue_.size();
}

}  // namespace oxide::server
