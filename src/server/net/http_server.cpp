// The listener and thread pools of `oxide serve`; each connection is a Session (session.cpp).
// Beast/Asio stay inside server/net/.
#include "server/net/http_server.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/error.hpp>
#include <csignal>
#include <cstdio>
#include <thread>
#include <utility>  // P1: before asio
#include <vector>

#include "base/clock.hpp"
#include "server/net/connection_limiter.hpp"
#include "server/net/session.hpp"

namespace oxide::server::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

// The key the limits count this client under (ClientKey: IPv4 address, or IPv6 /64). Empty
// when the socket is already gone.
std::string RemoteKey(const tcp::socket& s) {
  beast::error_code ec;
  auto ep = s.remote_endpoint(ec);
  if (ec) return "";
  return ClientKey(ep.address().to_string());
}

// A server context with modern settings only: TLS 1.2+ (no SSLv3/TLS 1.0/1.1, no
// compression, no renegotiation), and for TLS 1.2 only ECDHE with AEAD ciphers (TLS 1.3
// suites are all AEAD and forward-secret already). The key must match the certificate.
Result<std::unique_ptr<asio::ssl::context>> MakeTlsContext(const std::string& cert_file,
                                                           const std::string& key_file) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  beast::error_code ec;
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1 | asio::ssl::context::no_compression |
                       asio::ssl::context::single_dh_use,
                   ec);
  SSL_CTX* native = ctx->native_handle();
  if (ec || SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    return Internal("cannot configure TLS");
  }
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) return InvalidArgument("--tls-cert " + cert_file + ": " + ec.message());
  ctx->use_private_key_file(key_file, asio::ssl::context::pem, ec);
  if (ec) return InvalidArgument("--tls-key " + key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    return InvalidArgument("--tls-key " + key_file + " does not match --tls-cert " + cert_file);
  }
  return ctx;
}

}  // namespace

struct HttpServer::Impl {
  Impl(const api::Router& r, const BlobStore& b, HttpServerOptions o)
      : router(r),
        blobs(b),
        opt(std::move(o)),
        per_address(opt.max_sessions_per_address),
        guard(clock, opt.rate_limits),
        ioc(std::max(1, opt.threads)),
        acceptor(asio::make_strand(ioc)),
        accept_timer(acceptor.get_executor()),
        signals(ioc, SIGINT, SIGTERM),
        blocking(static_cast<size_t>(std::max(1, opt.blocking_threads))) {}
  // Streams are woken from publisher threads: no post may reach the io_context once it is
  // being destroyed (its sessions, and their subscriptions, go with it).
  // A heartbeat answered after that releases its session on the answering thread; wait for
  // those before the io_context (and what sessions borrow from here) goes.
  ~Impl() {
    gate->Close();
    replies->WaitIdle();
  }

  void Accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (ec) {
        // EMFILE/ENFILE/ENOBUFS: the pending connection stays queued, so retrying at once
        // would spin. Wait, then try again.
        if (accept_errors++ == 0 || accept_errors % 100 == 0) {
          std::fprintf(stderr, "oxide serve: accept: %s (retrying)\n", ec.message().c_str());
        }
        accept_timer.expires_after(opt.accept_retry_delay);
        accept_timer.async_wait([this](beast::error_code tec) {
          if (!tec && acceptor.is_open()) Accept();
        });
        return;
      }
      ConnectionLimiter::Lease lease;
      if (live_sessions.load() < opt.max_sessions) lease = per_address.Acquire(RemoteKey(s));
      if (!lease) {
        // Over the cap, or this address holds its share: refuse cheaply (no read, no
        // response) rather than let one client run the server out of slots, memory or fds.
        beast::error_code ignored;
        s.close(ignored);
        ++rejected_sessions;
      } else {
        internal::StartSession(
            std::move(s), std::move(lease),
            {router, blobs, opt, live_sessions, blocking, guard, tls.get(), gate, replies});
      }
      Accept();
    });
  }

  void Stop() {
    asio::post(acceptor.get_executor(), [this] {
      beast::error_code ignored;
      acceptor.close(ignored);
      accept_timer.cancel();
      ioc.stop();
    });
  }

  const api::Router& router;
  const BlobStore& blobs;
  HttpServerOptions opt;
  std::atomic<size_t> live_sessions{0};
  std::atomic<uint64_t> accept_errors{0};
  std::atomic<uint64_t> rejected_sessions{0};
  // Before ioc: sessions (destroyed with it) hold leases and use the guard.
  SystemClock clock;
  ConnectionLimiter per_address;
  RequestGuard guard;
  std::unique_ptr<asio::ssl::context> tls;  // null: plain HTTP
  std::shared_ptr<internal::PostGate> gate = std::make_shared<internal::PostGate>();
  std::shared_ptr<internal::PendingReplies> replies = std::make_shared<internal::PendingReplies>();
  asio::io_context ioc;
  tcp::acceptor acceptor;
  asio::steady_timer accept_timer;
  asio::signal_set signals;
  // Declared after ioc: destroyed (joined) first, so no blocking task outlives the io_context.
  asio::thread_pool blocking;
};

HttpServer::HttpServer(const api::Router& router, const BlobStore& blobs, HttpServerOptions options)
    : impl_(std::make_unique<Impl>(router, blobs, std::move(options))) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Listen() {
  const auto& o = impl_->opt;
  if (!o.tls_cert_file.empty() || !o.tls_key_file.empty()) {
    if (o.tls_cert_file.empty() || o.tls_key_file.empty()) {
      return InvalidArgument("--tls-cert and --tls-key go together");
    }
    OXIDE_ASSIGN_OR_RETURN(impl_->tls, MakeTlsContext(o.tls_cert_file, o.tls_key_file));
  }
  beast::error_code ec;
  auto address = impl_->opt.host == "localhost"
                     ? asio::ip::address(asio::ip::address_v4::loopback())
                     : asio::ip::make_address(impl_->opt.host, ec);
  if (ec) return InvalidArgument("--host must be an IP address, got '" + impl_->opt.host + "'");
  tcp::endpoint endpoint(address, impl_->opt.port);
  auto& a = impl_->acceptor;
  a.open(endpoint.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(endpoint, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("cannot listen on " + impl_->opt.host + ":" +
                       std::to_string(impl_->opt.port) + ": " + ec.message());
  }
  return Status::Ok();
}

bool HttpServer::tls() const { return impl_->tls != nullptr; }

uint16_t HttpServer::port() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? 0 : ep.port();
}

void HttpServer::RunUntilSignal() {
  impl_->signals.async_wait([this](beast::error_code ec, int) {
    if (!ec) impl_->Stop();
  });
  impl_->Accept();
  std::vector<std::thread> pool;
  for (int i = 1; i < std::max(1, impl_->opt.threads); ++i) {
    pool.emplace_back([this] { impl_->ioc.run(); });
  }
  impl_->ioc.run();
  for (auto& t : pool) t.join();
}

void HttpServer::Shutdown() { impl_->Stop(); }

size_t HttpServer::active_sessions() const { return impl_->live_sessions.load(); }

uint64_t HttpServer::accept_errors() const { return impl_->accept_errors.load(); }

}  // namespace oxide::server::net
