// HttpServer over real loopback sockets: keep-alive, limits, streamed upload, ranged download,
// accounting when a client drops. The client is plain POSIX; waits poll state with a deadline.
#include "server/net/http_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <streambuf>
#include <thread>

#include "base/log.hpp"
#include "base/posix_file_system.hpp"
#include "server/service/committer_hold.hpp"
#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server::net {
namespace {

struct HttpReply {
  int status = 0;
  std::string headers;
  std::string body;
};

class Client {
 public:
  // `before_connect` runs between socket() and connect() (the fd already exists).
  // `address`: the loopback address to connect from and to (Linux routes all of 127/8 to lo),
  // so tests can act as several client addresses.
  explicit Client(uint16_t port, const std::function<void()>& before_connect = {},
                  uint32_t address = INADDR_LOOPBACK) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (before_connect) before_connect();
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (address != INADDR_LOOPBACK) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      local.sin_addr.s_addr = htonl(address);  // port 0: any
      ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local));
    }
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  }
  ~Client() { ::close(fd_); }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  // Every request these tests send is an admin's: "Host: x" lines get the token (auth itself is
  // tested at the router level, src/server/api/auth_test.cpp).
  static inline std::string token;
  // false when the peer stopped reading (reset, broken pipe) before everything was sent.
  bool Send(const std::string& raw) {
    std::string s = raw;
    constexpr std::string_view kHost = "\r\nHost: x\r\n";
    for (size_t at = s.find(kHost); !token.empty() && at != std::string::npos;
         at = s.find(kHost, at + kHost.size())) {
      s.insert(at + kHost.size(), "Authorization: Bearer " + token + "\r\n");
    }
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<size_t>(n);
    }
    return true;
  }
  // Reads one response (Content-Length framed); status 0 when the peer closed first.
  HttpReply Read(size_t max_body = SIZE_MAX) {
    HttpReply r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return r;
    }
    r.headers = buf_.substr(0, end + 4);
    buf_.erase(0, end + 4);
    r.status = std::stoi(r.headers.substr(9, 3));
    size_t cl = r.headers.find("Content-Length: ");
    size_t len = cl == std::string::npos ? 0 : std::stoul(r.headers.substr(cl + 16));
    len = std::min(len, max_body);
    while (buf_.size() < len) {
      if (!Fill()) break;
    }
    r.body = buf_.substr(0, std::min(len, buf_.size()));
    buf_.erase(0, r.body.size());
    return r;
  }
  bool PeerClosed() {
    char c;
    return ::recv(fd_, &c, 1, 0) == 0;
  }

 private:
  bool Fill() {
    char tmp[65536];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  int fd_;
  bool connected_ = false;
  std::string buf_;
};

using server::testing::CommitterHold;
using server::testing::WaitFor;

class HttpServerTest : public ::testing::Test {
 protected:
  virtual void Tune(HttpServerOptions&) {}
  virtual const api::Router& RouterToServe() { return *env.router; }
  virtual const BlobStore& StagingBlobs() { return *env.blobs; }
  void SetUp() override {
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    Tune(o);
    Client::token = env.admin_token;
    server_ = std::make_unique<HttpServer>(RouterToServe(), StagingBlobs(), o);
    ASSERT_TRUE(server_->Listen().ok());
    thread_ = std::thread([this] { server_->RunUntilSignal(); });
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    if (thread_.joinable()) thread_.join();
  }
  uint16_t port() const { return server_->port(); }

  server::testing::TestEnv env;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST_F(HttpServerTest, KeepAliveServesSeveralRequests) {
  Client c(port());
  ASSERT_TRUE(c.connected());
  for (int i = 0; i < 3; ++i) {
    c.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.Read();
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("healthy"), std::string::npos);
  }
}

TEST_F(HttpServerTest, HeadSendsGetHeadersWithoutTheBody) {
  Client c(port());
  c.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  auto get = c.Read();
  c.Send("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = c.Read(/*max_body=*/0);
  EXPECT_EQ(head.status, 200);
  EXPECT_NE(head.headers.find("Content-Length: " + std::to_string(get.body.size())),
            std::string::npos);
  c.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");  // no stray body bytes in between
  auto again = c.Read();
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(again.body, get.body);
}

TEST_F(HttpServerTest, OversizedContentLengthIs413BeforeTheBodyIsRead) {
  Client c(port());
  c.Send("POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("resource_exhausted"), std::string::npos);
  EXPECT_TRUE(c.PeerClosed());
}

TEST_F(HttpServerTest, MalformedRequestIs400Json) {
  Client c(port());
  c.Send("NOT HTTP AT ALL\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
}

// RFC 9112 6.1: a coding the server does not implement is 501, and the body must never be
// read as the next request (here a smuggled DELETE that would remove a device).
TEST_F(HttpServerTest, UnknownTransferCodingIs501AndNothingIsSmuggled) {
  ASSERT_TRUE(env.devices->Register("cam-1", "cam-1", {}).ok());
  const std::string smuggled = "DELETE /api/v1/devices/cam-1 HTTP/1.1\r\nHost: x\r\n\r\n";
  Client c(port());
  c.Send("POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" + smuggled);
  auto r = c.Read();
  EXPECT_EQ(r.status, 501);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
  EXPECT_TRUE(c.PeerClosed());
  EXPECT_TRUE(env.store->devices().Get("cam-1").ok());
}

TEST_F(HttpServerTest, GzipAfterChunkedIs501AndChunkedWithContentLengthIs400) {
  Client c(port());
  c.Send("POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n");
  EXPECT_EQ(c.Read().status, 501);
  Client both(port());
  both.Send(
      "POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Content-Length: 5\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(both.Read().status, 400);
}

TEST_F(HttpServerTest, MalformedChunkedBodyIs400) {
  Client c(port());
  c.Send(
      "POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "zz\r\n{}\r\n0\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("corrupt"), std::string::npos);
  Client up(port());
  up.Send(
      "POST /api/v1/models/m/versions/v1 HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n4\r\nabcdXX\r\n0\r\n\r\n");
  EXPECT_EQ(up.Read().status, 400);
  EXPECT_TRUE(WaitFor([&] { return std::filesystem::is_empty(env.blobs->root() + "/.tmp"); }));
}

TEST_F(HttpServerTest, JsonContentTypeIsMatchedExactlyAndCaseInsensitively) {
  const std::string body = R"({"id":"cam-2"})";
  auto post = [&](const std::string& ct) {
    Client c(port());
    c.Send("POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nContent-Type: " + ct +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    return c.Read().status;
  };
  EXPECT_EQ(post("application/jsonxyz"), 415);
  EXPECT_EQ(post("Application/JSON; charset=utf-8"), 201);
}

TEST_F(HttpServerTest, UploadIsStreamedAndRangedDownloadReturnsTheBytes) {
  std::string model(900 * 1024, '\0');
  for (size_t i = 0; i < model.size(); ++i) model[i] = static_cast<char>(i * 7 + i / 1000);
  Client c(port());
  c.Send(
      "POST /api/v1/models/m/versions/v1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: " +
      std::to_string(model.size()) + "\r\n\r\n");
  auto cont = c.Read();
  EXPECT_EQ(cont.status, 100);
  c.Send(model);
  auto up = c.Read();
  ASSERT_EQ(up.status, 201) << up.body;
  EXPECT_NE(up.body.find(ToHex(Sha256::Of(model))), std::string::npos);
  c.Send(
      "GET /api/v1/models/m/versions/v1/download HTTP/1.1\r\nHost: x\r\n"
      "Range: bytes=100000-\r\n\r\n");
  auto dl = c.Read();
  EXPECT_EQ(dl.status, 206);
  EXPECT_EQ(dl.body, model.substr(100000));
  EXPECT_TRUE(WaitFor([&] { return env.metrics.bytes_served() == model.size() - 100000; }));
}

TEST_F(HttpServerTest, UploadOverTheLimitLeavesNoTempFile) {
  Client c(port());
  c.Send(
      "POST /api/v1/models/m/versions/v1 HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n");
  std::string chunk(256 * 1024, 'x');
  char size_line[32];
  std::snprintf(size_line, sizeof(size_line), "%zx\r\n", chunk.size());
  for (int i = 0; i < 5; ++i) c.Send(size_line + chunk + "\r\n");  // 1.25 MiB > 1 MiB limit
  auto r = c.Read();
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(WaitFor([&] { return std::filesystem::is_empty(env.blobs->root() + "/.tmp"); }));
  EXPECT_EQ(env.store->models().ListModelIds()->size(), 0u);
}

TEST_F(HttpServerTest, DroppedDownloadIsAccountedWithTheBytesWritten) {
  std::string model(8 << 20, 'm');
  env.Upload("m", "v1", model);
  {
    Client c(port());
    c.Send("GET /api/v1/models/m/versions/v1/download HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.Read(/*max_body=*/1000);
    EXPECT_EQ(r.status, 200);
  }  // closes with most of the body unread
  EXPECT_TRUE(WaitFor([&] { return env.metrics.bytes_full_equivalent() > 0; }));
  EXPECT_GE(env.metrics.bytes_served(), 1000u);
  EXPECT_LE(env.metrics.bytes_served(), model.size());
}

class TunedServerTest : public HttpServerTest {
 protected:
  void Tune(HttpServerOptions& o) override {
    o.threads = 1;
    o.max_sessions = 1;
    o.accept_retry_delay = std::chrono::milliseconds(50);
  }
};

TEST_F(TunedServerTest, ConnectionsBeyondTheCapAreClosedAtOnce) {
  auto first = std::make_unique<Client>(port());
  first->Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(first->Read().status, 200);  // keep-alive: the session stays open
  EXPECT_EQ(server_->active_sessions(), 1u);
  Client second(port());
  EXPECT_TRUE(second.PeerClosed());
  first.reset();
  EXPECT_TRUE(WaitFor([&] { return server_->active_sessions() == 0; }));
  Client third(port());
  third.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(third.Read().status, 200);
}

TEST_F(TunedServerTest, AcceptErrorsBackOffInsteadOfSpinning) {
#if defined(__SANITIZE_ADDRESS__)
  // With the fd table exhausted the sanitizer runtime itself cannot open what it needs and
  // reports a bogus vptr error inside Asio; the release build runs this test.
  GTEST_SKIP() << "fd exhaustion confuses the sanitizer runtime";
#endif
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  struct Restore {
    rlimit r;
    ~Restore() { ::setrlimit(RLIMIT_NOFILE, &r); }
  } restore{saved};
  // After socket(): no new fd can be opened, so the server's accept() fails with EMFILE.
  Client c(port(), [&] {
    int next = ::dup(0);
    ::close(next);
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(next);
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  });
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(WaitFor([&] { return server_->accept_errors() >= 1; }));
  const uint64_t seen = server_->accept_errors();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return server_->accept_errors() >= seen + 3; }));
  // Errors are at least one retry delay apart, so the third one after t0 comes more than two
  // delays later; a spinning loop would take microseconds.
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(100));
  ::setrlimit(RLIMIT_NOFILE, &saved);
  c.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.Read().status, 200);  // the queued connection is served once fds are back
}

class OneIoThreadTest : public HttpServerTest {
 protected:
  void Tune(HttpServerOptions& o) override { o.threads = 1; }
};

TEST_F(OneIoThreadTest, UploadCommitDoesNotBlockTheIoThread) {
  // The access check reads the store on the I/O thread before the body: let it pass first
  // (100-continue), then hold the store.
  const std::string model = "a small model body";
  Client up(port());
  up.Send(
      "POST /api/v1/models/m/versions/v1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: " +
      std::to_string(model.size()) + "\r\n\r\n");
  EXPECT_EQ(up.Read().status, 100);
  // Hold the store so the upload handler blocks in its transaction, after the commit.
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  std::atomic<bool> held{false};
  std::thread holder([&] {
    Status st = env.store->InTransaction([&]() -> Status {
      held = true;
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return release; });
      return Status::Ok();
    });
    EXPECT_TRUE(st.ok());
  });
  auto unblock = [&] {
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
    }
    cv.notify_all();
  };
  EXPECT_TRUE(WaitFor([&] { return held.load(); }));
  up.Send(model);
  // The whole body is staged: the handler runs now and blocks on the store.
  EXPECT_TRUE(WaitFor([&] {
    for (const auto& e : std::filesystem::directory_iterator(env.blobs->root() + "/.tmp")) {
      std::error_code ec;
      if (std::filesystem::file_size(e.path(), ec) == model.size()) return true;
    }
    return false;
  }));
  Client other(port());
  timeval tv{20, 0};  // fail rather than hang if the I/O thread is stuck
  ::setsockopt(other.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  other.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(other.Read().status, 200);
  unblock();
  holder.join();
  EXPECT_EQ(up.Read().status, 201);
}

// A blob on disk that no longer hashes to its name is never served complete: the response is
// cut before its last chunk, and the blob is removed so a re-upload can replace it.
TEST_F(HttpServerTest, CorruptBlobIsCutShortOnAFullDownloadAndRemoved) {
  std::string model(200 * 1024, 'c');
  auto v = env.Upload("m", "v1", model);
  {
    std::fstream f(env.blobs->PathFor(v.sha256), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('X');
  }
  Client c(port());
  c.Send("GET /api/v1/models/m/versions/v1/download HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_LT(r.body.size(), model.size());  // short: the client's length check fails
  EXPECT_TRUE(WaitFor([&] { return !env.blobs->Exists(v.sha256); }));
  env.Upload("m", "v1", model);  // the same bytes again: repaired
  EXPECT_OK(env.blobs->Verify(v.sha256));
  Client again(port());
  again.Send("GET /api/v1/models/m/versions/v1/download HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(again.Read().body, model);
}

// The server's log, readable by the test while server threads write to it.
class SharedLog : public std::streambuf {
 public:
  std::string Contents() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  // How many times `needle` occurs in the log.
  size_t CountLines(const std::string& needle) {
    const std::string text = Contents();
    size_t n = 0;
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
      ++n;
    }
    return n;
  }

 protected:
  int overflow(int c) override {
    if (c != traits_type::eof()) {
      std::lock_guard<std::mutex> lock(mu_);
      text_.push_back(static_cast<char>(c));
    }
    return c;
  }
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    std::lock_guard<std::mutex> lock(mu_);
    text_.append(s, static_cast<size_t>(n));
    return n;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

class LoggedServerTest : public HttpServerTest {
 protected:
  void SetUp() override {
    log::Setup({.name = "oxide serve", .level = log::Level::kInfo, .stream = &stream_});
    HttpServerTest::SetUp();
  }
  void TearDown() override {
    HttpServerTest::TearDown();  // no server thread logs after this
    log::Setup(log::Options{});
  }
  SharedLog log_;
  std::ostream stream_{&log_};
};

constexpr char kDownload[] =
    "GET /api/v1/models/m/versions/v1/download HTTP/1.1\r\nHost: x\r\n\r\n";
constexpr char kDownloadLine[] = "path=/api/v1/models/m/versions/v1/download";

// A blob cut short on disk used to be served short (its hash was never checked: the size did
// not match) and never repaired. It is refused before any byte is sent, and removed.
TEST_F(LoggedServerTest, TruncatedBlobIsRefusedAndRemoved) {
  std::string model(200 * 1024, 't');
  auto v = env.Upload("m", "v1", model);
  std::filesystem::resize_file(env.blobs->PathFor(v.sha256), 100 * 1024);
  Client c(port());
  c.Send(kDownload);
  auto r = c.Read();
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("upload it again"), std::string::npos) << r.body;
  EXPECT_TRUE(WaitFor([&] { return !env.blobs->Exists(v.sha256); }));
  EXPECT_TRUE(WaitFor([&] { return log_.CountLines(kDownloadLine) == 1; })) << log_.Contents();
  env.Upload("m", "v1", model);  // the same bytes again: repaired
  Client again(port());
  again.Send(kDownload);
  EXPECT_EQ(again.Read().body, model);
}

// A response cut short mid-body (corrupt bytes) is logged and accounted once.
TEST_F(LoggedServerTest, CutShortResponseIsLoggedAndAccountedOnce) {
  std::string model(200 * 1024, 'c');
  auto v = env.Upload("m", "v1", model);
  {
    std::fstream f(env.blobs->PathFor(v.sha256), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('X');
  }
  {
    Client c(port());
    c.Send(kDownload);
    EXPECT_LT(c.Read().body.size(), model.size());
  }
  EXPECT_TRUE(WaitFor([&] { return log_.CountLines(kDownloadLine) == 1; })) << log_.Contents();
  EXPECT_NE(log_.Contents().find("blob is corrupt"), std::string::npos) << log_.Contents();
  EXPECT_TRUE(WaitFor([&] { return env.metrics.bytes_served() > 0; }));
  EXPECT_LT(env.metrics.bytes_served(), model.size());
}

// A transfer-coding reject is logged with the method and path it was for.
TEST_F(LoggedServerTest, TransferCodingRejectIsLoggedWithItsPath) {
  Client c(port());
  c.Send("POST /api/v1/devices?x=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n");
  EXPECT_EQ(c.Read().status, 501);
  EXPECT_TRUE(WaitFor([&] { return log_.CountLines("method=POST path=/api/v1/devices ") == 1; }))
      << log_.Contents();
}

// A file system whose disk fills up after `budget` bytes of appends (ENOSPC).
class FullDiskFileSystem final : public FileSystem {
 public:
  explicit FullDiskFileSystem(uint64_t budget) : budget_(budget) {}
  Result<std::unique_ptr<WritableFile>> OpenForAppend(const std::string& path,
                                                      bool truncate) override {
    OXIDE_ASSIGN_OR_RETURN(auto f, base_.OpenForAppend(path, truncate));
    return std::unique_ptr<WritableFile>(new File(std::move(f), &budget_));
  }
  Result<std::string> ReadFile(const std::string& p, size_t max) override {
    return base_.ReadFile(p, max);
  }
  Result<uint64_t> FileSize(const std::string& p) override { return base_.FileSize(p); }
  Status Truncate(const std::string& p, uint64_t n) override { return base_.Truncate(p, n); }
  Status Rename(const std::string& a, const std::string& b) override { return base_.Rename(a, b); }
  Status Link(const std::string& a, const std::string& b) override { return base_.Link(a, b); }
  Status Remove(const std::string& p) override { return base_.Remove(p); }
  Status SyncDir(const std::string& d) override { return base_.SyncDir(d); }
  Status CreateDirs(const std::string& d) override { return base_.CreateDirs(d); }
  Result<std::vector<std::string>> ListDir(const std::string& d) override {
    return base_.ListDir(d);
  }

 private:
  class File final : public WritableFile {
   public:
    File(std::unique_ptr<WritableFile> f, std::atomic<uint64_t>* budget)
        : f_(std::move(f)), budget_(budget) {}
    Status Append(const void* data, size_t n) override {
      if (budget_->load() < n) return ErrnoError("write", ENOSPC);
      *budget_ -= n;
      return f_->Append(data, n);
    }
    Status Sync() override { return f_->Sync(); }

   private:
    std::unique_ptr<WritableFile> f_;
    std::atomic<uint64_t>* budget_;
  };
  PosixFileSystem base_;
  std::atomic<uint64_t> budget_;
};

class FullDiskTest : public HttpServerTest {
 protected:
  const api::Router& RouterToServe() override {
    api::ApiLimits limits;
    limits.max_upload = 64 << 20;
    router_ = std::make_unique<api::Router>(
        api::ApiDeps{*env.devices, *env.fleets, *env.models, *env.campaigns, *env.heartbeats,
                     *env.blobs, env.metrics, limits, *env.auth, *env.authenticator});
    return *router_;
  }
  const BlobStore& StagingBlobs() override {
    staging_ = std::move(BlobStore::Open(full_disk_, env.clock, env.dir.File("staging"))).value();
    return *staging_;
  }
  FullDiskFileSystem full_disk_{1 << 20};
  std::unique_ptr<api::Router> router_;
  std::unique_ptr<BlobStore> staging_;
};

// The disk fills 1 MiB into a 24 MiB upload: the client still sends its whole body and gets a
// 507 response, not a reset (the server used to stop reading after 8 MiB and close).
TEST_F(FullDiskTest, DiskFullOnALargeUploadIsA507ResponseNotABrokenPipe) {
  const std::string body(24 << 20, 'u');
  Client c(port());
  ASSERT_TRUE(
      c.Send("POST /api/v1/models/m/versions/v1 HTTP/1.1\r\nHost: x\r\n"
             "Content-Length: " +
             std::to_string(body.size()) + "\r\n\r\n"));
  EXPECT_TRUE(c.Send(body));
  auto r = c.Read();
  EXPECT_EQ(r.status, 507);
  EXPECT_NE(r.body.find("insufficient_storage"), std::string::npos);
  EXPECT_TRUE(std::filesystem::is_empty(env.dir.File("staging/.tmp")));
}

class PerAddressLimitTest : public HttpServerTest {
 protected:
  void Tune(HttpServerOptions& o) override {
    o.max_sessions_per_address = 2;
    o.header_timeout = std::chrono::seconds(1);
    o.read_timeout = std::chrono::seconds(1);
    o.rate_limits.heartbeat_per_device = {1, 1};
  }
  static constexpr uint32_t kOtherLoopback = 0x7f000002;  // 127.0.0.2
};

// One address flooding idle sockets gets its share and no more; another address is served.
TEST_F(PerAddressLimitTest, OneAddressCannotTakeEveryConnection) {
  Client a(port()), b(port());
  ASSERT_TRUE(WaitFor([&] { return server_->active_sessions() == 2; }));
  Client third(port());
  EXPECT_TRUE(third.PeerClosed());
  EXPECT_EQ(server_->active_sessions(), 2u);  // closed at accept, not by the header timeout
  Client other(port(), {}, kOtherLoopback);
  other.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(other.Read().status, 200);
}

// A connection that never sends a request is closed after header_timeout (1 s here), which
// gives its slot back.
TEST_F(PerAddressLimitTest, SilentConnectionIsClosedAndItsSlotReturns) {
  Client a(port()), b(port());
  EXPECT_TRUE(a.PeerClosed());
  EXPECT_TRUE(b.PeerClosed());
  ASSERT_TRUE(WaitFor([&] { return server_->active_sessions() == 0; }));
  Client c(port());
  c.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.Read().status, 200);
}

TEST_F(PerAddressLimitTest, HeaderSentTooSlowlyIsCutOff) {
  Client c(port());
  c.Send("GET /health HTTP/1.1\r\n");  // and never the end of the header
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.PeerClosed());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(PerAddressLimitTest, BodySentTooSlowlyIsCutOff) {
  Client c(port());
  c.Send(
      "POST /api/v1/devices HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: 100\r\n\r\n{\"id\":");  // and never the rest
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(c.Read().status, 0);  // closed without an answer
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_TRUE(WaitFor([&] { return server_->active_sessions() == 0; }));
}

TEST_F(PerAddressLimitTest, HeartbeatOverTheDeviceRateIs429WithRetryAfter) {
  ASSERT_TRUE(env.devices->Register("cam-1", "cam-1", {}).ok());
  const std::string hb =
      "POST /api/v1/devices/cam-1/heartbeat HTTP/1.1\r\nHost: x\r\n"
      "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
  Client first(port());
  first.Send(hb);
  EXPECT_NE(first.Read().status, 429);
  Client second(port());
  second.Send(hb);
  auto r = second.Read();
  EXPECT_EQ(r.status, 429);
  EXPECT_NE(r.headers.find("Retry-After: 1"), std::string::npos);
  EXPECT_NE(r.body.find("rate_limited"), std::string::npos);
}

const std::string kHeartbeatBody = "{\"agent_version\":\"async\"}";
const std::string kHeartbeat =
    "POST /api/v1/devices/cam-1/heartbeat HTTP/1.1\r\nHost: x\r\n"
    "Content-Type: application/json\r\nContent-Length: " +
    std::to_string(kHeartbeatBody.size()) + "\r\n\r\n" + kHeartbeatBody;

// One I/O thread: a heartbeat waiting for its commit does not hold it, so /health is answered
// meanwhile; the heartbeat is answered once its batch committed.
TEST_F(OneIoThreadTest, HeartbeatWaitsForItsCommitWithoutHoldingTheIoThread) {
  ASSERT_TRUE(env.devices->Register("cam-1", "cam-1", {}).ok());
  auto& group = env.heartbeats->group_commit();
  CommitterHold hold(group);
  Client hb(port());
  ASSERT_TRUE(hb.Send(kHeartbeat));
  ASSERT_TRUE(WaitFor([&] { return group.waiting() == 1; }));
  Client health(port());
  health.Send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(health.Read().status, 200);
  hold.Release();
  auto r = hb.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("poll_interval_seconds"), std::string::npos);
  EXPECT_EQ(env.store->devices().Get("cam-1")->agent_version, "async");
  // Keep-alive goes on after a deferred answer.
  ASSERT_TRUE(hb.Send(kHeartbeat));
  EXPECT_EQ(hb.Read().status, 200);
}

// The client leaves while its heartbeat waits: the heartbeat is still stored (never
// acknowledged, which is allowed), the late answer finds the connection gone, and the server
// goes on serving.
TEST_F(HttpServerTest, ClientGoneBeforeTheCommitIsHarmless) {
  ASSERT_TRUE(env.devices->Register("cam-1", "cam-1", {}).ok());
  auto& group = env.heartbeats->group_commit();
  const uint64_t items = group.items();
  {
    CommitterHold hold(group);
    Client hb(port());
    ASSERT_TRUE(hb.Send(kHeartbeat));
    ASSERT_TRUE(WaitFor([&] { return group.waiting() == 1; }));
  }  // the client closes, then the committer is released
  ASSERT_TRUE(WaitFor([&] { return group.items() == items + 2; }));
  EXPECT_EQ(env.store->devices().Get("cam-1")->agent_version, "async");
  ASSERT_TRUE(WaitFor([&] { return server_->active_sessions() == 0; }));
  Client next(port());
  ASSERT_TRUE(next.Send(kHeartbeat));
  EXPECT_EQ(next.Read().status, 200);
}

// Shutdown while a heartbeat waits for its commit: the server stops, its destruction waits for
// the late answer (which releases the session off the stopped I/O threads), nothing leaks or
// crashes (the sanitizer build checks), and the heartbeat was stored.
TEST_F(HttpServerTest, ShutdownWithAHeartbeatWaitingForItsCommit) {
  ASSERT_TRUE(env.devices->Register("cam-1", "cam-1", {}).ok());
  auto& group = env.heartbeats->group_commit();
  const uint64_t items = group.items();
  auto hold = std::make_unique<CommitterHold>(group);
  Client hb(port());
  ASSERT_TRUE(hb.Send(kHeartbeat));
  ASSERT_TRUE(WaitFor([&] { return group.waiting() == 1; }));
  server_->Shutdown();
  thread_.join();
  std::thread release([&] { hold->Release(); });
  server_.reset();  // returns once the waiting heartbeat was answered
  release.join();
  EXPECT_EQ(group.items(), items + 2);
  EXPECT_EQ(env.store->devices().Get("cam-1")->agent_version, "async");
  EXPECT_EQ(hb.Read().status, 0);  // closed without an answer
}

class AuthLimitTest : public HttpServerTest {
 protected:
  void Tune(HttpServerOptions& o) override { o.rate_limits.auth_per_address = {0.001, 1}; }
};

// A 401 answered before the body is read (an upload without a token) spends the address's
// authentication budget like any other 401: otherwise uploads would be a free token oracle.
TEST_F(AuthLimitTest, UploadRefusedBeforeItsBodySpendsTheAuthBudget) {
  Client c(port());
  // "Host: y": no token is added (see Client::Send).
  c.Send(
      "POST /api/v1/models/m/versions/v1 HTTP/1.1\r\nHost: y\r\n"
      "Content-Length: 10\r\n\r\n");
  EXPECT_EQ(c.Read().status, 401);
  Client next(port());
  next.Send("GET /api/v1/devices HTTP/1.1\r\nHost: y\r\n\r\n");
  EXPECT_EQ(next.Read().status, 429);
}

TEST_F(HttpServerTest, OversizedHeaderIs431) {
  Client c(port());
  c.Send("GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  EXPECT_EQ(c.Read().status, 431);
}

}  // namespace
}  // namespace oxide::server::net
