#pragma once

#include <chrono>
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
#include "server/service/instance_id.hpp"
#include "store/store.hpp"

namespace oxide::server {

struct BuiltPatch {
  std::string strategy;  // delta::Strategy name
};

// Writes a patch rebuilding `target_path` from `base_path` ("" for the empty base,
// protocol::kEmptySha256) into `out_path`, having verified the round trip. kIo/kResourceExhausted
// are retried (with backoff) up to kMaxPatchAttempts builds; any other error means the pair is
// never served as a patch.
using PatchBuildFn = std::function<Result<BuiltPatch>(
    const std::string& base_path, const std::string& target_path, const std::string& out_path)>;

// Builds started per job (a crash mid-build counts) before the job is marked failed.
inline constexpr uint32_t kMaxPatchAttempts = 3;
// Wait before retrying a job after an I/O error; doubles with each attempt.
inline constexpr int64_t kPatchRetryBackoffMs = 30'000;

// Who builds, when several replicas share one queue (issue #12). A job is claimed with a lease
// renewed every `renew_every` while it builds and released when it ends; a replica that dies
// mid-build stops renewing, and another one claims the job once the lease has run out.
struct PatchLeaseOptions {
  std::string owner = "local";  // oxide serve --instance-id (default DefaultInstanceId())
  int64_t lease_ms = 60'000;
  std::chrono::milliseconds renew_every{20'000};
};

// Prepares patches off the request path: claims pending jobs from the store's queue (persisted,
// so a restart resumes them), builds them with `build`, and publishes the result as a blob.
// One background thread (plus a lease renewer while a build runs). All references must outlive
// the worker.
class PatchWorker {
 public:
  PatchWorker(store::Store& store, const BlobStore& blobs, const Clock& clock, PatchBuildFn build)
      : store_(store), blobs_(blobs), clock_(clock), build_(std::move(build)) {}
  ~PatchWorker() { Stop(); }
  PatchWorker(const PatchWorker&) = delete;
  PatchWorker& operator=(const PatchWorker&) = delete;

  // Observes each build's duration (ops, issue #10). Null: none. Set before Start().
  void SetMetrics(Metrics* metrics) { metrics_ = metrics; }
  // Set before Start().
  void SetLease(PatchLeaseOptions lease) { lease_ = std::move(lease); }

  void Start();
  // Finishes the job in hand, then joins the thread. Idempotent.
  void Stop();
  // Wakes the thread (a job was enqueued).
  void Notify();
  // A restarted server must not wait a whole lease for the jobs its previous run held: releases
  // the leases of pending jobs held in exactly this worker's own name (a restart with the same
  // --instance-id; it holds none yet) or by a DefaultInstanceId() of this host and pid namespace
  // whose process has exited. Any other owner (another namespace, or an id without one) keeps
  // its lease until it runs out. Returns how many. Start() calls it; errors are the store's.
  Result<size_t> ReleaseOrphanedLeases();
  // Claims and processes the next pending job in the calling thread; false when there was none
  // (or every pending job is leased to another replica).
  Result<bool> RunOnce();
  // events: patch.built / patch.failed (a job that will not be retried) go there once the
  // result is stored (null: nowhere). Set before Start().
  void SetEvents(EventBus* events) { events_ = events; }

 private:
  void Loop();
  void PublishResult(const store::PatchRecord& p, int64_t duration_ms);
  // Builds the claimed job `p`; false when its lease was lost meanwhile (the result is dropped:
  // the replica that holds the job now writes its own).
  Result<bool> Build(store::PatchRecord& p);
  // Stores `p` if this worker still holds its lease; false (nothing written) when it does not.
  Result<bool> WriteLeased(const store::PatchRecord& p);

  store::Store& store_;
  const BlobStore& blobs_;
  const Clock& clock_;
  PatchBuildFn build_;
  Metrics* metrics_ = nullptr;
  EventBus* events_ = nullptr;
  PatchLeaseOptions lease_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool wake_ = false;
  std::thread thread_;
};

}  // namespace oxide::server
