#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "server/auth/device_credential_cache.hpp"
#include "server/auth/principal.hpp"
#include "server/service/events.hpp"
#include "server/service/fleet_service.hpp"
#include "store/store.hpp"

namespace oxide::server::auth {

struct IssuedToken {
  store::OperatorTokenRecord record;
  std::string token;  // shown once; only its hash is stored
};

struct IssuedEnrollmentToken {
  store::EnrollmentTokenRecord record;
  std::string token;  // shown once
};

// Operator tokens, fleet enrollment tokens, device enrollment and acceptance, and the audit
// log. Thread-safe (the store is). `store`, `clock` and `fleets` must outlive it.
class AuthService {
 public:
  static constexpr size_t kMaxAuditList = 1000;

  AuthService(store::Store& store, const Clock& clock, FleetService& fleets)
      : store_(store), clock_(clock), fleets_(fleets) {}

  // events: device.changed for enrollments and operator decisions (null: nowhere); the
  // device's liveness in them uses `offline_after_ms` (--offline-after). Set before use.
  void SetEvents(EventBus* events, store::TimeMs offline_after_ms) {
    events_ = events;
    offline_after_ms_ = offline_after_ms;
  }
  // The Authenticator's cache of accepted device credentials: every enrollment and operator
  // decision invalidates the device there once committed (null: none). Set before use.
  void SetCredentialCache(DeviceCredentialCache* cache) { credentials_ = cache; }

  // kInvalidArgument for an empty or oversized (> 128) name.
  Result<IssuedToken> CreateOperatorToken(const std::string& name, store::OperatorRole role);
  Result<std::vector<store::OperatorTokenRecord>> ListOperatorTokens();
  Status RevokeOperatorToken(const std::string& id);  // kNotFound for an unknown id
  // The first start: when the store has no operator token at all, creates an admin token named
  // "initial-admin", hands it to `deliver` (which writes it to a private file) and returns it.
  // The token is stored only if `deliver` succeeds, so a failed write is retried at the next
  // start rather than leaving an admin token nobody has. nullopt when tokens already exist.
  Result<std::optional<std::string>> CreateInitialAdmin(
      const std::function<Status(const std::string& token)>& deliver = nullptr);

  // kNotFound for an unknown fleet.
  Result<IssuedEnrollmentToken> CreateEnrollmentToken(const std::string& fleet_id);
  Result<std::vector<store::EnrollmentTokenRecord>> ListEnrollmentTokens(
      const std::string& fleet_id);
  Status RevokeEnrollmentToken(const std::string& fleet_id, const std::string& id);

  // POST /api/v1/enroll. Creates the device when unknown and records its secret's hash. A valid
  // enrollment token accepts it at once and adds it to the token's fleet; without one it stays
  // pending until an operator accepts it. Same id and secret again: idempotent.
  // Errors: kInvalidArgument (bad id, secret shorter than 32 or longer than 256 characters),
  // kAlreadyExists (the device has another secret), kNotFound (unknown or revoked enrollment
  // token). A rejected device gets kRejected (its new secret is kept, so an operator may accept
  // it again).
  Result<store::DeviceAuthState> Enroll(const std::string& device_id, const std::string& secret,
                                        const std::string& enrollment_token);

  // Operator decisions; kNotFound for an unknown device. Revoke = reject + drop the credential
  // (the device must enroll again with a new secret and be accepted).
  Status SetDeviceState(const std::string& device_id, store::DeviceAuthState state,
                        bool drop_credential);
  // kNotFound for an unknown device; "pending" for a device that never enrolled.
  Result<store::DeviceAuthRecord> DeviceAuth(const std::string& device_id);

  // A device may download only the (model, version) the server assigned to it; what it reports
  // running is never trusted. kFailedPrecondition otherwise (the router answers 403).
  Status DeviceMayDownload(const std::string& device_id, const std::string& model_id,
                           const std::string& version);

  // Appends one audit record for an operator action (at = now).
  Status Audit(const Principal& actor, std::string action, std::string target,
               std::string remote_address, std::string detail);
  Result<std::vector<store::AuditRecord>> ListAudit(size_t limit);

 private:
  store::Store& store_;
  const Clock& clock_;
  FleetService& fleets_;
  EventBus* events_ = nullptr;
  store::TimeMs offline_after_ms_ = 0;
  DeviceCredentialCache* credentials_ = nullptr;
  void PublishDeviceChange(const store::DeviceRecord& d, std::string_view change);
};

}  // namespace oxide::server::auth
