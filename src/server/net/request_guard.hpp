#pragma once

// Per-client rate limits on the paths an attacker would hammer: device heartbeats (per remote
// address and per device id, taken from the path) and authentication (POST /api/v1/enroll and
// every 401 answered, per remote address). Decided from the request line and the remote
// address, before the body is read, so a limited client costs no body I/O and no handler.
// Beast-free; thread-safe.

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.hpp"
#include "server/api/http_types.hpp"
#include "server/net/rate_limiter.hpp"

namespace oxide::server::net {

struct RequestGuardOptions {
  // A device polls every 30 s by default; test fleets poll every 0.2 s, so the default leaves
  // room for that and for progress heartbeats during downloads.
  RateLimit heartbeat_per_device{10, 50};
  // Many devices may share one address (NAT): generous, it only stops a single host flooding.
  RateLimit heartbeat_per_address{200, 1000};
  // Enrollment attempts and 401s per address: enough for a fleet booting behind one NAT,
  // far too few to guess a 256-bit credential.
  RateLimit auth_per_address{2, 100};
};

class RequestGuard {
 public:
  // `clock` must outlive the guard.
  RequestGuard(const Clock& clock, RequestGuardOptions options);

  // Before the body is read: a 429 response (JSON error, Retry-After in whole seconds) when
  // the request is over a limit, else nullopt. `remote` is the client's IP address.
  std::optional<api::Response> Admit(api::Method method, std::string_view path,
                                     std::string_view remote);
  // After the handler answered: a 401 spends one authentication token of `remote`, so an
  // address that keeps failing authentication is answered 429 (except GET /health) until
  // its bucket refills.
  void OnAnswered(int status, std::string_view remote);

  // The device id of POST /api/v1/devices/<id>/heartbeat, or nullopt for any other request.
  static std::optional<std::string_view> HeartbeatDevice(api::Method method, std::string_view path);

 private:
  RateLimiter heartbeat_device_;
  RateLimiter heartbeat_address_;
  RateLimiter auth_address_;
};

// The 429 answer: {"error":{"code":"rate_limited","message":...}} with Retry-After (>= 1 s).
api::Response TooManyRequests(Clock::Duration retry_after);

}  // namespace oxide::server::net
