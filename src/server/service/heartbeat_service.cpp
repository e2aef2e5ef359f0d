#include "server/service/heartbeat_service.hpp"

#include "server/service/ids.hpp"

namespace oxide::server {
namespace {

bool IsLowerHexDigest(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

Status CheckLength(const char* field, const std::string& v, size_t max) {
  if (v.size() > max) {
    return InvalidArgument(std::string("field '") + field + "' is longer than " +
                           std::to_string(max) + " characters");
  }
  return Status::Ok();
}

}  // namespace

Result<protocol::HeartbeatResponse> HeartbeatService::Handle(
    const std::string& device_id, const protocol::HeartbeatRequest& req) {
  OXIDE_RETURN_IF_ERROR(ValidateId("device id", device_id));
  OXIDE_RETURN_IF_ERROR(CheckLength("status", req.status, 64));
  OXIDE_RETURN_IF_ERROR(CheckLength("agent_version", req.agent_version, 64));
  OXIDE_RETURN_IF_ERROR(CheckLength("current_model", req.current_model.value_or(""), 128));
  OXIDE_RETURN_IF_ERROR(
      CheckLength("current_model_version", req.current_model_version.value_or(""), 128));
  if (req.models.size() > 64) return InvalidArgument("at most 64 entries in 'models'");
  for (const auto& m : req.models) {
    OXIDE_RETURN_IF_ERROR(ValidateId("models[].model_id", m.model_id));
    OXIDE_RETURN_IF_ERROR(ValidateId("models[].version", m.version));
    OXIDE_RETURN_IF_ERROR(CheckLength("models[].sha256", m.sha256, 128));
  }

  protocol::HeartbeatResponse resp;
  resp.poll_interval_seconds = options_.poll_interval_seconds;
  if (Status tx = store_.InTransaction([&]() -> Status {
        OXIDE_ASSIGN_OR_RETURN(store::DeviceRecord d, store_.devices().Get(device_id));
        d.last_seen = clock_.UnixMillis();
        d.reported_status = req.status;
        if (!req.agent_version.empty()) d.agent_version = req.agent_version;
        std::string model = req.current_model.value_or("");
        std::string version = req.current_model_version.value_or("");
        if (model.empty() && !req.models.empty()) {
          model = req.models.front().model_id;
          version = req.models.front().version;
        }
        std::string sha;
        for (const auto& m : req.models) {
          if (m.model_id == model && m.version == version && IsLowerHexDigest(m.sha256)) {
            sha = m.sha256;
          }
        }
        // A bare (timestamp-only) heartbeat keeps what the device last reported.
        if (req.current_model.has_value() || !req.models.empty()) {
          d.current_model = model;
          d.current_version = version;
          d.current_sha256 = sha;
        }
        OXIDE_RETURN_IF_ERROR(store_.devices().Update(d));
        OXIDE_RETURN_IF_ERROR(campaigns_.OnHeartbeat(d, req.update));
        OXIDE_ASSIGN_OR_RETURN(auto a, store_.assignments().Get(device_id));
        if (a) {
          resp.assignment = protocol::Assignment{a->model_id, a->version, a->sha256, a->size_bytes,
                                                 a->campaign_id};
        }
        return Status::Ok();
      });
      !tx.ok())
    return tx;
  return resp;
}

}  // namespace oxide::server
