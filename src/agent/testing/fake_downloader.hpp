#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "http_client/http.hpp"

namespace oxide::testing {

// An in-memory download server for the agent's pipeline: per URL a full file and optionally a
// patch (served when the request's X-Oxide-Base-SHA256 matches; a patch set for the empty base
// SHA-256 is served, like the real server does, to a request that sends X-Oxide-Patch-Versions
// and names no base with a patch), with strong ETags, Range and
// If-Range like the real server. Faults: FailAfterBytes(n) breaks the next transfers after n
// more body bytes (kUnavailable, once); ignore_range makes it answer 200 to ranged requests;
// ignore_if_range makes it answer 206 even when If-Range names another ETag (a broken cache).
// The resource may change between requests (SetFull again, SetEtag, ClearPatches) or, from
// the on_chunk hook (called after each body chunk, with the bytes sent so far), mid-transfer.
// TruncateStoredCopy(url, n) stands for a server whose stored file is cut at byte n although it
// announces the full size: every transfer of that URL breaks there (kUnavailable).
class FakeDownloader final : public Downloader {
 public:
  void SetFull(const std::string& url, std::string body, const std::string& sha256_hex);
  void SetPatch(const std::string& url, const std::string& base_sha256_hex, std::string patch,
                const std::string& target_sha256_hex);
  void SetError(const std::string& url, int status, std::string body);
  void FailAfterBytes(uint64_t n) { fail_after_ = n; }
  void set_ignore_range(bool v) { ignore_range_ = v; }
  void set_ignore_if_range(bool v) { ignore_if_range_ = v; }
  void set_chunk_size(size_t n) { chunk_ = n; }
  void set_on_chunk(std::function<void(uint64_t sent)> f) { on_chunk_ = std::move(f); }
  // Replaces the ETag of the full file at `url` (same bytes, "another version" of the resource).
  void SetEtag(const std::string& url, const std::string& etag);
  void TruncateStoredCopy(const std::string& url, uint64_t n) { entries_[url].truncated_at = n; }
  // Serves the full file at `url` from now on, whatever base the request names.
  void ClearPatches(const std::string& url) { entries_[url].patches.clear(); }

  Result<DownloadResult> Get(const DownloadRequest& request, DownloadSink& sink) override;

  uint64_t bytes_served() const { return bytes_served_; }
  const std::vector<DownloadRequest>& requests() const { return requests_; }

 private:
  struct Resource {
    std::string body;
    HttpResponseHead head;  // status 200 plus headers; etag included
  };
  struct Entry {
    Resource full;
    std::map<std::string, Resource> patches;  // by base SHA-256
    int error_status = 0;
    std::string error_body;
    int64_t truncated_at = -1;  // every transfer breaks at this byte (see TruncateStoredCopy)
  };

  std::map<std::string, Entry> entries_;
  std::vector<DownloadRequest> requests_;
  uint64_t bytes_served_ = 0;
  int64_t fail_after_ = -1;
  bool ignore_range_ = false;
  bool ignore_if_range_ = false;
  std::function<void(uint64_t)> on_chunk_;
  size_t chunk_ = 1000;
};

}  // namespace oxide::testing
