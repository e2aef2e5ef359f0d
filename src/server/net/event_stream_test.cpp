// GET /api/v1/events against the real HttpServer on loopback: a plain POSIX client decodes the
// chunked body and the server-sent events in it. Waits poll with a deadline; every socket read
// has a timeout, so a broken stream fails a test instead of hanging it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "server/net/http_server.hpp"
#include "server/service/events.hpp"
#include "server/service/test_env.hpp"
#include "testing/status_matchers.hpp"

namespace oxide::server::net {
namespace {

struct Message {
  std::string id, event, data, comment;
};

class SseClient {
 public:
  // `rcvbuf` > 0: a small receive buffer (set before connect), for a reader that falls behind.
  SseClient(uint16_t port, const std::string& target, const std::string& token,
            const std::string& extra_headers = "", int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    timeval limit{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\n";
    if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
    req += extra_headers + "\r\n";
    EXPECT_EQ(::send(fd_, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  }
  ~SseClient() { Close(); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // The status code; the headers in *headers. 0 when the peer closed first.
  int ReadHead(std::string* headers = nullptr) {
    size_t end;
    while ((end = raw_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return 0;
    }
    head_ = raw_.substr(0, end + 4);
    raw_.erase(0, end + 4);
    if (headers != nullptr) *headers = head_;
    return std::stoi(head_.substr(9, 3));
  }
  // A non-streamed answer's body (Content-Length framed).
  std::string ReadBody() {
    size_t cl = head_.find("Content-Length: ");
    size_t len = cl == std::string::npos ? 0 : std::stoul(head_.substr(cl + 16));
    while (raw_.size() < len && Fill()) {
    }
    return raw_.substr(0, len);
  }
  // The next message (a keepalive comes back as comment "keepalive"); nullopt at the end of
  // the stream (terminating chunk, close or read timeout).
  std::optional<Message> Next() {
    size_t end;
    Decode();  // the head's read may have brought chunks along
    while ((end = text_.find("\n\n")) == std::string::npos) {
      if (ended_ || !Fill()) return std::nullopt;
      Decode();
    }
    Message m;
    std::string_view block(text_.data(), end);
    while (!block.empty()) {
      std::string_view line = block.substr(0, block.find('\n'));
      block.remove_prefix(std::min(block.size(), line.size() + 1));
      auto value = [&](std::string_view prefix) { return std::string(line.substr(prefix.size())); };
      if (line.starts_with("id: ")) m.id = value("id: ");
      if (line.starts_with("event: ")) m.event = value("event: ");
      if (line.starts_with("data: ")) m.data = value("data: ");
      if (line.starts_with(": ")) m.comment = value(": ");
    }
    text_.erase(0, end + 2);
    return m;
  }
  // The next message that is not a keepalive.
  std::optional<Message> NextEvent() {
    auto m = Next();
    while (m && !m->comment.empty()) m = Next();
    return m;
  }
  // Reads (and drops) until the server closes: true when it did before the read timeout.
  bool DrainUntilClosed() {
    char buf[65536];
    while (true) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
      if (n < 0) return false;
    }
  }

 private:
  bool Fill() {
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    raw_.append(buf, static_cast<size_t>(n));
    return true;
  }
  // Moves every complete chunk of raw_ into text_.
  void Decode() {
    while (!ended_) {
      size_t eol = raw_.find("\r\n");
      if (eol == std::string::npos) return;
      size_t size = std::stoul(raw_.substr(0, eol), nullptr, 16);
      if (raw_.size() < eol + 2 + size + 2) return;
      text_.append(raw_, eol + 2, size);
      raw_.erase(0, eol + 2 + size + 2);
      ended_ = size == 0;
    }
  }
  int fd_ = -1;
  std::string raw_, head_, text_;
  bool ended_ = false;
};

template <class F>
bool WaitFor(F f) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!f()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::string Data(const std::string& campaign) { return R"({"campaign_id":")" + campaign + "\"}"; }

class EventStreamTest : public ::testing::Test {
 protected:
  virtual std::chrono::milliseconds Keepalive() { return std::chrono::hours(1); }
  void SetUp() override {
    api::ApiDeps deps{*env.devices,    *env.fleets,       *env.models, *env.campaigns,
                      *env.heartbeats, *env.blobs,        env.metrics, api::ApiLimits{},
                      *env.auth,       *env.authenticator};
    deps.events = &bus_;
    deps.event_keepalive = Keepalive();
    router_ = std::make_unique<api::Router>(deps);
    HttpServerOptions o;
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    server_ = std::make_unique<HttpServer>(*router_, *env.blobs, o);
    ASSERT_OK(server_->Listen());
    thread_ = std::thread([this] { server_->RunUntilSignal(); });
  }
  void TearDown() override { Stop(); }
  void Stop() {
    if (!thread_.joinable()) return;
    server_->Shutdown();
    thread_.join();
  }
  std::unique_ptr<SseClient> Open(const std::string& query = "", const std::string& extra = "",
                                  int rcvbuf = 0) {
    return std::make_unique<SseClient>(server_->port(), "/api/v1/events" + query, env.admin_token,
                                       extra, rcvbuf);
  }
  // Opens a stream and reads its hello: subscribed from then on.
  std::unique_ptr<SseClient> Subscribed(const std::string& query = "",
                                        const std::string& extra = "") {
    auto c = Open(query, extra);
    EXPECT_EQ(c->ReadHead(), 200);
    auto hello = c->Next();
    EXPECT_TRUE(hello && hello->event == "hello");
    return c;
  }

  server::testing::TestEnv env;
  // history 8, queue 16, 2 streams at most, a fixed stream id
  EventBus bus_{env.clock, EventBusOptions{8, 16, 2, "stream-1"}};
  std::unique_ptr<api::Router> router_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
};

TEST_F(EventStreamTest, HelloThenEventsInOrder) {
  bus_.Publish(EventType::kCampaignState, Data("old"));
  auto c = Open();
  std::string headers;
  ASSERT_EQ(c->ReadHead(&headers), 200);
  EXPECT_NE(headers.find("Content-Type: text/event-stream"), std::string::npos);
  EXPECT_NE(headers.find("Cache-Control: no-store"), std::string::npos);
  auto hello = c->Next();
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->event, "hello");
  EXPECT_EQ(hello->data, R"({"last_event_id":1,"stream_id":"stream-1"})");
  bus_.Publish(EventType::kCampaignState, Data("c1"));
  bus_.Publish(EventType::kCampaignDevice, Data("c2"));
  auto a = c->NextEvent();
  auto b = c->NextEvent();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->id, "2");
  EXPECT_EQ(a->event, "campaign.state");
  EXPECT_NE(a->data.find(R"("campaign_id":"c1")"), std::string::npos);
  EXPECT_EQ(b->id, "3");
  EXPECT_EQ(b->event, "campaign.device");
}

TEST_F(EventStreamTest, ResumesWithoutLossOrDuplicates) {
  auto first = Subscribed();
  for (int i = 0; i < 3; ++i) bus_.Publish(EventType::kCampaignState, Data("c"));
  auto e1 = first->NextEvent();
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->id, "1");
  first.reset();  // the client drops after id 1
  ASSERT_TRUE(WaitFor([&] { return bus_.subscriber_count() == 0; }));
  bus_.Publish(EventType::kCampaignState, Data("c"));
  auto header = Subscribed("?stream_id=stream-1", "Last-Event-ID: 1\r\n");
  auto query = Subscribed("?last_event_id=3&stream_id=stream-1");
  bus_.Publish(EventType::kCampaignState, Data("c"));
  for (const char* want : {"2", "3", "4", "5"}) {
    auto e = header->NextEvent();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->id, want);
  }
  for (const char* want : {"4", "5"}) {
    auto e = query->NextEvent();
    ASSERT_TRUE(e);
    EXPECT_EQ(e->id, want);
  }
}

TEST_F(EventStreamTest, GapSendsResetOnceThenLiveEvents) {
  for (int i = 0; i < 12; ++i) bus_.Publish(EventType::kCampaignState, Data("c"));  // 5..12 kept
  for (const std::string query :
       {"?last_event_id=2&stream_id=stream-1", "?last_event_id=12&stream_id=another-process"}) {
    auto c = Subscribed(query);
    auto reset = c->Next();
    ASSERT_TRUE(reset);
    EXPECT_EQ(reset->event, "reset");
    EXPECT_EQ(reset->data, R"({"reason":"gap"})");
    const uint64_t id = bus_.Publish(EventType::kCampaignState, Data("c"));
    auto live = c->NextEvent();
    ASSERT_TRUE(live);
    EXPECT_EQ(live->id, std::to_string(id));
  }
}

TEST_F(EventStreamTest, FiltersFromTheQuery) {
  auto c = Subscribed("?types=campaign.device,patch&campaign=c2");
  bus_.Publish(EventType::kCampaignState, Data("c2"));
  bus_.Publish(EventType::kCampaignDevice, Data("c1"));
  const uint64_t want = bus_.Publish(EventType::kCampaignDevice, Data("c2"));
  auto e = c->NextEvent();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, std::to_string(want));
}

TEST_F(EventStreamTest, RefusesBadQueriesAndMissingTokens) {
  SseClient anonymous(server_->port(), "/api/v1/events", "");
  EXPECT_EQ(anonymous.ReadHead(), 401);
  auto bad_type = Open("?types=nonsense");
  EXPECT_EQ(bad_type->ReadHead(), 422);
  auto bad_id = Open("?last_event_id=12abc");
  EXPECT_EQ(bad_id->ReadHead(), 422);
  EXPECT_EQ(bus_.subscriber_count(), 0u);
}

TEST_F(EventStreamTest, BeyondTheLimitIs503UntilAStreamCloses) {
  auto a = Subscribed();
  auto b = Subscribed();
  auto c = Open();
  ASSERT_EQ(c->ReadHead(), 503);
  EXPECT_NE(c->ReadBody().find(R"("error":{"code":"unavailable")"), std::string::npos);
  a.reset();  // the server notices the close without writing to it
  ASSERT_TRUE(WaitFor([&] { return bus_.subscriber_count() == 1; }));
  auto d = Subscribed();
  EXPECT_EQ(bus_.subscriber_count(), 2u);
}

TEST_F(EventStreamTest, SlowReaderIsDroppedWithoutHoldingBackOthers) {
  auto slow = Open("", "", /*rcvbuf=*/4096);
  ASSERT_EQ(slow->ReadHead(), 200);
  ASSERT_TRUE(slow->Next());  // hello: subscribed; then it stops reading
  auto fast = Subscribed();
  const std::string big = R"({"campaign_id":"c","pad":")" + std::string(4000, 'x') + "\"}";
  uint64_t last = 0;
  // Batches the fast reader keeps up with; the slow one's socket buffers fill, its queue
  // overflows and the bus drops it (publishing never waits for it).
  for (int batch = 0; batch < 5000 && bus_.subscriber_count() == 2; ++batch) {
    for (int i = 0; i < 8; ++i) last = bus_.Publish(EventType::kCampaignState, big);
    for (int i = 0; i < 8; ++i) {
      auto e = fast->NextEvent();
      ASSERT_TRUE(e);
      ASSERT_EQ(e->id, std::to_string(last - 7 + i));
    }
  }
  ASSERT_EQ(bus_.subscriber_count(), 1u) << "the slow reader was never dropped";
  EXPECT_TRUE(slow->DrainUntilClosed());  // what was sent, then the close
  EXPECT_TRUE(WaitFor([&] { return server_->active_sessions() == 1; }));
  const uint64_t after = bus_.Publish(EventType::kCampaignState, Data("c"));
  auto e = fast->NextEvent();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, std::to_string(after));
}

TEST_F(EventStreamTest, ShutdownWithOpenStreamsReturnsPromptly) {
  auto a = Subscribed();
  auto b = Subscribed();
  const auto start = std::chrono::steady_clock::now();
  Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  server_.reset();  // the sessions (and their subscriptions) go with the server
  EXPECT_EQ(bus_.subscriber_count(), 0u);
  EXPECT_FALSE(a->NextEvent());                        // closed
  bus_.Publish(EventType::kCampaignState, Data("c"));  // nothing left to wake
}

class EventStreamKeepaliveTest : public EventStreamTest {
 protected:
  std::chrono::milliseconds Keepalive() override { return std::chrono::milliseconds(20); }
};

TEST_F(EventStreamKeepaliveTest, SendsKeepaliveCommentsWhileIdle) {
  auto c = Subscribed();
  auto m = c->Next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->comment, "keepalive");
  const uint64_t id = bus_.Publish(EventType::kCampaignState, Data("c"));
  auto e = c->NextEvent();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id, std::to_string(id));
}

}  // namespace
}  // namespace oxide::server::net
