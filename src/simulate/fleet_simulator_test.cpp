// RunSimulation against a scripted HTTP/1.1 server on 127.0.0.1:0 (one thread per connection).
#include "simulate/fleet_simulator.hpp"

#include <gtest/gtest.h>

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
#include "simulate/scripted_server_test.hpp"

namespace oxide::simulate {
namespace {

using testing::Reply;
using testing::ScriptedServer;

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
