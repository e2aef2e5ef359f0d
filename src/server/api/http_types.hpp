#pragma once

// Socket-free HTTP request/response used by the route handlers. The net layer (server/net/)
// converts Beast messages to and from these; tests build them directly.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/auth/principal.hpp"
#include "server/service/blob_store.hpp"

namespace oxide::server::api {

enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kOther };
std::string_view ToString(Method m);

// True when `content_type` names application/json: the media type before any ";" parameter,
// compared case-insensitively and exactly (RFC 9110 8.3.1), so "application/jsonxyz" is not
// JSON. An empty value is accepted (clients that send no Content-Type).
bool IsJsonContentType(std::string_view content_type);

struct Request {
  Method method = Method::kGet;
  std::string path;   // decoded path, without the query string
  std::string query;  // raw query string, without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;  // JSON routes: the whole (bounded) body
  // Upload routes: the body already streamed to a temp blob and hashed by the net layer.
  // When null, an upload handler stages `body` itself (handler tests).
  std::shared_ptr<BlobWriter> upload;
  // The peer's IP address (audit log); filled by the net layer, "" in handler tests.
  std::string remote_address;
  // Who sent it: set by the Router's access check before the handler runs.
  auth::Principal principal;

  // First header with this lower-case name, or "".
  std::string Header(std::string_view lower_name) const;
  Request& With(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// A byte range of a file on disk, streamed by the net layer in bounded chunks.
struct FileBody {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
  // The SHA-256 (hex) the whole file must hash to, or "". When set and the range is the whole
  // file, the net layer hashes what it sends and, on a mismatch, closes the connection before
  // the last chunk (the client never gets a complete, wrong body) and calls on_corrupt.
  std::string sha256;
  // With sha256: the size the whole file must have (0 = unchecked). A file of another size
  // (truncated on disk) is not served at all: on_corrupt is called and the answer is a 503.
  uint64_t size = 0;
};

// A body produced over time (server-sent events): the net layer sends the headers, then
// whatever Read() returns as it comes (chunked), until Read() says the stream is over, the
// client leaves or the server stops. Never pins a thread: the net layer reads only when woken.
class StreamBody {
 public:
  virtual ~StreamBody() = default;
  // Called once, before the first Read(). `wake` says Read() has something new; it may be
  // called from any thread at any time, also after the connection is gone (then a no-op).
  virtual void Start(std::function<void()> wake) = 0;
  // Appends what is ready to *out (maybe nothing). false: the stream is over; what was
  // appended is still sent when the client keeps up, else the connection just closes.
  virtual bool Read(std::string* out) = 0;
  // The stream is over (Read would return false), told without taking anything: a write
  // stuck behind a reader that stopped reading is then abandoned at once.
  virtual bool Over() const = 0;
  // Sent when nothing else was for keepalive_interval(), so idle streams stay open through
  // proxies and dead clients are noticed.
  virtual std::string Keepalive() const = 0;
  virtual std::chrono::milliseconds keepalive_interval() const = 0;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // used when `file` is empty
  std::optional<FileBody> file;
  // A streamed body (GET /api/v1/events); `body` and `file` are unused then.
  std::shared_ptr<StreamBody> stream;
  // Called once by the net layer with the body bytes actually written to the socket, when the
  // response finished or the connection dropped (download accounting).
  std::function<void(uint64_t body_bytes_written)> on_complete;
  // Called once, off the I/O threads, when a file body did not hash to FileBody::sha256, has
  // another size than FileBody::size, or could not be read.
  std::function<void()> on_corrupt;
  // Answered later (a heartbeat waits for the transaction holding it to commit, without
  // blocking an I/O thread): the net layer calls `deferred` once with a Reply, and the handler
  // calls that Reply exactly once, from any thread, with the real response. The other fields
  // of this placeholder are unused.
  using Reply = std::function<void(Response)>;
  std::function<void(Reply)> deferred;

  std::string Header(std::string_view name) const;  // case-insensitive, "" when absent
};

}  // namespace oxide::server::api
