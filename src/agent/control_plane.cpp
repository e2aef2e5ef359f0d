#include "agent/control_plane.hpp"

#include <optional>

#include "protocol/patch_versions.hpp"

namespace oxide::agent {

namespace {

// JSON string literal; ids are validated at startup, this only guards the name.
std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

Status StatusFromHttp(const HttpReply& reply, const std::string& what) {
  std::string body = reply.body.substr(0, 512);
  std::string msg =
      what + ": HTTP " + std::to_string(reply.status) + (body.empty() ? "" : ": ") + body;
  if (reply.status >= 500 || reply.status == 429 || reply.status == 408) return Unavailable(msg);
  return FailedPrecondition(msg);
}

// 403 device_pending / device_rejected: an operator has to act; keep polling (kUnavailable)
// with a message that stays the same, so the loop logs it once.
std::optional<Status> WaitingForOperator(const HttpReply& reply) {
  if (reply.status != 403) return std::nullopt;
  if (reply.body.find("\"device_pending\"") != std::string::npos) {
    return Unavailable("device pending: waiting for an operator to accept it");
  }
  if (reply.body.find("\"device_rejected\"") != std::string::npos) {
    return Unavailable("device rejected by an operator: waiting to be accepted again");
  }
  return std::nullopt;
}

}  // namespace

HeaderList ControlPlane::AuthHeaders() const {
  return {{"Authorization", "Bearer " + credential_.secret}, {"X-Oxide-Device-Id", device_id_}};
}

Result<HttpReply> ControlPlane::Post(const std::string& path, const std::string& json) {
  HeaderList headers = AuthHeaders();
  // The patch formats this agent applies (the download sends them too).
  headers.emplace_back(std::string(protocol::kPatchVersionsHeader),
                       std::string(protocol::kAgentPatchVersions));
  return http_.Send(HttpCall{"POST", base_url_ + path, json, std::move(headers)});
}

Status ControlPlane::Enroll() {
  std::string body =
      "{\"device_id\":" + JsonString(device_id_) + ",\"secret\":" + JsonString(credential_.secret);
  if (!credential_.enrollment_token.empty()) {
    body += ",\"enrollment_token\":" + JsonString(credential_.enrollment_token);
  }
  body += "}";
  // The secret travels in the body: no Authorization header on this public route.
  OXIDE_ASSIGN_OR_RETURN(HttpReply reply,
                         http_.Send(HttpCall{"POST", base_url_ + "/api/v1/enroll", body, {}}));
  if (reply.status == 200) {
    accepted_ = true;
    return Status::Ok();
  }
  if (reply.status == 202)
    return Unavailable("device pending: waiting for an operator to accept it");
  if (auto waiting = WaitingForOperator(reply)) return *waiting;
  if (reply.status == 409) {
    return FailedPrecondition("enroll " + device_id_ +
                              ": the server knows this device id with another secret (HTTP 409)");
  }
  return StatusFromHttp(reply, "enroll " + device_id_);
}

Result<protocol::HeartbeatResponse> ControlPlane::Heartbeat(
    const protocol::HeartbeatRequest& request) {
  if (!accepted_) OXIDE_RETURN_IF_ERROR(Enroll());
  const std::string path = "/api/v1/devices/" + device_id_ + "/heartbeat";
  const std::string body = protocol::ToJson(request);
  OXIDE_ASSIGN_OR_RETURN(HttpReply reply, Post(path, body));
  if (reply.status == 401) {
    // The server lost or dropped this credential (device removed, store reset): enroll again.
    accepted_ = false;
    OXIDE_RETURN_IF_ERROR(Enroll());
    OXIDE_ASSIGN_OR_RETURN(reply, Post(path, body));
  }
  if (auto waiting = WaitingForOperator(reply)) {
    accepted_ = false;
    return *waiting;
  }
  if (reply.status != 200) return StatusFromHttp(reply, "heartbeat");
  return protocol::ParseHeartbeatResponse(reply.body);
}

}  // namespace oxide::agent
