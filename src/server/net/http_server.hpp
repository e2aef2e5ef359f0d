#pragma once

// The HTTP/1.1 front end of `oxide serve` (plain or over TLS): Boost.Beast on Asio,
// asynchronous (callbacks), a small fixed thread pool, one strand per connection. Converts Beast
// messages to api::Request, calls the Router, and writes api::Response back:
//  - JSON bodies are read whole up to the route's limit (413 beyond);
//  - upload routes stream the body in chunks into a BlobWriter (hashed on the way), so memory
//    stays bounded whatever the model size;
//  - file responses are streamed from disk in chunks through a buffer_body serializer, so a slow
//    download holds one small buffer and no thread;
//  - streamed bodies (GET /api/v1/events) are written chunk by chunk when their source wakes
//    the connection, with a keepalive between; an open stream holds its connection slot and
//    no thread, ends when the client closes or falls behind, and is dropped at Shutdown().
// This header deliberately includes no Beast/Asio/OpenSSL (they stay in the net .cpp files).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "server/api/router.hpp"
#include "server/net/request_guard.hpp"

namespace oxide::server::net {

struct HttpServerOptions {
  std::string host = "0.0.0.0";
  uint16_t port = 8080;  // 0 = any free port (see port())
  int threads = 2;
  // Whole request header, and how long a new connection may stay silent: short, because a
  // connection that has not sent a request yet holds a slot and proves nothing (slowloris).
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds read_timeout{60};   // each body read
  std::chrono::seconds write_timeout{60};  // each response chunk
  std::chrono::seconds idle_timeout{75};   // keep-alive wait for the next request
  uint32_t header_limit = 16 * 1024;       // bytes of request line + headers
  size_t chunk_size = 32 * 1024;           // upload/download buffer, allocated only while a
                                           // connection streams an upload or a file
  size_t max_sessions = 10'000;            // concurrent connections; beyond, new ones are
                                           // closed at once
  // Concurrent connections from one remote address (0 = unlimited); beyond, new ones are
  // closed at once, so one host cannot take the slots (or fds) every other client needs.
  size_t max_sessions_per_address = 256;
  RequestGuardOptions rate_limits;  // 429s on heartbeat and authentication paths
  // HTTPS when both are set (PEM files: the certificate chain, leaf first, and its private
  // key): TLS 1.2 or later, forward-secret AEAD suites only. Loaded by Listen().
  std::string tls_cert_file;
  std::string tls_key_file;
  std::chrono::seconds handshake_timeout{10};  // TLS handshake of a new connection
  int blocking_threads = 2;                    // upload commits (fsync) run here, off the I/O
                                               // threads
  std::chrono::milliseconds accept_retry_delay{100};  // after an accept error (EMFILE...)
};

class HttpServer {
 public:
  // `router` and `blobs` (where uploads are staged) must outlive the server.
  HttpServer(const api::Router& router, const BlobStore& blobs, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Loads the TLS certificate and key (when set), binds and listens. kInvalidArgument for a bad
  // host or an unreadable/mismatched certificate or key, kUnavailable when the port is taken.
  Status Listen();
  bool tls() const;       // serving HTTPS
  uint16_t port() const;  // the bound port (useful with port 0)

  // Serves on `threads` threads until SIGINT/SIGTERM (or Shutdown()), then stops accepting,
  // stops the pool and returns. In-flight responses are dropped (their accounting runs).
  void RunUntilSignal();
  void Shutdown();

  // Open connections right now, and accept() failures so far (observability and tests).
  size_t active_sessions() const;
  uint64_t accept_errors() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace oxide::server::net
