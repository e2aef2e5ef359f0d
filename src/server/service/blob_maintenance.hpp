#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "server/service/model_service.hpp"

namespace oxide::server {

struct BlobMaintenanceOptions {
  // Unreferenced blobs younger than this are kept: an upload or patch build may have published
  // its blob and not yet committed the record that references it.
  std::chrono::seconds gc_grace{std::chrono::hours(1)};
  // The grace of the collection at startup. Not 0: another replica sharing the blob directory
  // may be between publishing a blob and committing its record (issue #12).
  std::chrono::seconds startup_grace{std::chrono::minutes(10)};
  std::chrono::seconds gc_interval{std::chrono::hours(1)};
  // Every blob is re-hashed this often (0 = never); corrupt ones are removed and their patch
  // rebuilt or their version marked for re-upload (ModelService::RepairCorruptBlob).
  std::chrono::seconds scrub_interval{std::chrono::hours(24)};
};

// Background garbage collection and scrubbing of the blob store, on one thread of its own (it
// reads every blob: never on the request path). `models` must outlive it.
class BlobMaintenance {
 public:
  BlobMaintenance(ModelService& models, BlobMaintenanceOptions options)
      : models_(models), options_(options) {}
  ~BlobMaintenance() { Stop(); }
  BlobMaintenance(const BlobMaintenance&) = delete;
  BlobMaintenance& operator=(const BlobMaintenance&) = delete;

  // Before the server accepts requests nothing of its own is in flight, so the leftovers of a
  // crash between publish and record can go; only blobs younger than startup_grace stay (they
  // may be another replica's, about to be recorded).
  Status CollectAtStartup();
  // Starts the thread: GC every gc_interval, a scrub every scrub_interval (the first one after
  // one interval, so a restart does not re-read everything).
  void Start();
  // Finishes the blob in hand (a scrub stops between blobs, a GC pass runs to its end), then
  // joins. Idempotent.
  void Stop();

 private:
  void Loop();

  ModelService& models_;
  BlobMaintenanceOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace oxide::server
