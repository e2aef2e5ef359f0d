#include "base/sha256_pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <system_error>
#include <utility>

namespace oxide {

PipelinedSha256::PipelinedSha256(size_t buffer_bytes) : fill_(std::max<size_t>(buffer_bytes, 1)) {}

PipelinedSha256::~PipelinedSha256() { Stop(); }

void PipelinedSha256::Update(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (n != 0) {
    size_t take = std::min(n, fill_.size() - fill_len_);
    std::memcpy(fill_.data() + fill_len_, p, take);
    fill_len_ += take;
    p += take;
    n -= take;
    if (fill_len_ == fill_.size()) HandOff();
  }
}

void PipelinedSha256::HandOff() {
  if (inline_) {
    hash_.Update(fill_.data(), fill_len_);
    fill_len_ = 0;
    return;
  }
  if (!thread_.joinable()) {
    busy_.resize(fill_.size());
    try {
      thread_ = std::thread([this] { Run(); });
    } catch (const std::system_error&) {
      // No thread to be had (a device at its limit): hash on this one, as Sha256 does.
      inline_ = true;
      HandOff();
      return;
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return !busy_full_; });
  std::swap(fill_, busy_);
  busy_len_ = fill_len_;
  busy_full_ = true;
  fill_len_ = 0;
  cv_.notify_all();
}

void PipelinedSha256::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return busy_full_ || done_; });
    if (!busy_full_) return;  // done_ and nothing left
    lock.unlock();
    hash_.Update(busy_.data(), busy_len_);
    lock.lock();
    busy_full_ = false;
    cv_.notify_all();
  }
}

void PipelinedSha256::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Digest PipelinedSha256::Finish() {
  Stop();  // the thread has hashed every buffer handed to it
  hash_.Update(fill_.data(), fill_len_);
  fill_len_ = 0;
  done_ = false;  // reusable, as Sha256 is: the next hand-off starts a new thread
  return hash_.Finish();
}

}  // namespace oxide
