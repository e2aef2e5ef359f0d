#include "protocol/heartbeat.hpp"

#include <nlohmann/json.hpp>

namespace oxide::protocol {

using nlohmann::json;

namespace {
constexpr std::string_view kStageNames[] = {"idle",      "downloading", "applying",
                                            "completed", "failed",      "rolled_back"};

// Reads an optional string field; wrong type is an error.
Status OptString(const json& j, const char* key, std::optional<std::string>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_string()) return InvalidArgument(std::string("field '") + key + "' must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}
Status ReqString(const json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return InvalidArgument(std::string("field '") + key + "' must be a string");
  }
  *out = it->get<std::string>();
  return Status::Ok();
}
Status OptU64(const json& j, const char* key, uint64_t* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<int64_t>() >= 0)) {
    return InvalidArgument(std::string("field '") + key + "' must be a non-negative integer");
  }
  *out = it->get<uint64_t>();
  return Status::Ok();
}
}  // namespace

std::string_view ToString(UpdateStage s) { return kStageNames[static_cast<size_t>(s)]; }

Result<UpdateStage> ParseUpdateStage(std::string_view s) {
  for (size_t i = 0; i < std::size(kStageNames); ++i) {
    if (kStageNames[i] == s) return static_cast<UpdateStage>(i);
  }
  return InvalidArgument("unknown update stage '" + std::string(s) + "'");
}

std::string ToJson(const HeartbeatRequest& r) {
  json j;
  j["current_model"] = r.current_model ? json(*r.current_model) : json(nullptr);
  j["current_model_version"] =
      r.current_model_version ? json(*r.current_model_version) : json(nullptr);
  j["status"] = r.status;
  j["models"] = json::array();
  for (const auto& m : r.models) {
    j["models"].push_back({{"model_id", m.model_id}, {"version", m.version}, {"sha256", m.sha256}});
  }
  if (r.update) {
    const auto& u = *r.update;
    j["update"] = {{"model_id", u.model_id},
                   {"version", u.version},
                   {"stage", ToString(u.stage)},
                   {"bytes_done", u.bytes_done},
                   {"bytes_total", u.bytes_total},
                   {"via_patch", u.via_patch},
                   {"error", u.error}};
  } else {
    j["update"] = nullptr;
  }
  if (!r.agent_version.empty()) j["agent_version"] = r.agent_version;
  return j.dump();
}

Result<HeartbeatRequest> ParseHeartbeatRequest(std::string_view body) {
  HeartbeatRequest r;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return r;
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return InvalidArgument("heartbeat body is not valid JSON");
  if (!j.is_object()) return InvalidArgument("heartbeat body must be a JSON object");
  OXIDE_RETURN_IF_ERROR(OptString(j, "current_model", &r.current_model));
  OXIDE_RETURN_IF_ERROR(OptString(j, "current_model_version", &r.current_model_version));
  std::optional<std::string> status;
  OXIDE_RETURN_IF_ERROR(OptString(j, "status", &status));
  if (status) r.status = *status;
  std::optional<std::string> agent_version;
  OXIDE_RETURN_IF_ERROR(OptString(j, "agent_version", &agent_version));
  if (agent_version) r.agent_version = *agent_version;
  if (auto it = j.find("models"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return InvalidArgument("field 'models' must be an array");
    for (const auto& m : *it) {
      if (!m.is_object()) return InvalidArgument("each entry of 'models' must be an object");
      InstalledModel im;
      OXIDE_RETURN_IF_ERROR(ReqString(m, "model_id", &im.model_id));
      OXIDE_RETURN_IF_ERROR(ReqString(m, "version", &im.version));
      std::optional<std::string> sha;
      OXIDE_RETURN_IF_ERROR(OptString(m, "sha256", &sha));
      if (sha) im.sha256 = *sha;
      r.models.push_back(std::move(im));
    }
  }
  if (auto it = j.find("update"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return InvalidArgument("field 'update' must be an object");
    UpdateProgress u;
    OXIDE_RETURN_IF_ERROR(ReqString(*it, "model_id", &u.model_id));
    OXIDE_RETURN_IF_ERROR(ReqString(*it, "version", &u.version));
    std::string stage;
    OXIDE_RETURN_IF_ERROR(ReqString(*it, "stage", &stage));
    OXIDE_ASSIGN_OR_RETURN(u.stage, ParseUpdateStage(stage));
    OXIDE_RETURN_IF_ERROR(OptU64(*it, "bytes_done", &u.bytes_done));
    OXIDE_RETURN_IF_ERROR(OptU64(*it, "bytes_total", &u.bytes_total));
    if (auto vp = it->find("via_patch"); vp != it->end() && !vp->is_null()) {
      if (!vp->is_boolean()) return InvalidArgument("field 'via_patch' must be a boolean");
      u.via_patch = vp->get<bool>();
    }
    std::optional<std::string> err;
    OXIDE_RETURN_IF_ERROR(OptString(*it, "error", &err));
    if (err) u.error = *err;
    r.update = std::move(u);
  }
  return r;
}

std::string ToJson(const HeartbeatResponse& r) {
  json j;
  j["status"] = "ok";
  if (r.assignment) {
    const auto& a = *r.assignment;
    j["assigned_model"] = a.model_id;
    j["assigned_model_version"] = a.version;
    j["assignment"] = {{"model_id", a.model_id},
                       {"version", a.version},
                       {"sha256", a.sha256},
                       {"size_bytes", a.size_bytes},
                       {"campaign_id", a.campaign_id}};
  } else {
    j["assigned_model"] = nullptr;
    j["assigned_model_version"] = nullptr;
    j["assignment"] = nullptr;
  }
  j["poll_interval_seconds"] = r.poll_interval_seconds;
  return j.dump();
}

Result<HeartbeatResponse> ParseHeartbeatResponse(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("heartbeat response is not a JSON object");
  }
  HeartbeatResponse r;
  if (auto it = j.find("assignment"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return InvalidArgument("field 'assignment' must be an object");
    Assignment a;
    OXIDE_RETURN_IF_ERROR(ReqString(*it, "model_id", &a.model_id));
    OXIDE_RETURN_IF_ERROR(ReqString(*it, "version", &a.version));
    OXIDE_RETURN_IF_ERROR(ReqString(*it, "sha256", &a.sha256));
    OXIDE_RETURN_IF_ERROR(OptU64(*it, "size_bytes", &a.size_bytes));
    std::optional<std::string> cid;
    OXIDE_RETURN_IF_ERROR(OptString(*it, "campaign_id", &cid));
    if (cid) a.campaign_id = *cid;
    r.assignment = std::move(a);
  }
  uint64_t poll = 0;
  OXIDE_RETURN_IF_ERROR(OptU64(j, "poll_interval_seconds", &poll));
  r.poll_interval_seconds = static_cast<uint32_t>(std::min<uint64_t>(poll, 86400));
  return r;
}

}  // namespace oxide::protocol
