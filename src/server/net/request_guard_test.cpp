// Rate limits and per-address connection slots, on a FakeClock (no sockets, no sleeps).
#include "server/net/request_guard.hpp"

#include <gtest/gtest.h>

#include "server/net/connection_limiter.hpp"
#include "testing/fake_clock.hpp"

namespace oxide::server::net {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RateLimiter, AllowsTheBurstThenRefusesWithTheWait) {
  testing::FakeClock clock;
  RateLimiter limiter(clock, RateLimit{2, 3});
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Take("a").has_value()) << i;
  auto wait = limiter.Take("a");
  ASSERT_TRUE(wait.has_value());
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(*wait), milliseconds(500));
  EXPECT_FALSE(limiter.Take("b").has_value());  // another key has its own bucket
}

TEST(RateLimiter, RefillsAtTheRate) {
  testing::FakeClock clock;
  RateLimiter limiter(clock, RateLimit{2, 1});
  EXPECT_FALSE(limiter.Take("a").has_value());
  EXPECT_TRUE(limiter.Take("a").has_value());
  clock.Advance(milliseconds(499));
  EXPECT_TRUE(limiter.Take("a").has_value());
  clock.Advance(milliseconds(1));
  EXPECT_FALSE(limiter.Take("a").has_value());
}

TEST(RateLimiter, CheckSpendsNothingAndZeroRateIsUnlimited) {
  testing::FakeClock clock;
  RateLimiter limiter(clock, RateLimit{1, 1});
  EXPECT_FALSE(limiter.Check("a").has_value());
  EXPECT_FALSE(limiter.Check("a").has_value());
  EXPECT_FALSE(limiter.Take("a").has_value());
  EXPECT_TRUE(limiter.Check("a").has_value());
  RateLimiter off(clock, RateLimit{0, 0});
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(off.Take("a").has_value());
}

TEST(RateLimiter, ManyKeysStayBoundedAndBusyKeysKeepTheirState) {
  testing::FakeClock clock;
  RateLimiter limiter(clock, RateLimit{1, 1}, /*max_keys=*/4);
  EXPECT_FALSE(limiter.Take("busy").has_value());
  clock.Advance(seconds(10));                      // "busy" is full again and may be evicted...
  EXPECT_FALSE(limiter.Take("busy").has_value());  // ...but is empty again now
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.Take("k" + std::to_string(i)).has_value());
  EXPECT_TRUE(limiter.Take("busy").has_value());
}

TEST(ConnectionLimiter, RefusesBeyondThePerAddressLimitUntilALeaseEnds) {
  ConnectionLimiter limiter(2);
  auto a = limiter.Acquire("10.0.0.1");
  auto b = limiter.Acquire("10.0.0.1");
  EXPECT_TRUE(a && b);
  EXPECT_FALSE(limiter.Acquire("10.0.0.1"));
  EXPECT_TRUE(limiter.Acquire("10.0.0.2"));  // another address is not affected
  { auto gone = std::move(a); }
  EXPECT_EQ(limiter.open("10.0.0.1"), 1u);
  EXPECT_TRUE(limiter.Acquire("10.0.0.1"));
}

TEST(ClientKey, IPv4AsIsMappedAsIPv4AndIPv6ByItsSlash64) {
  EXPECT_EQ(ClientKey("10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(ClientKey("::ffff:10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(ClientKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(ClientKey("2001:db8:1:2::1"), ClientKey("2001:db8:1:2:ffff::9"));
  EXPECT_NE(ClientKey("2001:db8:1:2::1"), ClientKey("2001:db8:1:3::1"));
  EXPECT_EQ(ClientKey("::1"), "::/64");
  EXPECT_EQ(ClientKey(""), "");
}

TEST(ConnectionLimiter, ZeroIsUnlimited) {
  ConnectionLimiter limiter(0);
  std::vector<ConnectionLimiter::Lease> leases;
  for (int i = 0; i < 100; ++i) leases.push_back(limiter.Acquire("a"));
  EXPECT_TRUE(leases.back());
  EXPECT_EQ(limiter.open("a"), 100u);
  leases.clear();
  EXPECT_EQ(limiter.open("a"), 0u);
}

class RequestGuardTest : public ::testing::Test {
 protected:
  RequestGuardOptions Options() {
    RequestGuardOptions o;
    o.heartbeat_per_device = {1, 2};
    o.heartbeat_per_address = {1, 3};
    o.auth_per_address = {1, 2};
    return o;
  }
  bool Heartbeat(RequestGuard& g, const std::string& device, const std::string& remote) {
    return !g.Admit(api::Method::kPost, "/api/v1/devices/" + device + "/heartbeat", remote);
  }
  testing::FakeClock clock_;
};

TEST_F(RequestGuardTest, HeartbeatsAreLimitedPerDeviceWith429AndRetryAfter) {
  RequestGuard g(clock_, Options());
  EXPECT_TRUE(Heartbeat(g, "d1", "10.0.0.1"));
  EXPECT_TRUE(Heartbeat(g, "d1", "10.0.0.1"));
  auto r = g.Admit(api::Method::kPost, "/api/v1/devices/d1/heartbeat", "10.0.0.1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->Header("retry-after"), "1");
  EXPECT_NE(r->body.find("\"rate_limited\""), std::string::npos);
  clock_.Advance(seconds(1));
  EXPECT_TRUE(Heartbeat(g, "d1", "10.0.0.1"));
}

// Before authentication the id in the path is only a claim: heartbeats sent for d1 from
// another address must not use up the real d1's bucket.
TEST_F(RequestGuardTest, AnotherAddressCannotDrainADevicesBucket) {
  RequestGuard g(clock_, Options());
  for (int i = 0; i < 5; ++i) static_cast<void>(Heartbeat(g, "d1", "10.0.0.66"));
  EXPECT_FALSE(Heartbeat(g, "d1", "10.0.0.66"));
  EXPECT_TRUE(Heartbeat(g, "d1", "10.0.0.1"));
}

TEST_F(RequestGuardTest, HeartbeatsAreLimitedPerAddress) {
  RequestGuard g(clock_, Options());
  EXPECT_TRUE(Heartbeat(g, "d1", "10.0.0.1"));
  EXPECT_TRUE(Heartbeat(g, "d2", "10.0.0.1"));
  EXPECT_TRUE(Heartbeat(g, "d3", "10.0.0.1"));
  EXPECT_FALSE(Heartbeat(g, "d4", "10.0.0.1"));
  EXPECT_TRUE(Heartbeat(g, "d4", "10.0.0.2"));
  // Other paths are not heartbeats.
  EXPECT_FALSE(g.Admit(api::Method::kGet, "/api/v1/devices/d4/heartbeat", "10.0.0.1"));
  EXPECT_FALSE(g.Admit(api::Method::kPost, "/api/v1/devices/d4", "10.0.0.1"));
}

TEST_F(RequestGuardTest, EnrollAndFailedAuthenticationShareOneBucketPerAddress) {
  RequestGuard g(clock_, Options());
  EXPECT_FALSE(g.Admit(api::Method::kPost, "/api/v1/enroll", "10.0.0.1"));
  g.OnAnswered(401, "10.0.0.1");
  auto r = g.Admit(api::Method::kPost, "/api/v1/enroll", "10.0.0.1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 429);
  // Everything but /health is refused to that address now; other addresses are served.
  EXPECT_TRUE(g.Admit(api::Method::kGet, "/api/v1/devices", "10.0.0.1").has_value());
  EXPECT_FALSE(g.Admit(api::Method::kGet, "/health", "10.0.0.1").has_value());
  EXPECT_FALSE(g.Admit(api::Method::kGet, "/api/v1/devices", "10.0.0.2").has_value());
  g.OnAnswered(200, "10.0.0.2");
  g.OnAnswered(403, "10.0.0.2");
  EXPECT_FALSE(g.Admit(api::Method::kPost, "/api/v1/enroll", "10.0.0.2").has_value());
}

TEST(RequestGuard, HeartbeatDeviceComesFromThePath) {
  EXPECT_EQ(RequestGuard::HeartbeatDevice(api::Method::kPost, "/api/v1/devices/cam-1/heartbeat"),
            "cam-1");
  EXPECT_FALSE(
      RequestGuard::HeartbeatDevice(api::Method::kPost, "/api/v1/devices//heartbeat").has_value());
  EXPECT_FALSE(RequestGuard::HeartbeatDevice(api::Method::kPost, "/api/v1/devices/a/b/heartbeat")
                   .has_value());
  EXPECT_FALSE(
      RequestGuard::HeartbeatDevice(api::Method::kPut, "/api/v1/devices/a/heartbeat").has_value());
}

}  // namespace
}  // namespace oxide::server::net
