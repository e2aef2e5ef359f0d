#pragma once

// Socket-free HTTP request/response used by the route handlers. The net layer (server/net/)
// converts Beast messages to and from these; tests build them directly.

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

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // used when `file` is empty
  std::optional<FileBody> file;
  // Called once by the net layer with the body bytes actually written to the socket, when the
  // response finished or the connection dropped (download accounting).
  std::function<void(uint64_t body_bytes_written)> on_complete;
  // Called once, off the I/O threads, when a file body did not hash to FileBody::sha256, has
  // another size than FileBody::size, or could not be read.
  std::function<void()> on_corrupt;

  std::string Header(std::string_view name) const;  // case-insensitive, "" when absent
};

}  // namespace oxide::server::api
