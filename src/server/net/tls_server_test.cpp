// HttpServer over TLS on loopback: a throwaway self-signed certificate is made in code (never
// committed), the client is plain OpenSSL over a POSIX socket. Waits poll with a deadline.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "server/net/http_server.hpp"
#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server::net {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};

// A P-256 key and a self-signed certificate for 127.0.0.1, written as PEM files.
void WriteSelfSigned(const std::string& cert_path, const std::string& key_path) {
  std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_NE(key, nullptr);
  std::unique_ptr<X509, X509Free> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  ASSERT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  FILE* c = std::fopen(cert_path.c_str(), "w");
  FILE* k = std::fopen(key_path.c_str(), "w");
  ASSERT_TRUE(c != nullptr && k != nullptr);
  PEM_write_X509(c, cert.get());
  PEM_write_PrivateKey(k, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(c);
  std::fclose(k);
}

int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  return fd;
}

class TlsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = env.dir.File("cert.pem");
    key_ = env.dir.File("key.pem");
    WriteSelfSigned(cert_, key_);
  }
  void Start(const std::string& key_file) {
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.tls_cert_file = cert_;
    o.tls_key_file = key_file;
    o.handshake_timeout = std::chrono::seconds(1);
    server_ = std::make_unique<HttpServer>(*env.router, *env.blobs, o);
  }
  void Run() {
    ASSERT_OK(server_->Listen());
    thread_ = std::thread([this] { server_->RunUntilSignal(); });
  }
  void TearDown() override {
    if (thread_.joinable()) {
      server_->Shutdown();
      thread_.join();
    }
  }
  // One HTTPS request trusting only our certificate; "" when the handshake fails.
  std::string Get(int min_version = TLS1_2_VERSION, int max_version = 0) {
    std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_load_verify_locations(ctx.get(), cert_.c_str(), nullptr);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_min_proto_version(ctx.get(), min_version);
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    SSL_CTX_set_security_level(ctx.get(), 0);  // let the client offer old versions
    int fd = Connect(server_->port());
    std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), fd);
    std::string out;
    if (SSL_connect(ssl.get()) == 1) {
      const std::string req = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      SSL_write(ssl.get(), req.data(), static_cast<int>(req.size()));
      char buf[4096];
      int n;
      while ((n = SSL_read(ssl.get(), buf, sizeof buf)) > 0) out.append(buf, n);
    }
    ERR_clear_error();
    ::close(fd);
    return out;
  }

  server::testing::TestEnv env;
  std::string cert_, key_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST_F(TlsServerTest, ServesHttpsWithAVerifiedCertificate) {
  Start(key_);
  Run();
  EXPECT_TRUE(server_->tls());
  std::string reply = Get();
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 200");
  EXPECT_NE(reply.find("healthy"), std::string::npos);
}

TEST_F(TlsServerTest, RefusesTls11) {
  Start(key_);
  Run();
  EXPECT_EQ(Get(TLS1_VERSION, TLS1_1_VERSION), "");
  EXPECT_EQ(Get(TLS1_2_VERSION, TLS1_2_VERSION).substr(0, 12), "HTTP/1.1 200");
}

TEST_F(TlsServerTest, SilentConnectionIsClosedAfterTheHandshakeTimeout) {
  Start(key_);
  Run();
  int fd = Connect(server_->port());
  timeval limit{30, 0};  // a broken handshake timeout fails the test instead of hanging it
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit)), 0);
  auto start = std::chrono::steady_clock::now();
  char c;
  EXPECT_EQ(::recv(fd, &c, 1, 0), 0);  // closed, never a byte
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  ::close(fd);
}

// The event stream over TLS: the same streaming session, woken from another thread.
TEST_F(TlsServerTest, StreamsEventsOverTls) {
  Start(key_);
  Run();
  std::unique_ptr<SSL_CTX, CtxFree> ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_load_verify_locations(ctx.get(), cert_.c_str(), nullptr);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  int fd = Connect(server_->port());
  timeval limit{20, 0};  // a stream that never delivers fails the test instead of hanging it
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit)), 0);
  std::unique_ptr<SSL, SslFree> ssl(SSL_new(ctx.get()));
  SSL_set_fd(ssl.get(), fd);
  ASSERT_EQ(SSL_connect(ssl.get()), 1);
  const std::string req = "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                          env.admin_token + "\r\n\r\n";
  SSL_write(ssl.get(), req.data(), static_cast<int>(req.size()));
  std::string got;
  auto read_until = [&](const std::string& needle) {
    char buf[4096];
    int n;
    while (got.find(needle) == std::string::npos &&
           (n = SSL_read(ssl.get(), buf, sizeof buf)) > 0) {
      got.append(buf, static_cast<size_t>(n));
    }
    return got.find(needle) != std::string::npos;
  };
  ASSERT_TRUE(read_until("event: hello"));
  EXPECT_EQ(got.substr(0, 12), "HTTP/1.1 200");
  env.events->Publish(EventType::kPatchBuilt, R"({"model_id":"m"})");
  EXPECT_TRUE(read_until("id: 1\nevent: patch.built\ndata: {\"model_id\":\"m\""));
  ::close(fd);
  ERR_clear_error();
}

TEST_F(TlsServerTest, KeyThatDoesNotMatchTheCertificateFailsListen) {
  const std::string other_cert = env.dir.File("other.pem");
  const std::string other_key = env.dir.File("other.key");
  WriteSelfSigned(other_cert, other_key);
  Start(other_key);
  EXPECT_STATUS(server_->Listen(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace oxide::server::net
