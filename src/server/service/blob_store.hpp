#pragma once

// Content-addressed, immutable blob directory: <root>/<sha256 hex>. Writers stream into
// <root>/.tmp/, hash on the way, fsync, then rename into place and fsync the directory, so a
// blob is either absent or complete, never half-visible. Stale temp files (a crash mid-upload)
// are removed by Open().

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "base/sha256.hpp"

namespace oxide::server {

struct BlobInfo {
  std::string sha256;  // lower-case hex
  uint64_t size = 0;
};

// One blob being written. Not thread-safe. The temp file is removed unless Commit() succeeded.
class BlobWriter {
 public:
  ~BlobWriter();
  BlobWriter(const BlobWriter&) = delete;
  BlobWriter& operator=(const BlobWriter&) = delete;

  Status Append(const void* data, size_t n);
  Status Append(std::string_view s) { return Append(s.data(), s.size()); }
  uint64_t size() const { return size_; }
  // Makes the blob durable and visible under its digest. Idempotent content: if the blob
  // already exists the temp file is dropped. kIo on failure (nothing becomes visible).
  Result<BlobInfo> Commit();

 private:
  friend class BlobStore;
  BlobWriter(std::string root, std::string tmp, int fd)
      : root_(std::move(root)), tmp_(std::move(tmp)), fd_(fd) {}
  std::string root_;
  std::string tmp_;
  int fd_;
  uint64_t size_ = 0;
  Sha256 hash_;
  bool committed_ = false;
};

class BlobStore {
 public:
  // Creates `root` and `root/.tmp` if needed and deletes leftover temp files.
  static Result<std::unique_ptr<BlobStore>> Open(const std::string& root);

  Result<std::unique_ptr<BlobWriter>> NewWriter() const;
  Result<BlobInfo> Put(std::string_view bytes) const;
  // Moves a finished file (written under TempPath()) into the store under its digest.
  Result<BlobInfo> Adopt(const std::string& temp_path) const;
  // A fresh path inside the temp dir (same filesystem as the blobs, so rename is atomic).
  std::string TempPath() const;

  std::string PathFor(const std::string& sha256) const { return root_ + "/" + sha256; }
  bool Exists(const std::string& sha256) const;
  const std::string& root() const { return root_; }

 private:
  explicit BlobStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace oxide::server
