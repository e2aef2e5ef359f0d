// The cache of accepted device credentials: what it remembers, and that every change of a
// device's credential on this server takes effect at once (the router as `oxide serve` wires it).
#include "server/auth/device_credential_cache.hpp"

#include <gtest/gtest.h>

#include <string>

#include "server/service/test_env.hpp"
#include "testing/fake_clock.hpp"

namespace oxide::server::auth {
namespace {

using api::Method;
using api::Request;
using api::Response;

TEST(DeviceCredentialCacheTest, RemembersOnlyTheSecretItWasGivenUntilTheTtl) {
  oxide::testing::FakeClock clock;
  DeviceCredentialCache cache(clock, DeviceCredentialCacheOptions{std::chrono::seconds(5), 10});
  const std::string secret(40, 'a');
  EXPECT_FALSE(cache.Accepted("d1", secret));
  cache.Remember("d1", secret, cache.generation());
  EXPECT_TRUE(cache.Accepted("d1", secret));
  EXPECT_FALSE(cache.Accepted("d1", std::string(40, 'b')));
  EXPECT_FALSE(cache.Accepted("d2", secret));
  clock.AdvanceMs(4'999);
  EXPECT_TRUE(cache.Accepted("d1", secret));
  clock.AdvanceMs(1);  // another replica's revoke is seen within the TTL
  EXPECT_FALSE(cache.Accepted("d1", secret));
}

// A store read that began before a change must not be remembered after it: the read may have
// seen the credential as it was before the revoke.
TEST(DeviceCredentialCacheTest, AReadOlderThanAnInvalidationIsNotRemembered) {
  oxide::testing::FakeClock clock;
  DeviceCredentialCache cache(clock);
  const std::string secret(40, 'a');
  const uint64_t before_read = cache.generation();
  cache.Invalidate("d1");  // a revoke committed while the read was in flight
  cache.Remember("d1", secret, before_read);
  EXPECT_FALSE(cache.Accepted("d1", secret));
  cache.Remember("d1", secret, cache.generation());
  EXPECT_TRUE(cache.Accepted("d1", secret));
  cache.Invalidate("d1");
  EXPECT_FALSE(cache.Accepted("d1", secret));
}

class CredentialCacheRouterTest : public ::testing::Test {
 protected:
  Response AsDevice(Method m, const std::string& path, const std::string& device,
                    const std::string& secret) {
    Request r;
    r.method = m;
    r.path = path;
    server::testing::TestEnv::AddDeviceAuth(&r, device, secret);
    return env.router->Handle(r);
  }
  Response Heartbeat(const std::string& device, const std::string& secret) {
    return AsDevice(Method::kPost, "/api/v1/devices/" + device + "/heartbeat", device, secret);
  }
  Response Admin(Method m, const std::string& path) {
    Request r;
    r.method = m;
    r.path = path;
    r.headers.emplace_back("authorization", "Bearer " + env.admin_token);
    return env.router->Handle(r);
  }
  server::testing::TestEnv env;
};

// The second heartbeat is accepted from the cache; reject, accept, revoke and removal each take
// effect on the very next request (without the invalidations the cached credential would pass).
TEST_F(CredentialCacheRouterTest, EveryCredentialChangeTakesEffectAtOnce) {
  const std::string s = env.EnrollDevice("d1");
  ASSERT_EQ(Heartbeat("d1", s).status, 200);
  EXPECT_EQ(env.credentials->size(), 1u);
  EXPECT_EQ(Heartbeat("d1", s).status, 200);
  EXPECT_EQ(Heartbeat("d1", std::string(40, 'x')).status, 401);  // a wrong secret: the store

  ASSERT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/reject").status, 200);
  EXPECT_EQ(Heartbeat("d1", s).status, 403);
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/accept").status, 200);
  EXPECT_EQ(Heartbeat("d1", s).status, 200);
  ASSERT_EQ(Admin(Method::kPost, "/api/v1/devices/d1/revoke").status, 200);
  EXPECT_EQ(Heartbeat("d1", s).status, 401);

  const std::string s2 = env.EnrollDevice("d2");
  ASSERT_EQ(Heartbeat("d2", s2).status, 200);
  ASSERT_EQ(Admin(Method::kDelete, "/api/v1/devices/d2").status / 100, 2);
  EXPECT_EQ(Heartbeat("d2", s2).status, 401);  // its credential went with it
}

}  // namespace
}  // namespace oxide::server::auth
