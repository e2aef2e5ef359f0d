#include "agent/testing/fake_downloader.hpp"

#include <algorithm>

namespace oxide::testing {

namespace {

constexpr const char* kEmptyBaseSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string RequestHeader(const DownloadRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

}  // namespace

void FakeDownloader::SetFull(const std::string& url, std::string body,
                             const std::string& sha256_hex) {
  Resource& r = entries_[url].full;
  r.body = std::move(body);
  r.head.status = 200;
  r.head.headers = {{"content-type", "application/octet-stream"},
                    {"x-oxide-sha256", sha256_hex},
                    {"etag", "\"full-" + sha256_hex.substr(0, 16) + "\""}};
}

void FakeDownloader::SetPatch(const std::string& url, const std::string& base_sha256_hex,
                              std::string patch, const std::string& target_sha256_hex) {
  Resource& r = entries_[url].patches[base_sha256_hex];
  r.body = std::move(patch);
  r.head.status = 200;
  r.head.headers = {{"content-type", "application/x-oxide-delta"},
                    {"x-oxide-target-sha256", target_sha256_hex},
                    {"x-oxide-base-sha256", base_sha256_hex},
                    {"etag", "\"patch-" + std::to_string(r.body.size()) + "-" +
                                 target_sha256_hex.substr(0, 8) + "\""}};
}

void FakeDownloader::SetEtag(const std::string& url, const std::string& etag) {
  entries_[url].full.head.headers["etag"] = etag;
}

void FakeDownloader::SetError(const std::string& url, int status, std::string body) {
  entries_[url].error_status = status;
  entries_[url].error_body = std::move(body);
}

Result<DownloadResult> FakeDownloader::Get(const DownloadRequest& request, DownloadSink& sink) {
  requests_.push_back(request);
  DownloadResult result;
  auto it = entries_.find(request.url);
  if (it == entries_.end() || it->second.error_status != 0) {
    result.head.status = it == entries_.end() ? 404 : it->second.error_status;
    result.error_body = it == entries_.end() ? "{\"error\":\"not found\"}" : it->second.error_body;
    OXIDE_RETURN_IF_ERROR(sink.OnResponse(result.head));
    return result;
  }
  const Entry& e = it->second;
  const Resource* picked = &e.full;
  auto patch = e.patches.find(RequestHeader(request, "X-Oxide-Base-SHA256"));
  if (patch == e.patches.end() && !RequestHeader(request, "X-Oxide-Patch-Versions").empty()) {
    patch = e.patches.find(kEmptyBaseSha256);  // the server's fallback for declared clients
  }
  if (patch != e.patches.end()) picked = &patch->second;
  const Resource resource = *picked;  // a copy: on_chunk_ may change the entry mid-transfer
  const Resource* res = &resource;

  result.head = res->head;
  uint64_t offset = 0;
  std::string range = RequestHeader(request, "Range");
  std::string if_range = RequestHeader(request, "If-Range");
  if (!ignore_range_ && range.starts_with("bytes=") &&
      (if_range.empty() || ignore_if_range_ || if_range == res->head.Header("etag"))) {
    offset = std::stoull(range.substr(6));
    if (offset >= res->body.size()) {
      result.head.status = 416;
      OXIDE_RETURN_IF_ERROR(sink.OnResponse(result.head));
      return result;
    }
    result.head.status = 206;
    result.head.headers["content-range"] = "bytes " + std::to_string(offset) + "-" +
                                           std::to_string(res->body.size() - 1) + "/" +
                                           std::to_string(res->body.size());
  }
  result.head.headers["content-length"] = std::to_string(res->body.size() - offset);
  OXIDE_RETURN_IF_ERROR(sink.OnResponse(result.head));
  for (uint64_t pos = offset; pos < res->body.size();) {
    if (e.truncated_at >= 0 && pos >= static_cast<uint64_t>(e.truncated_at)) {
      return Unavailable("transfer closed with " + std::to_string(res->body.size() - pos) +
                         " bytes remaining (the stored copy is truncated)");
    }
    uint64_t end = e.truncated_at >= 0
                       ? std::min<uint64_t>(res->body.size(), static_cast<uint64_t>(e.truncated_at))
                       : res->body.size();
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk_, end - pos));
    bool fail = false;
    if (fail_after_ >= 0 && static_cast<uint64_t>(fail_after_) <= n) {
      n = static_cast<size_t>(fail_after_);
      fail = true;
    }
    if (n > 0) {
      OXIDE_RETURN_IF_ERROR(
          sink.Write(reinterpret_cast<const uint8_t*>(res->body.data() + pos), n));
    }
    bytes_served_ += n;
    pos += n;
    if (request.on_progress) request.on_progress(pos - offset, res->body.size() - offset);
    if (on_chunk_) on_chunk_(pos - offset);
    if (fail) {
      fail_after_ = -1;
      return Unavailable("connection reset (injected after " + std::to_string(pos) + " bytes)");
    }
    if (fail_after_ >= 0) fail_after_ -= static_cast<int64_t>(n);
  }
  return result;
}

}  // namespace oxide::testing
