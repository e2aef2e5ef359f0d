#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "http_client/http.hpp"

namespace oxide {

class StopFlag;

struct CurlOptions {
  // Stall detection instead of a total timeout: a transfer slower than low_speed_limit bytes/s
  // for low_speed_time is aborted (kUnavailable) and resumed later.
  long low_speed_limit = 1;
  std::chrono::seconds low_speed_time{60};
  std::chrono::seconds connect_timeout{20};
  std::chrono::seconds request_timeout{30};  // small JSON requests only, never downloads
  uint64_t max_recv_speed = 0;               // bytes/s, 0 = unlimited (tests throttle with it)
  // HTTPS: the server certificate and host name are always verified (TLS 1.2+), against this
  // PEM bundle of CA certificates when set, else the system's CAs.
  std::string ca_file;
};

// libcurl behind HttpClient, Downloader and Uploader. One easy handle per request, so it may be
// used from inside another transfer's progress callback. `stop` (may be null) aborts transfers
// promptly (kCancelled) and must outlive this object. Requires curl_global_init (CurlGlobal) first.
class CurlTransport final : public HttpClient, public Downloader, public Uploader {
 public:
  CurlTransport(CurlOptions options, const StopFlag* stop) : options_(options), stop_(stop) {}

  Result<HttpReply> Send(const HttpCall& call) override;
  Result<DownloadResult> Get(const DownloadRequest& request, DownloadSink& sink) override;
  Result<HttpReply> Upload(const UploadRequest& request) override;

 private:
  CurlOptions options_;
  const StopFlag* stop_;
};

// curl_global_init / curl_global_cleanup for the lifetime of the app (AgentMain, the CLI).
class CurlGlobal {
 public:
  CurlGlobal();
  ~CurlGlobal();
  CurlGlobal(const CurlGlobal&) = delete;
  CurlGlobal& operator=(const CurlGlobal&) = delete;
};

}  // namespace oxide
