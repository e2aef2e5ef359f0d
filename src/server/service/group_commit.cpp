#include "server/service/group_commit.hpp"

#include <algorithm>
#include <utility>

namespace oxide::server {

Status GroupCommit::Run(const std::function<Status()>& fn) {
  Item self;
  self.fn = &fn;
  std::unique_lock<std::mutex> l(mu_);
  queue_.push_back(&self);
  cv_.wait(l, [&] { return self.done || !leading_; });
  if (self.done) return std::move(self.status);
  // Lead: this item, and what queued up (oldest first) while the last batch ran.
  leading_ = true;
  queue_.erase(std::find(queue_.begin(), queue_.end(), &self));
  std::deque<Item*> batch{&self};
  while (!queue_.empty() && batch.size() < max_batch_) {
    batch.push_back(queue_.front());
    queue_.pop_front();
  }
  l.unlock();
  RunBatch(batch);
  l.lock();
  for (Item* it : batch) it->done = true;
  leading_ = false;
  ++batches_;
  items_ += batch.size();
  l.unlock();
  cv_.notify_all();  // the answered, and the next leader
  return std::move(self.status);
}

void GroupCommit::RunBatch(std::deque<Item*>& batch) {
  EventScope held(events_);  // every item's events, published once the batch committed
  Status tx = store_.InTransaction([&]() -> Status {
    for (Item* it : batch) {
      EventScope item(events_);
      it->status = store_.InSavepoint(*it->fn);
      if (it->status.ok()) item.Commit();  // into `held`; dropped with a failed item
    }
    return Status::Ok();
  });
  if (!tx.ok()) {
    for (Item* it : batch) {
      if (it->status.ok()) it->status = tx;
    }
    return;
  }
  held.Commit();
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
