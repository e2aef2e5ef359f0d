#include "server/auth/auth_service.hpp"

#include <algorithm>

#include "server/auth/token.hpp"
#include "server/service/device_service.hpp"
#include "server/service/event_data.hpp"
#include "server/service/ids.hpp"

namespace oxide::server::auth {

Result<IssuedToken> AuthService::CreateOperatorToken(const std::string& name,
                                                     store::OperatorRole role) {
  if (name.empty() || name.size() > 128) {
    return InvalidArgument("field 'name' must be 1-128 characters");
  }
  IssuedToken out;
  OXIDE_ASSIGN_OR_RETURN(out.token, GenerateToken(kOperatorTokenPrefix));
  OXIDE_ASSIGN_OR_RETURN(out.record.id, GenerateId());
  out.record.name = name;
  out.record.role = role;
  out.record.sha256 = HashSecret(out.token);
  out.record.created_at = clock_.UnixMillis();
  OXIDE_RETURN_IF_ERROR(store_.auth().CreateOperatorToken(out.record));
  return out;
}

Result<std::vector<store::OperatorTokenRecord>> AuthService::ListOperatorTokens() {
  return store_.auth().ListOperatorTokens();
}

Status AuthService::RevokeOperatorToken(const std::string& id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("token id", id));
  return store_.auth().RevokeOperatorToken(id, clock_.UnixMillis());
}

Result<std::optional<std::string>> AuthService::CreateInitialAdmin(
    const std::function<Status(const std::string& token)>& deliver) {
  std::optional<std::string> token;
  Status tx = store_.InTransaction([&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(uint64_t n, store_.auth().CountOperatorTokens());
    if (n > 0) return Status::Ok();
    OXIDE_ASSIGN_OR_RETURN(auto issued,
                           CreateOperatorToken("initial-admin", store::OperatorRole::kAdmin));
    if (deliver) OXIDE_RETURN_IF_ERROR(deliver(issued.token));
    token = std::move(issued.token);
    return Status::Ok();
  });
  if (!tx.ok()) return tx;
  return token;
}

Result<IssuedEnrollmentToken> AuthService::CreateEnrollmentToken(const std::string& fleet_id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("fleet id", fleet_id));
  OXIDE_RETURN_IF_ERROR(store_.fleets().Get(fleet_id).status());
  IssuedEnrollmentToken out;
  OXIDE_ASSIGN_OR_RETURN(out.token, GenerateToken(kEnrollmentTokenPrefix));
  OXIDE_ASSIGN_OR_RETURN(out.record.id, GenerateId());
  out.record.fleet_id = fleet_id;
  out.record.sha256 = HashSecret(out.token);
  out.record.created_at = clock_.UnixMillis();
  OXIDE_RETURN_IF_ERROR(store_.auth().CreateEnrollmentToken(out.record));
  return out;
}

Result<std::vector<store::EnrollmentTokenRecord>> AuthService::ListEnrollmentTokens(
    const std::string& fleet_id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("fleet id", fleet_id));
  OXIDE_RETURN_IF_ERROR(store_.fleets().Get(fleet_id).status());
  return store_.auth().ListEnrollmentTokens(fleet_id);
}

Status AuthService::RevokeEnrollmentToken(const std::string& fleet_id, const std::string& id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("fleet id", fleet_id));
  OXIDE_RETURN_IF_ERROR(ValidateId("token id", id));
  return store_.auth().RevokeEnrollmentToken(fleet_id, id, clock_.UnixMillis());
}

Result<store::DeviceAuthState> AuthService::Enroll(const std::string& device_id,
                                                   const std::string& secret,
                                                   const std::string& enrollment_token) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", device_id));
  if (secret.size() < 32 || secret.size() > 256) {
    return InvalidArgument("field 'secret' must be 32-256 characters");
  }
  // An operator or enrollment token pasted as a device secret would then be stored as a device
  // credential (and sent on every device call): refuse it.
  if (secret.starts_with(kOperatorTokenPrefix) || secret.starts_with(kEnrollmentTokenPrefix)) {
    return InvalidArgument("field 'secret' must not be an oxide_ or oxenr_ token");
  }
  const std::string hash = HashSecret(secret);
  std::string fleet;
  store::DeviceAuthState state = store::DeviceAuthState::kPending;
  bool joined = false;  // accepted by this call's token: join the token's fleet
  std::optional<store::DeviceRecord> enrolled;  // events: the credential or state changed
  Status tx = store_.InTransaction([&]() -> Status {
    const store::TimeMs now = clock_.UnixMillis();
    auto device = store_.devices().Get(device_id);
    if (!device.ok() && device.status().code() != ErrorCode::kNotFound) return device.status();
    store::DeviceRecord current = device.ok() ? *device : store::DeviceRecord{};
    if (!device.ok()) {
      current.id = device_id;
      current.name = device_id;
      current.created_at = now;
      OXIDE_RETURN_IF_ERROR(store_.devices().Create(current));
    }
    OXIDE_ASSIGN_OR_RETURN(auto existing, store_.auth().GetDeviceAuth(device_id));
    const bool same_secret = existing && !existing->secret_sha256.empty() &&
                             ConstantTimeEquals(existing->secret_sha256, hash);
    if (same_secret && existing->state != store::DeviceAuthState::kPending) {
      // An operator (or a token, once) already decided about this credential: the agent enrolls
      // on every start with its token, and that token being revoked since, or the device moved
      // out of the token's fleet, must change nothing.
      state = existing->state;
      return Status::Ok();
    }
    if (!enrollment_token.empty()) {
      auto t = store_.auth().FindEnrollmentToken(HashSecret(enrollment_token));
      if (!t.ok() && t.status().code() != ErrorCode::kNotFound) return t.status();
      if (!t.ok() || t->revoked_at != 0) return NotFound("unknown or revoked enrollment token");
      fleet = t->fleet_id;
    }
    store::DeviceAuthRecord rec;
    rec.device_id = device_id;
    if (existing) rec = *existing;
    if (!rec.secret_sha256.empty() && !same_secret) {
      return AlreadyExists("device '" + device_id + "' already enrolled with another secret");
    }
    rec.secret_sha256 = hash;
    // An operator's rejection stands even against a valid enrollment token.
    if (!fleet.empty() && rec.state != store::DeviceAuthState::kRejected) {
      joined = rec.state != store::DeviceAuthState::kAccepted;
      rec.state = store::DeviceAuthState::kAccepted;
    }
    if (!existing || existing->state != rec.state || existing->secret_sha256 != hash) {
      rec.updated_at = now;
      OXIDE_RETURN_IF_ERROR(store_.auth().PutDeviceAuth(rec));
      enrolled = current;
    }
    state = rec.state;
    return Status::Ok();
  });
  if (credentials_ != nullptr) credentials_->Invalidate(device_id);  // after the commit
  if (!tx.ok()) return tx;
  if (enrolled) PublishDeviceChange(*enrolled, "enrolled");
  if (joined) {
    // Through the service: joining a fleet may start its active rollout for the device.
    OXIDE_RETURN_IF_ERROR(fleets_.AddDevice(fleet, device_id));
  }
  return state;
}

Status AuthService::SetDeviceState(const std::string& device_id, store::DeviceAuthState state,
                                   bool drop_credential) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", device_id));
  store::DeviceRecord device;
  Status tx = store_.InTransaction([&]() -> Status {
    OXIDE_ASSIGN_OR_RETURN(device, store_.devices().Get(device_id));
    OXIDE_ASSIGN_OR_RETURN(auto existing, store_.auth().GetDeviceAuth(device_id));
    store::DeviceAuthRecord rec;
    rec.device_id = device_id;
    if (existing) rec = *existing;
    // Accepting binds the id to the secret it enrolled with: with none stored, the next secret
    // to enroll, anyone's, would be accepted without an operator ever seeing it.
    if (state == store::DeviceAuthState::kAccepted && rec.secret_sha256.empty()) {
      return FailedPrecondition("device '" + device_id +
                                "' has not enrolled yet: no credential to accept");
    }
    rec.state = state;
    if (drop_credential) rec.secret_sha256.clear();
    rec.updated_at = clock_.UnixMillis();
    return store_.auth().PutDeviceAuth(rec);
  });
  if (credentials_ != nullptr) credentials_->Invalidate(device_id);  // after the commit
  if (!tx.ok()) return tx;
  PublishDeviceChange(device, drop_credential                              ? "revoked"
                              : state == store::DeviceAuthState::kAccepted ? "accepted"
                              : state == store::DeviceAuthState::kRejected ? "rejected"
                                                                           : "pending");
  return Status::Ok();
}

void AuthService::PublishDeviceChange(const store::DeviceRecord& d, std::string_view change) {
  if (events_ == nullptr) return;
  events_->Publish(EventType::kDeviceChanged,
                   DeviceChangedData(
                       d, change, ToString(LivenessAt(d, clock_.UnixMillis(), offline_after_ms_))));
}

Result<store::DeviceAuthRecord> AuthService::DeviceAuth(const std::string& device_id) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", device_id));
  OXIDE_RETURN_IF_ERROR(store_.devices().Get(device_id).status());
  OXIDE_ASSIGN_OR_RETURN(auto rec, store_.auth().GetDeviceAuth(device_id));
  if (rec) return *rec;
  store::DeviceAuthRecord pending;
  pending.device_id = device_id;
  return pending;
}

Status AuthService::DeviceMayDownload(const std::string& device_id, const std::string& model_id,
                                      const std::string& version) {
  // Only the server's own record counts: what a device reports running in its heartbeat is its
  // word, and trusting it would let any accepted device name any model and fetch it. A patch
  // from the installed version is chosen by the server, so the assignment covers it too.
  OXIDE_ASSIGN_OR_RETURN(auto assignment, store_.assignments().Get(device_id));
  if (assignment && assignment->model_id == model_id && assignment->version == version) {
    return Status::Ok();
  }
  return FailedPrecondition("device '" + device_id + "' is not assigned " + model_id + "@" +
                            version);
}

Status AuthService::Audit(const Principal& actor, std::string action, std::string target,
                          std::string remote_address, std::string detail) {
  store::AuditRecord r;
  r.at = clock_.UnixMillis();
  r.actor_id = actor.id;
  r.actor_name = actor.name;
  r.action = std::move(action);
  r.target = std::move(target);
  r.remote_address = std::move(remote_address);
  r.detail = std::move(detail);
  return store_.audit().Append(r).status();
}

Result<std::vector<store::AuditRecord>> AuthService::ListAudit(size_t limit) {
  return store_.audit().List(std::clamp<size_t>(limit, 1, kMaxAuditList));
}

}  // namespace oxide::server::auth
