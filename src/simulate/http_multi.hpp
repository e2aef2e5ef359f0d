#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace oxide::simulate {

// How a transfer ended when it got no complete HTTP response.
enum class TransportError : uint8_t {
  kNone = 0,
  kTimeout = 1,  // the request timeout or the download stall limit
  kConnect = 2,  // refused, unreachable, DNS
  kAborted = 3,  // the body callback said stop
  kOther = 4,
};

struct HttpRequest {
  bool post = false;  // POST with `body` as application/json, else GET
  std::string url;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  // The whole request; 0: none, only a stall limit (no byte for 30 s): for downloads.
  long timeout_ms = 30'000;
};

struct HttpOutcome {
  int status = 0;  // 0: no response
  TransportError error = TransportError::kNone;
  std::string error_text;   // curl's message when error != kNone
  int64_t elapsed_us = 0;   // from Start() to the end of the transfer
  uint64_t bytes_down = 0;  // response body bytes received
  // The body of a request without a body callback, or of a non-2xx response (first 64 KiB).
  std::string body;
};

// Response header values by lower-case name (the last response's, after any 1xx).
using HeaderMap = std::map<std::string, std::string>;

// Many concurrent HTTP requests on one thread: libcurl's multi interface driven by epoll
// (curl_multi_socket_action), so a call to Poll() costs in proportion to the sockets that are
// ready, not to the transfers open. Connections are kept alive and reused (a cache of
// `max_connections`, which also bounds how many are open). The caller bounds in_flight() itself
// (transfers beyond the connection cap would queue inside curl and their latency would include
// the wait). Requires curl_global_init (CurlGlobal). Not thread-safe.
class HttpMulti {
 public:
  // Receives a 2xx body in order; returning false aborts the transfer (kAborted).
  using BodyFn = std::function<bool(const char* data, size_t n)>;
  // Called once with a 2xx status and headers before the first body byte (if any); false aborts.
  using HeadFn = std::function<bool(int status, const HeaderMap& headers)>;
  using DoneFn = std::function<void(HttpOutcome outcome)>;

  // kInternal when curl or epoll cannot be set up.
  static Result<std::unique_ptr<HttpMulti>> Create(size_t max_connections);
  ~HttpMulti();
  HttpMulti(const HttpMulti&) = delete;
  HttpMulti& operator=(const HttpMulti&) = delete;

  // Starts a request; `done` runs from a later Poll() (never from Start) exactly once.
  void Start(HttpRequest request, DoneFn done, HeadFn head = {}, BodyFn body = {});
  size_t in_flight() const;
  // Waits up to `timeout_ms` for socket activity or a curl timer, does the I/O that is ready and
  // runs the DoneFn of every transfer that ended.
  void Poll(int timeout_ms);

 private:
  struct Impl;
  explicit HttpMulti(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace oxide::simulate
