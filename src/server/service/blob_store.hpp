#pragma once

// Content-addressed blob directory: <root>/<sha256 hex>. Writers stream into <root>/.tmp/,
// hash on the way, sync, then rename into place and sync the directory, so a blob is either
// absent or complete, never half-visible. Every mutation goes through a FileSystem (tests use
// the power-loss file system); reads (hashing, serving) go straight to the disk.
//
// A name is a promise about the bytes: publishing over an existing name replaces the stored
// blob atomically with the new, verified copy (a flipped byte is repaired by re-uploading the
// right bytes). Stale temp files (a crash mid-upload) are removed
// by Open(); blobs nothing refers to are removed by CollectGarbage().

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "base/clock.hpp"
#include "base/file_system.hpp"
#include "base/result.hpp"
#include "base/sha256.hpp"

namespace oxide::server {

struct BlobInfo {
  std::string sha256;  // lower-case hex
  uint64_t size = 0;
};

class BlobStore;

// One blob being written. Not thread-safe. The temp file is removed unless Commit() succeeded.
class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  Status Append(const void* data, size_t n);
  Status Append(std::string_view s) { return Append(s.data(), s.size()); }
  uint64_t size() const { return size_; }
  // Ends writing: syncs the temp file and returns its digest; nothing is visible yet, and the
  // bytes can be read at temp_path() (validation before publishing). Idempotent.
  Result<BlobInfo> Seal();
  const std::string& temp_path() const { return tmp_; }
  // Seals if needed, then makes the blob durable and visible under its digest. The temp file
  // replaces any blob of that name (identical bytes, or a corrupt one repaired), stamped with
  // its publication time in the same atomic rename (GC of other replicas reads that time).
  // kIo / kResourceExhausted on failure (nothing new becomes visible).
  Result<BlobInfo> Commit();

 private:
  friend class BlobStore;
  BlobWriter(const BlobStore& store, std::string tmp, std::unique_ptr<WritableFile> file)
      : store_(store), tmp_(std::move(tmp)), file_(std::move(file)) {}
  const BlobStore& store_;
  std::string tmp_;
  std::unique_ptr<WritableFile> file_;  // null once sealed
  uint64_t size_ = 0;
  Sha256 hash_;
  std::optional<BlobInfo> sealed_;
  bool committed_ = false;
};

struct GcReport {
  uint64_t removed = 0;        // unreferenced blobs deleted
  uint64_t kept_recent = 0;    // unreferenced but published within the grace period
  uint64_t bytes_removed = 0;  // their sizes
};

// Thread-safe. `fs` and `clock` must outlive the store.
class BlobStore {
 public:
  // Creates `root` and `root/.tmp` if needed and deletes leftover temp files.
  static Result<std::unique_ptr<BlobStore>> Open(FileSystem& fs, const Clock& clock,
                                                 const std::string& root);

  Result<std::unique_ptr<BlobWriter>> NewWriter() const;
  Result<BlobInfo> Put(std::string_view bytes) const;
  // Moves a finished file (written under TempPath()) into the store under its digest.
  Result<BlobInfo> Adopt(const std::string& temp_path) const;
  // A fresh path inside the temp dir (same filesystem as the blobs, so rename is atomic).
  std::string TempPath() const;

  std::string PathFor(const std::string& sha256) const { return root_ + "/" + sha256; }
  bool Exists(const std::string& sha256) const;
  const std::string& root() const { return root_; }

  // Hashes the stored blob: OK when it hashes to its name, kCorrupt when it does not,
  // kNotFound when it is absent.
  Status Verify(const std::string& sha256) const;
  // Removes a blob durably (OK when absent).
  Status Remove(const std::string& sha256) const;
  // Removes the blob only if it is corrupt (does not hash to its name); true when it did.
  // Verified again and removed under the lock Publish holds, so a repair published meanwhile
  // (the right bytes renamed over the corrupt ones) is never the file removed.
  Result<bool> RemoveIfCorrupt(const std::string& sha256) const;
  // Names of the stored blobs (any order).
  Result<std::vector<std::string>> List() const;

  // Removes every blob whose name is not in `referenced()`, except those published less than
  // `grace` ago: their version or patch record may not be committed yet (an upload in flight).
  // Publication time is the blob file's mtime (stamped with the clock on every publish, also by
  // other replicas sharing the directory) or this process's record of it.
  // The blob list is taken before `referenced` is called, so a blob published meanwhile is
  // never a candidate. A candidate is renamed to <root>/.tmp/gc-<sha>.* and its time checked
  // again before the unlink, so a publish by another replica racing the removal always leaves
  // the blob in place (a crash in between leaves the gc- file to the temp-file age rule).
  Result<GcReport> CollectGarbage(
      const std::function<Result<std::unordered_set<std::string>>()>& referenced,
      Clock::Duration grace) const;

 private:
  friend class BlobWriter;
  BlobStore(FileSystem& fs, const Clock& clock, std::string root)
      : fs_(fs), clock_(clock), root_(std::move(root)) {}
  // Renames `tmp` (synced) to the blob's name, unless an intact blob already has it.
  Status Publish(const std::string& tmp, const BlobInfo& info) const;

  FileSystem& fs_;
  const Clock& clock_;
  std::string root_;
  // Held by Publish (its rename), by RemoveIfCorrupt from its check to the unlink, and by
  // CollectGarbage per removal.
  mutable std::mutex mu_;
  // When each blob was last published by this process (GC grace). Pruned by CollectGarbage.
  mutable std::map<std::string, Clock::Duration> published_;
};

}  // namespace oxide::server
