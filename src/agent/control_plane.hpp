#pragma once

#include <string>

#include "agent/downloader.hpp"
#include "base/result.hpp"
#include "protocol/heartbeat.hpp"

namespace oxide::agent {

// The agent's side of the control-plane API: heartbeat, and self-registration when the server
// does not know the device (404 on heartbeat → POST /api/v1/devices → heartbeat again).
// `http` must outlive this object. Errors: kUnavailable (transport, 5xx: retry with backoff),
// kInvalidArgument (unparseable reply), kFailedPrecondition (other 4xx).
class ControlPlane {
 public:
  ControlPlane(HttpClient& http, std::string base_url, std::string device_id,
               std::string device_name)
      : http_(http),
        base_url_(std::move(base_url)),
        device_id_(std::move(device_id)),
        device_name_(std::move(device_name)) {}

  Result<protocol::HeartbeatResponse> Heartbeat(const protocol::HeartbeatRequest& request);
  Status Register();

 private:
  Result<HttpReply> Post(const std::string& path, const std::string& json);

  HttpClient& http_;
  std::string base_url_;
  std::string device_id_;
  std::string device_name_;
};

}  // namespace oxide::agent
