#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace oxide {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Response status and headers. Header names are lower-cased.
struct HttpResponseHead {
  int status = 0;
  std::map<std::string, std::string> headers;

  // Value of a (lower-case) header, or "" when absent.
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Receives one download. OnResponse is called once per response, before any body byte; when it
// returns an error the transfer is aborted with that error. Write receives the body of 2xx
// responses only, in order. Non-2xx bodies are collected (bounded) into DownloadResult::error_body.
class DownloadSink {
 public:
  virtual ~DownloadSink() = default;
  virtual Status OnResponse(const HttpResponseHead& head) = 0;
  virtual Status Write(const uint8_t* data, size_t n) = 0;
  // Called about once a second while the transfer is open, bytes or not (long-lived streams
  // such as server-sent events); an error aborts the transfer with that error.
  virtual Status OnTick() { return Status::Ok(); }
};

struct DownloadRequest {
  std::string url;
  HeaderList headers;  // extra request headers (Range and If-Range included by the caller)
  // Called now and then with the body bytes received in this transfer; may be empty.
  std::function<void(uint64_t received, uint64_t expected)> on_progress;
};

struct DownloadResult {
  HttpResponseHead head;
  std::string error_body;  // first bytes of a non-2xx body
};

// HTTP GET into a sink, streaming; the seam between the pipeline and libcurl
// (http_client/curl_transport.hpp) or a fake (src/agent/testing/fake_downloader.hpp).
// Errors: kUnavailable (connection, stall, server unreachable: retry later), kCancelled (the
// agent is stopping), or whatever the sink returned. A completed transfer with any HTTP status
// is OK: the caller looks at head.status.
class Downloader {
 public:
  virtual ~Downloader() = default;
  virtual Result<DownloadResult> Get(const DownloadRequest& request, DownloadSink& sink) = 0;
};

struct HttpReply {
  int status = 0;
  std::string body;
};

// One small request: "POST" (a JSON body), "GET" or "DELETE", with extra headers (the device
// credential, an operator token).
struct HttpCall {
  std::string method = "POST";
  std::string url;
  std::string body;
  HeaderList headers;
};

// Small JSON requests to the control plane. kUnavailable on transport failure; any HTTP status
// is a successful reply.
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<HttpReply> Send(const HttpCall& call) = 0;
  Result<HttpReply> PostJson(const std::string& url, const std::string& json) {
    return Send(HttpCall{"POST", url, json, {}});
  }
};

// A request whose body is a file, streamed from disk as it is sent (never loaded whole): model
// uploads. Content-Length is the file's size, taken when the upload starts.
struct UploadRequest {
  std::string method = "POST";
  std::string url;
  std::string file_path;
  HeaderList headers;
  // Called now and then with the body bytes sent so far and the file's size.
  std::function<void(uint64_t sent, uint64_t total)> on_progress;
};

// Sends a file as a request body. Errors: kNotFound (no such file) or kIo when the file cannot be
// opened or read (nothing or part of it was sent), kUnavailable on transport failure. Any HTTP
// status is a reply; its body is collected like HttpClient's.
class Uploader {
 public:
  virtual ~Uploader() = default;
  virtual Result<HttpReply> Upload(const UploadRequest& request) = 0;
};

}  // namespace oxide
