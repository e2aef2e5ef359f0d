// CurlTransport against a minimal in-process HTTP/1.1 server on 127.0.0.1:0.
#include "http_client/curl_transport.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "base/stop_flag.hpp"
#include "testing/status_matchers.hpp"

namespace oxide {
namespace {

// Serves one connection at a time; the handler gets the socket and the request head.
class TinyServer {
 public:
  using Handler = std::function<void(int fd, const std::string& head)>;
  explicit TinyServer(Handler h) : handler_(std::move(h)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TinyServer() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Waits (bounded) until the client closes the connection or the server stops.
  void HoldUntilClientLeaves(int fd) {
    for (int i = 0; i < 300 && !stopping_; ++i) {
      pollfd p{fd, POLLIN, 0};
      char c;
      if (::poll(&p, 1, 100) > 0 && ::recv(fd, &c, 1, 0) <= 0) return;
    }
  }
  std::string last_head;

 private:
  void Loop() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      last_head = head;
      handler_(c, head);
      ::close(c);
    }
  }
  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

void Send(int fd, const std::string& s) {
  ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
  static_cast<void>(n);  // the client may have gone; the test checks what it received
}

class StringSink final : public DownloadSink {
 public:
  Status OnResponse(const HttpResponseHead& head) override {
    heads.push_back(head);
    return Status::Ok();
  }
  Status Write(const uint8_t* data, size_t n) override {
    body.append(reinterpret_cast<const char*>(data), n);
    if (on_write) return on_write();
    return Status::Ok();
  }
  std::vector<HttpResponseHead> heads;
  std::string body;
  std::function<Status()> on_write;
};

class CurlTransportTest : public ::testing::Test {
 protected:
  CurlOptions Fast() {
    CurlOptions o;
    o.low_speed_time = std::chrono::seconds(1);
    o.connect_timeout = std::chrono::seconds(5);
    return o;
  }
  CurlGlobal global_;
  StopFlag stop_;
};

TEST_F(CurlTransportTest, GetStreamsTheBodyAndLowercasesHeaders) {
  TinyServer server([](int fd, const std::string&) {
    Send(fd,
         "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Oxide-SHA256: abc\r\n"
         "Connection: close\r\n\r\nhello");
  });
  CurlTransport t(Fast(), &stop_);
  StringSink sink;
  auto r = t.Get({server.Url("/x"), {{"X-Oxide-Device-Id", "d1"}}, nullptr}, sink);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->head.status, 200);
  EXPECT_EQ(sink.body, "hello");
  ASSERT_EQ(sink.heads.size(), 1u);
  EXPECT_EQ(sink.heads[0].Header("x-oxide-sha256"), "abc");
  EXPECT_NE(server.last_head.find("X-Oxide-Device-Id: d1"), std::string::npos);
}

TEST_F(CurlTransportTest, ErrorBodyIsCollectedNotWritten) {
  TinyServer server([](int fd, const std::string&) {
    Send(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\nConnection: close\r\n\r\nmissing");
  });
  CurlTransport t(Fast(), &stop_);
  StringSink sink;
  auto r = t.Get({server.Url("/x"), {}, nullptr}, sink);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->head.status, 404);
  EXPECT_EQ(r->error_body, "missing");
  EXPECT_EQ(sink.body, "");
}

TEST_F(CurlTransportTest, StallIsDetectedWithoutATotalTimeout) {
  TinyServer server([&](int fd, const std::string&) {
    Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
    // Holds the connection open without sending more.
  });
  CurlTransport t(Fast(), &stop_);
  StringSink sink;
  auto start = std::chrono::steady_clock::now();
  auto r = t.Get({server.Url("/x"), {}, nullptr}, sink);
  EXPECT_STATUS(r.status(), ErrorCode::kUnavailable);
  EXPECT_EQ(sink.body, "0123456789");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
}

TEST_F(CurlTransportTest, StopRequestCancelsATransferPromptly) {
  TinyServer* srv = nullptr;
  TinyServer server([&](int fd, const std::string&) {
    Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789");
    srv->HoldUntilClientLeaves(fd);
  });
  srv = &server;
  CurlOptions slow = Fast();
  slow.low_speed_time = std::chrono::seconds(60);
  CurlTransport t(slow, &stop_);
  StringSink sink;
  sink.on_write = [this] {
    stop_.Request();
    return Status::Ok();
  };
  auto r = t.Get({server.Url("/x"), {}, nullptr}, sink);
  EXPECT_STATUS(r.status(), ErrorCode::kCancelled);
}

TEST_F(CurlTransportTest, SinkErrorAbortsWithThatError) {
  TinyServer server([](int fd, const std::string&) {
    Send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  });
  CurlTransport t(Fast(), &stop_);
  StringSink sink;
  sink.on_write = [] { return IoError("disk full"); };
  EXPECT_STATUS(t.Get({server.Url("/x"), {}, nullptr}, sink).status(), ErrorCode::kIo);
}

TEST_F(CurlTransportTest, PostJsonReturnsStatusAndBody) {
  TinyServer server([](int fd, const std::string& head) {
    std::string body = head.find("application/json") != std::string::npos ? "{\"ok\":1}" : "?";
    Send(fd, "HTTP/1.1 201 Created\r\nContent-Length: " + std::to_string(body.size()) +
                 "\r\nConnection: close\r\n\r\n" + body);
  });
  CurlTransport t(Fast(), &stop_);
  auto r = t.PostJson(server.Url("/api"), "{}");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "{\"ok\":1}");
}

// A stream that sends nothing still ticks, so its reader can give up on its own terms.
TEST_F(CurlTransportTest, TickErrorEndsAnIdleStream) {
  TinyServer* srv = nullptr;
  TinyServer server([&](int fd, const std::string&) {
    Send(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n: hello\n");
    srv->HoldUntilClientLeaves(fd);
  });
  srv = &server;
  CurlOptions slow = Fast();
  slow.low_speed_time = std::chrono::seconds(60);
  CurlTransport t(slow, &stop_);
  class TickSink final : public DownloadSink {
   public:
    Status OnResponse(const HttpResponseHead&) override { return Status::Ok(); }
    Status Write(const uint8_t*, size_t) override {
      wrote = true;
      return Status::Ok();
    }
    Status OnTick() override { return wrote ? Cancelled("seen enough") : Status::Ok(); }
    bool wrote = false;
  } sink;
  auto start = std::chrono::steady_clock::now();
  EXPECT_STATUS(t.Get({server.Url("/events"), {}, nullptr}, sink).status(), ErrorCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// The upload is framed by Content-Length and its bytes arrive intact; progress reaches the end.
TEST_F(CurlTransportTest, UploadStreamsAFileWithItsSize) {
  std::string path = ::testing::TempDir() + "/oxide-upload-test.bin";
  std::string content(300 * 1024 + 7, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 31);
  std::ofstream(path, std::ios::binary) << content;
  std::string received;
  TinyServer server([&](int fd, const std::string& head) {
    size_t body_at = head.find("\r\n\r\n") + 4;
    received = head.substr(body_at);
    if (head.find("Expect: 100-continue") != std::string::npos) {
      Send(fd, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    char buf[65536];
    while (received.size() < content.size()) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      received.append(buf, static_cast<size_t>(n));
    }
    Send(fd, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  });
  CurlTransport t(Fast(), &stop_);
  uint64_t last_sent = 0, last_total = 0;
  UploadRequest up;
  up.url = server.Url("/api/v1/models/m/versions/1");
  up.file_path = path;
  up.headers = {{"Authorization", "Bearer x"}};
  up.on_progress = [&](uint64_t sent, uint64_t total) {
    last_sent = sent;
    last_total = total;
  };
  auto r = t.Upload(up);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "ok");
  EXPECT_TRUE(received == content) << received.size();
  EXPECT_NE(server.last_head.find("Content-Length: " + std::to_string(content.size())),
            std::string::npos);
  EXPECT_NE(server.last_head.find("POST /api/v1/models/m/versions/1 "), std::string::npos);
  EXPECT_EQ(last_sent, content.size());
  EXPECT_EQ(last_total, content.size());
  std::remove(path.c_str());
}

TEST_F(CurlTransportTest, UploadOfAMissingFileIsNotFound) {
  CurlTransport t(Fast(), &stop_);
  UploadRequest up;
  up.url = "http://127.0.0.1:1/x";
  up.file_path = ::testing::TempDir() + "/oxide-no-such-file";
  EXPECT_STATUS(t.Upload(up).status(), ErrorCode::kNotFound);
}

TEST_F(CurlTransportTest, ConnectionRefusedIsUnavailable) {
  std::string url;
  {
    TinyServer server([](int, const std::string&) {});
    url = server.Url("/gone");
  }
  CurlTransport t(Fast(), &stop_);
  EXPECT_STATUS(t.PostJson(url, "{}").status(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace oxide
