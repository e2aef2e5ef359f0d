#pragma once

#include <string>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "server/auth/device_credential_cache.hpp"
#include "server/auth/principal.hpp"
#include "store/store.hpp"

namespace oxide::server::api {
struct Request;
}  // namespace oxide::server::api

namespace oxide::server::auth {

// Why a presented credential was refused. The router maps these to 401 unauthenticated,
// 403 device_pending and 403 device_rejected.
enum class AuthFailure : uint8_t {
  kNone = 0,
  kUnauthenticated = 1,  // malformed, unknown, revoked or wrong
  kDevicePending = 2,    // the device's secret is right but no operator accepted it yet
  kDeviceRejected = 3,   // rejected or revoked by an operator
};

struct AuthOutcome {
  Principal principal;  // kNone with kNone failure: no credential was presented
  AuthFailure failure = AuthFailure::kNone;
  std::string message;  // with a failure: why, for the error body (never echoes a secret)
};

// Maps a request's `Authorization: Bearer ...` (+ `X-Oxide-Device-Id` for devices) to a
// Principal. Reads the store on every call for operator tokens; accepted device credentials may
// come from a DeviceCredentialCache (see there for when a revoke takes effect). Thread-safe.
// `store`, `clock` and the cache must outlive it.
class Authenticator {
 public:
  Authenticator(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Accepted device credentials are remembered there (null: every request reads the store).
  // Whoever changes device credentials must invalidate the same cache. Set before use.
  void SetCredentialCache(DeviceCredentialCache* cache) { cache_ = cache; }

  // An error Status only for store failures (the request then fails; never fails open).
  Result<AuthOutcome> Authenticate(const api::Request& req) const;

 private:
  Result<AuthOutcome> Operator(const std::string& token) const;
  Result<AuthOutcome> Device(const std::string& device_id, const std::string& secret) const;

  store::Store& store_;
  const Clock& clock_;
  DeviceCredentialCache* cache_ = nullptr;
};

}  // namespace oxide::server::auth
