#pragma once

#include <string>

#include "base/result.hpp"
#include "http_client/http.hpp"
#include "protocol/heartbeat.hpp"

namespace oxide::agent {

// What the device presents: its secret (<state-dir>/device.secret) and, for enrollment only,
// a fleet enrollment token (may be empty: the device then waits until an operator accepts it).
struct DeviceCredential {
  std::string secret;
  std::string enrollment_token;
};

// The agent's side of the control-plane API: enrollment and heartbeat. Every call carries
// `Authorization: Bearer <secret>` and `X-Oxide-Device-Id`. The device enrolls (POST
// /api/v1/enroll) before its first heartbeat, and again when the server no longer knows its
// credential (401). `http` must outlive this object.
// Errors: kUnavailable (transport, 5xx, 429, and waiting for an operator: pending or rejected,
// so the loop keeps polling with backoff), kInvalidArgument (unparseable reply),
// kFailedPrecondition (other 4xx, e.g. a refused enrollment token or another device's id).
class ControlPlane {
 public:
  ControlPlane(HttpClient& http, std::string base_url, std::string device_id,
               std::string device_name, DeviceCredential credential = {})
      : http_(http),
        base_url_(std::move(base_url)),
        device_id_(std::move(device_id)),
        device_name_(std::move(device_name)),
        credential_(std::move(credential)) {}

  Result<protocol::HeartbeatResponse> Heartbeat(const protocol::HeartbeatRequest& request);
  // OK once accepted; kUnavailable while pending or rejected.
  Status Enroll();
  // Authorization + X-Oxide-Device-Id, for downloads.
  HeaderList AuthHeaders() const;

 private:
  Result<HttpReply> Post(const std::string& path, const std::string& json);

  HttpClient& http_;
  std::string base_url_;
  std::string device_id_;
  std::string device_name_;
  DeviceCredential credential_;
  bool accepted_ = false;  // enrolled and accepted during this run
};

}  // namespace oxide::agent
