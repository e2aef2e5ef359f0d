// HttpMulti against a minimal keep-alive HTTP/1.1 server on 127.0.0.1:0.
#include "simulate/http_multi.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_client/curl_transport.hpp"

namespace oxide::simulate {
namespace {

// Answers every request on every connection with `body` (200, Content-Length), keeping the
// connection open; counts the connections it accepted.
class KeepAliveServer {
 public:
  explicit KeepAliveServer(std::string body) : body_(std::move(body)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 64), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_ = std::thread([this] { Accept(); });
  }
  ~KeepAliveServer() {
    ::shutdown(fd_, SHUT_RDWR);
    accept_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (int c : conns_) ::shutdown(c, SHUT_RDWR);
    for (auto& t : workers_) t.join();
    for (int c : conns_) ::close(c);
    ::close(fd_);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/x"; }
  int connections() const { return accepted_.load(); }

 private:
  void Accept() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      ++accepted_;
      std::lock_guard<std::mutex> lock(mu_);
      conns_.push_back(c);
      workers_.emplace_back([this, c] { Serve(c); });
    }
  }
  void Serve(int c) {
    std::string buf;
    char chunk[4096];
    for (;;) {
      const auto end = buf.find("\r\n\r\n");
      if (end == std::string::npos) {
        const ssize_t n = ::recv(c, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        buf.append(chunk, static_cast<size_t>(n));
        continue;
      }
      size_t body = 0;
      if (auto cl = buf.find("Content-Length: "); cl != std::string::npos && cl < end) {
        body = std::stoul(buf.substr(cl + 16));
      }
      while (buf.size() < end + 4 + body) {
        const ssize_t n = ::recv(c, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        buf.append(chunk, static_cast<size_t>(n));
      }
      buf.erase(0, end + 4 + body);
      const std::string reply =
          "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body_.size()) +
          "\r\nX-Test: yes\r\n\r\n" + body_;
      if (::send(c, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) return;
    }
  }

  std::string body_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread accept_;
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> workers_;
};

// Polls until nothing is in flight (bounded: a hung transfer fails the test).
void Drain(HttpMulti& http) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (http.in_flight() > 0 && std::chrono::steady_clock::now() < deadline) http.Poll(50);
  ASSERT_EQ(http.in_flight(), 0u);
}

TEST(HttpMulti, ManyRequestsReuseFewConnections) {
  CurlGlobal curl;
  KeepAliveServer server("ok");
  auto http = HttpMulti::Create(4).value();
  int done = 0, ok = 0;
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 4; ++i) {
      HttpRequest r;
      r.post = i % 2 == 0;
      r.url = server.Url();
      r.body = "{\"n\":1}";
      http->Start(std::move(r), [&](HttpOutcome o) {
        ++done;
        ok += o.status == 200 && o.body == "ok" && o.error == TransportError::kNone;
      });
    }
    Drain(*http);
  }
  EXPECT_EQ(done, 40);  // each DoneFn exactly once
  EXPECT_EQ(ok, 40);
  EXPECT_LE(server.connections(), 4);  // keep-alive: reused, never more than the cap
}

TEST(HttpMulti, StreamsA2xxBodyThroughTheCallbacks) {
  CurlGlobal curl;
  KeepAliveServer server(std::string(100'000, 'z'));
  auto http = HttpMulti::Create(1).value();
  std::string streamed, header;
  HttpOutcome got;
  HttpRequest r;
  r.url = server.Url();
  http->Start(
      std::move(r), [&](HttpOutcome o) { got = std::move(o); },
      [&](int status, const HeaderMap& h) {
        header = h.count("x-test") ? h.at("x-test") : "";
        return status == 200;
      },
      [&](const char* d, size_t n) {
        streamed.append(d, n);
        return true;
      });
  Drain(*http);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(header, "yes");
  EXPECT_EQ(streamed.size(), 100'000u);
  EXPECT_TRUE(got.body.empty());  // streamed, not collected
  EXPECT_EQ(got.bytes_down, 100'000u);
}

TEST(HttpMulti, ABodyCallbackThatSaysStopAbortsTheTransfer) {
  CurlGlobal curl;
  KeepAliveServer server(std::string(100'000, 'z'));
  auto http = HttpMulti::Create(1).value();
  HttpOutcome got;
  HttpRequest r;
  r.url = server.Url();
  http->Start(
      std::move(r), [&](HttpOutcome o) { got = std::move(o); }, {},
      [](const char*, size_t) { return false; });
  Drain(*http);
  EXPECT_EQ(got.error, TransportError::kAborted);
}

TEST(HttpMulti, AClosedPortIsAConnectError) {
  CurlGlobal curl;
  int port = 0;
  {
    KeepAliveServer gone("");
    port = std::stoi(gone.Url().substr(17));
  }
  auto http = HttpMulti::Create(2).value();
  HttpOutcome got;
  HttpRequest r;
  r.url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  http->Start(std::move(r), [&](HttpOutcome o) { got = std::move(o); });
  Drain(*http);
  EXPECT_EQ(got.error, TransportError::kConnect);
  EXPECT_EQ(got.status, 0);
}

}  // namespace
}  // namespace oxide::simulate
