#include "server/auth/authenticator.hpp"

#include "server/api/http_types.hpp"
#include "server/auth/token.hpp"

namespace oxide::server::auth {
namespace {

// last_used is a hint for operators ("is this token still in use?"), not a log: writing it
// at most once a minute keeps reads from turning into writes.
constexpr store::TimeMs kTouchEveryMs = 60'000;

AuthOutcome Refuse(AuthFailure f, std::string message) {
  AuthOutcome o;
  o.failure = f;
  o.message = std::move(message);
  return o;
}

// The token of "Bearer <token>" (scheme case-insensitive, RFC 9110 11.1), or "" when malformed.
std::string BearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return "";
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return "";
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  if (token.empty() || token.size() > 512) return "";
  return std::string(token);
}

}  // namespace

Result<AuthOutcome> Authenticator::Authenticate(const api::Request& req) const {
  std::string header = req.Header("authorization");
  if (header.empty()) return AuthOutcome{};
  std::string token = BearerToken(header);
  if (token.empty()) {
    return Refuse(AuthFailure::kUnauthenticated, "Authorization must be 'Bearer <token>'");
  }
  if (token.compare(0, kOperatorTokenPrefix.size(), kOperatorTokenPrefix) == 0) {
    return Operator(token);
  }
  std::string device_id = req.Header("x-oxide-device-id");
  if (device_id.empty()) {
    return Refuse(AuthFailure::kUnauthenticated,
                  "unknown token (a device credential needs X-Oxide-Device-Id)");
  }
  return Device(device_id, token);
}

Result<AuthOutcome> Authenticator::Operator(const std::string& token) const {
  const std::string hash = HashSecret(token);
  auto t = store_.auth().FindOperatorToken(hash);
  if (!t.ok() && t.status().code() == ErrorCode::kNotFound) {
    return Refuse(AuthFailure::kUnauthenticated, "unknown token");
  }
  if (!t.ok()) return t.status();
  // Found by its hash already; compare again in constant time so the decision itself never
  // depends on a short-circuiting comparison.
  if (!ConstantTimeEquals(t->sha256, hash)) {
    return Refuse(AuthFailure::kUnauthenticated, "unknown token");
  }
  if (t->revoked_at != 0) return Refuse(AuthFailure::kUnauthenticated, "token revoked");
  store::TimeMs now = clock_.UnixMillis();
  if (now - t->last_used >= kTouchEveryMs) {
    Status touched = store_.auth().TouchOperatorToken(t->id, now);
    static_cast<void>(touched);  // a hint only: a failed write never refuses a valid token
  }
  AuthOutcome o;
  o.principal.kind = PrincipalKind::kOperator;
  o.principal.role = t->role;
  o.principal.id = t->id;
  o.principal.name = t->name;
  return o;
}

Result<AuthOutcome> Authenticator::Device(const std::string& device_id,
                                          const std::string& secret) const {
  AuthOutcome o;
  o.principal.kind = PrincipalKind::kDevice;
  o.principal.id = device_id;
  o.principal.name = device_id;
  if (cache_ != nullptr && cache_->Accepted(device_id, secret)) return o;
  const uint64_t generation = cache_ != nullptr ? cache_->generation() : 0;
  OXIDE_ASSIGN_OR_RETURN(auto rec, store_.auth().GetDeviceAuth(device_id));
  // The same answer for an unknown device and a wrong secret: ids are not secrets, but this
  // does not confirm which devices exist either.
  if (!rec || rec->secret_sha256.empty() ||
      !ConstantTimeEquals(rec->secret_sha256, HashSecret(secret))) {
    return Refuse(AuthFailure::kUnauthenticated, "unknown device or wrong device secret");
  }
  if (rec->state == store::DeviceAuthState::kPending) {
    return Refuse(AuthFailure::kDevicePending,
                  "device '" + device_id + "' is waiting for an operator to accept it");
  }
  if (rec->state == store::DeviceAuthState::kRejected) {
    return Refuse(AuthFailure::kDeviceRejected, "device '" + device_id + "' was rejected");
  }
  if (cache_ != nullptr) cache_->Remember(device_id, secret, generation);
  return o;
}

}  // namespace oxide::server::auth
