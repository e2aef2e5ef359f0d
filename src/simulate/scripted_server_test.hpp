#pragma once

// A scripted HTTP/1.1 server on 127.0.0.1:0 for the simulator's tests (one thread per
// connection, keep-alive): each request is answered with handler(head, body).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace oxide::simulate::testing {

struct Reply {
  int status = 200;
  std::string body = "{}";
  std::string headers;  // extra "Name: value\r\n" lines
  int delay_ms = 0;     // before answering (a slow server)
};

// Answers each request with handler(head, body), keeping connections open.
class ScriptedServer {
 public:
  using Handler = std::function<Reply(const std::string& head, const std::string& body)>;
  explicit ScriptedServer(Handler handler) : handler_(std::move(handler)) {
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
  ~ScriptedServer() {
    ::shutdown(fd_, SHUT_RDWR);
    accept_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (int c : conns_) ::shutdown(c, SHUT_RDWR);
    for (auto& t : workers_) t.join();
    for (int c : conns_) ::close(c);
    ::close(fd_);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
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
      const Reply r = handler_(buf.substr(0, end), buf.substr(end + 4, body));
      buf.erase(0, end + 4 + body);
      if (r.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(r.delay_ms));
      const std::string reply = "HTTP/1.1 " + std::to_string(r.status) +
                                " X\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n" +
                                r.headers + "\r\n" + r.body;
      if (::send(c, reply.data(), reply.size(), MSG_NOSIGNAL) < 0) return;
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread accept_;
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> workers_;
};

}  // namespace oxide::simulate::testing
