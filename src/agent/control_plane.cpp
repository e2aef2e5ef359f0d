#include "agent/control_plane.hpp"

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

}  // namespace

Result<HttpReply> ControlPlane::Post(const std::string& path, const std::string& json) {
  return http_.PostJson(base_url_ + path, json);
}

Status ControlPlane::Register() {
  std::string body =
      "{\"id\":" + JsonString(device_id_) + ",\"name\":" + JsonString(device_name_) + "}";
  OXIDE_ASSIGN_OR_RETURN(HttpReply reply, Post("/api/v1/devices", body));
  if (reply.status == 200 || reply.status == 201 || reply.status == 409) return Status::Ok();
  return StatusFromHttp(reply, "register device " + device_id_);
}

Result<protocol::HeartbeatResponse> ControlPlane::Heartbeat(
    const protocol::HeartbeatRequest& request) {
  const std::string path = "/api/v1/devices/" + device_id_ + "/heartbeat";
  const std::string body = protocol::ToJson(request);
  OXIDE_ASSIGN_OR_RETURN(HttpReply reply, Post(path, body));
  if (reply.status == 404) {
    OXIDE_RETURN_IF_ERROR(Register());
    OXIDE_ASSIGN_OR_RETURN(reply, Post(path, body));
  }
  if (reply.status != 200) return StatusFromHttp(reply, "heartbeat");
  return protocol::ParseHeartbeatResponse(reply.body);
}

}  // namespace oxide::agent
