// RunSimulation against a scripted HTTP/1.1 server on 127.0.0.1:0 (one thread per connection).
#include "simulate/fleet_simulator.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/sha256.hpp"
#include "delta/build/patch_builder.hpp"
#include "http_client/curl_transport.hpp"

namespace oxide::simulate {
namespace {

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

 private:
  void Accept() {
    for (;;) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
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
  std::thread accept_;
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> workers_;
};

bool IsEnroll(const std::string& head) { return head.find("/api/v1/enroll") != std::string::npos; }

SimOptions Options(const ScriptedServer& server, uint32_t devices, double duration_s) {
  SimOptions o;
  o.control_planes = {server.Url()};
  o.devices = devices;
  o.poll_interval_s = 0.05;
  o.duration_s = duration_s;
  o.concurrency = 8;
  o.seed = 7;
  return o;
}

SimStats Simulate(const SimOptions& o) {
  auto http = HttpMulti::Create(o.concurrency).value();
  return RunSimulation(o, *http);
}

TEST(FleetSimulator, FailedHeartbeatsAreNotCountedAsSteadyHeartbeats) {
  CurlGlobal curl;
  ScriptedServer server([](const std::string& head, const std::string&) {
    return IsEnroll(head) ? Reply{} : Reply{503, "{}", "", 0};
  });
  const SimStats s = Simulate(Options(server, 3, 0.6));
  ASSERT_GT(s.steady_s, 0);  // every device enrolled
  EXPECT_GT(s.errors.at("heartbeat: HTTP 503"), 0u);
  EXPECT_EQ(s.steady_heartbeats, 0u);
}

TEST(FleetSimulator, ReEnrolmentAfter401IsNotCountedTwice) {
  CurlGlobal curl;
  ScriptedServer server([](const std::string& head, const std::string&) {
    return IsEnroll(head) ? Reply{} : Reply{401, "{}", "", 0};
  });
  const SimStats s = Simulate(Options(server, 3, 0.6));
  EXPECT_GT(s.kind(RequestKind::kEnroll).count, 3u);  // they did enrol again
  EXPECT_EQ(s.enrolled, 3u);
}

// One connection, a server that takes 30 ms, four devices each due every 50 ms: requests wait
// for the connection, and that wait is in the latency from the due time, not in the service time.
TEST(FleetSimulator, LatencyFromTheDueTimeIncludesTheWaitForConcurrency) {
  CurlGlobal curl;
  ScriptedServer server([](const std::string& head, const std::string&) {
    return IsEnroll(head) ? Reply{} : Reply{200, "{}", "", 30};
  });
  SimOptions o = Options(server, 4, 1.0);
  o.concurrency = 1;
  const SimStats s = Simulate(o);
  const KindStats& hb = s.kind(RequestKind::kHeartbeat);
  ASSERT_GT(hb.count, 5u);
  EXPECT_GE(hb.latency.Percentile(50), 25'000);
  EXPECT_GT(hb.intended_latency.Percentile(50), 2 * hb.latency.Percentile(50));
  EXPECT_GE(hb.intended_latency.max(), hb.latency.max());
  EXPECT_GT(s.schedule_lag.Percentile(99), 30'000);
}

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// Version 1 is downloaded in full; version 2 is offered as a patch from another base of the same
// size, which the device's version 1 is not: as the agent, it takes the full file instead. That
// is a fallback, not an error.
TEST(FleetSimulator, APatchForAnotherBaseFallsBackToTheFullFileWithoutAnError) {
  CurlGlobal curl;
  const std::string v1 = RandomBytes(50'000, 1);
  const std::string other = RandomBytes(50'000, 2);
  std::string v2 = other;
  for (size_t i = 0; i < v2.size(); i += 997) v2[i] ^= 0x5a;
  delta::DiffOptions opts;
  opts.threads = 1;
  const std::string patch = delta::BuildPatch(other, v2, opts).value().patch;
  const std::string sha1 = ToHex(Sha256::Of(v1)), sha2 = ToHex(Sha256::Of(v2));
  auto assign = [](const std::string& version, const std::string& sha, size_t size) {
    return "{\"assignment\":{\"model_id\":\"m\",\"version\":\"" + version + "\",\"sha256\":\"" +
           sha + "\",\"size_bytes\":" + std::to_string(size) + "}}";
  };
  ScriptedServer server([&](const std::string& head, const std::string& body) {
    if (IsEnroll(head)) return Reply{};
    if (head.find("/versions/1/download") != std::string::npos) {
      return Reply{200, v1, "X-Oxide-SHA256: " + sha1 + "\r\n", 0};
    }
    if (head.find("/versions/2/download") != std::string::npos) {
      if (head.find("X-Oxide-Base-SHA256") != std::string::npos) {
        return Reply{
            200, patch,
            "Content-Type: application/x-oxide-delta\r\nX-Oxide-Target-SHA256: " + sha2 + "\r\n",
            0};
      }
      return Reply{200, v2, "X-Oxide-SHA256: " + sha2 + "\r\n", 0};
    }
    if (body.find("\"current_model_version\":\"2\"") != std::string::npos) return Reply{};
    if (body.find("\"current_model_version\":\"1\"") != std::string::npos) {
      return Reply{200, assign("2", sha2, v2.size()), "", 0};
    }
    return Reply{200, assign("1", sha1, v1.size()), "", 0};
  });
  SimOptions o = Options(server, 1, 1.0);
  const SimStats s = Simulate(o);
  EXPECT_EQ(s.downloads_fallback, 1u);
  EXPECT_EQ(s.downloads_full, 2u);
  EXPECT_EQ(s.installed, 2u);
  EXPECT_EQ(s.error_count(), 0u) << RenderText(s);
}

}  // namespace
}  // namespace oxide::simulate
