#pragma once

// Private to server/net: one HTTP/1.1 connection. Reads a request (JSON bodies whole, uploads
// streamed into a BlobWriter), runs the Router (uploads on the blocking pool), writes the
// response (files streamed in chunks; StreamBody responses written as they wake the session,
// until the client leaves), and loops while keep-alive. Every handler runs on the connection's
// strand; the session keeps itself alive through its pending operations.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "server/api/router.hpp"
#include "server/net/connection_limiter.hpp"
#include "server/net/http_server.hpp"
#include "server/net/request_guard.hpp"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace oxide::server::net::internal {

// Lets other threads (event publishers waking a stream) post to sessions while the server runs.
// Closed before the io_context goes away: nothing is posted after Close() returns.
class PostGate {
 public:
  void Run(const std::function<void()>& post) {
    std::shared_lock<std::shared_mutex> lock(mu_);
    if (!closed_) post();
  }
  void Close() {
    std::unique_lock<std::shared_mutex> lock(mu_);
    closed_ = true;
  }

 private:
  std::shared_mutex mu_;
  bool closed_ = false;
};

// Counts deferred answers not yet given (a heartbeat waiting for its group commit holds its
// session). The server waits for them before its io_context goes: a session released by a
// late answer is destroyed on the answering thread while the I/O threads no longer run.
class PendingReplies {
 public:
  void Add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++count_;
  }
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--count_ == 0) idle_.notify_all();
  }
  void WaitIdle() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [&] { return count_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable idle_;
  size_t count_ = 0;
};

// What a session borrows from the server; all of it must outlive every session.
struct SessionContext {
  const api::Router& router;
  const BlobStore& blobs;  // where uploads are staged
  const HttpServerOptions& opt;
  std::atomic<size_t>& live;                // open sessions: +1 while the session exists
  boost::asio::thread_pool& blocking;       // runs upload handlers (commit = fsync)
  RequestGuard& guard;                      // rate limits (429) before a request is handled
  boost::asio::ssl::context* tls;           // null: plain HTTP; else HTTPS with this context
  std::shared_ptr<PostGate> gate;           // streamed bodies' wake-ups go through it
  std::shared_ptr<PendingReplies> replies;  // deferred answers (heartbeats) in flight
};

// Starts serving `socket` (accepted on a strand of the server's io_context). `slot` is the
// client address's connection slot, held until the session ends.
void StartSession(boost::asio::ip::tcp::socket socket, ConnectionLimiter::Lease slot,
                  const SessionContext& ctx);
// StartSession's HTTPS half (ctx.tls set), defined in session_tls.cpp.
void StartTlsSession(boost::asio::ip::tcp::socket socket, ConnectionLimiter::Lease slot,
                     const SessionContext& ctx);

}  // namespace oxide::server::net::internal
