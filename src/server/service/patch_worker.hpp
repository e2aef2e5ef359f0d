#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "server/metrics.hpp"
#include "server/service/blob_store.hpp"
#include "server/service/events.hpp"
#include "store/store.hpp"

namespace oxide::server {

struct BuiltPatch {
  std::string strategy;  // delta::Strategy name
};

// Writes a patch rebuilding `target_path` from `base_path` into `out_path`, having verified the
// round trip. kIo/kResourceExhausted are retried (with backoff) up to kMaxPatchAttempts builds;
// any other error means the pair is never served as a patch.
using PatchBuildFn = std::function<Result<BuiltPatch>(
    const std::string& base_path, const std::string& target_path, const std::string& out_path)>;

// Builds started per job (a crash mid-build counts) before the job is marked failed.
inline constexpr uint32_t kMaxPatchAttempts = 3;
// Wait before retrying a job after an I/O error; doubles with each attempt.
inline constexpr int64_t kPatchRetryBackoffMs = 30'000;

// Prepares patches off the request path: takes pending jobs from the store's queue (persisted,
// so a restart resumes them), builds them with `build`, and publishes the result as a blob.
// One background thread. All references must outlive the worker.
class PatchWorker {
 public:
  PatchWorker(store::Store& store, const BlobStore& blobs, const Clock& clock, PatchBuildFn build)
      : store_(store), blobs_(blobs), clock_(clock), build_(std::move(build)) {}
  ~PatchWorker() { Stop(); }
  PatchWorker(const PatchWorker&) = delete;
  PatchWorker& operator=(const PatchWorker&) = delete;

  // Observes each build's duration (ops, issue #10). Null: none. Set before Start().
  void SetMetrics(Metrics* metrics) { metrics_ = metrics; }

  void Start();
  // Finishes the job in hand, then joins the thread. Idempotent.
  void Stop();
  // Wakes the thread (a job was enqueued).
  void Notify();
  // Processes the oldest pending job in the calling thread; false when there was none.
  Result<bool> RunOnce();
  // events: patch.built / patch.failed (a job that will not be retried) go there once the
  // result is stored (null: nowhere). Set before Start().
  void SetEvents(EventBus* events) { events_ = events; }

 private:
  void Loop();
  void PublishResult(const store::PatchRecord& p, int64_t duration_ms);

  store::Store& store_;
  const BlobStore& blobs_;
  const Clock& clock_;
  PatchBuildFn build_;
  Metrics* metrics_ = nullptr;
  EventBus* events_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::thread thread_;
};

}  // namespace oxide::server
