#include "server/service/blob_maintenance.hpp"

#include <cstdio>

namespace oxide::server {
namespace {

void LogGc(const Result<GcReport>& r) {
  if (!r.ok()) {
    std::fprintf(stderr, "oxide serve: blob gc: %s\n", r.status().ToString().c_str());
  } else if (r->removed > 0) {
    std::fprintf(stderr, "oxide serve: blob gc removed %llu unreferenced blobs (%llu bytes)\n",
                 static_cast<unsigned long long>(r->removed),
                 static_cast<unsigned long long>(r->bytes_removed));
  }
}

}  // namespace

Status BlobMaintenance::CollectAtStartup() {
  auto r = models_.CollectGarbage(options_.startup_grace);
  LogGc(r);
  return r.status();
}

void BlobMaintenance::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void BlobMaintenance::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BlobMaintenance::Loop() {
  using std::chrono::steady_clock;
  auto next_gc = steady_clock::now() + options_.gc_interval;
  auto next_scrub = steady_clock::now() + options_.scrub_interval;
  const bool scrub = options_.scrub_interval.count() > 0;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto wake = scrub ? std::min(next_gc, next_scrub) : next_gc;
      if (cv_.wait_until(lock, wake, [this] { return stop_; })) return;
    }
    auto now = steady_clock::now();
    if (now >= next_gc) {
      LogGc(models_.CollectGarbage(options_.gc_grace));
      next_gc = now + options_.gc_interval;
    }
    if (scrub && now >= next_scrub) {
      auto corrupt = models_.Scrub([this] {
        std::lock_guard<std::mutex> lock(mu_);
        return stop_;
      });
      if (!corrupt.ok()) {
        std::fprintf(stderr, "oxide serve: blob scrub: %s\n", corrupt.status().ToString().c_str());
      } else if (*corrupt > 0) {
        std::fprintf(stderr, "oxide serve: blob scrub removed %llu corrupt blobs\n",
                     static_cast<unsigned long long>(*corrupt));
      }
      next_scrub = steady_clock::now() + options_.scrub_interval;
    }
  }
}

}  // namespace oxide::server
