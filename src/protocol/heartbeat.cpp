#include "protocol/heartbeat.hpp"

#include <nlohmann/json.hpp>

#include "protocol/inventory_json.hpp"

namespace oxide::protocol {

using nlohmann::json;

namespace {
constexpr std::string_view kStageNames[] = {"idle",      "downloading", "applying",
                                            "completed", "failed",      "rolled_back"};
constexpr std::string_view kOutcomeNames[] = {"failed", "rolled_back", "fallback", "refused"};
constexpr std::string_view kFailureStageNames[] = {
    "unknown", "download", "patch", "verify", "backup", "activate", "health_check", "preflight"};

template <class E, size_t N>
Result<E> ByName(const std::string_view (&names)[N], std::string_view s, const char* what) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == s) return static_cast<E>(i);
  }
  return InvalidArgument(std::string("unknown ") + what + " '" + std::string(s) + "'");
}

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
Status OptBool(const json& j, const char* key, bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_boolean())
    return InvalidArgument(std::string("field '") + key + "' must be a boolean");
  *out = it->get<bool>();
  return Status::Ok();
}
Status OptInt(const json& j, const char* key, std::optional<int64_t>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (!it->is_number_integer()) {
    return InvalidArgument(std::string("field '") + key + "' must be an integer");
  }
  *out = it->get<int64_t>();
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

std::string_view ToString(FailureOutcome o) {
  auto i = static_cast<size_t>(o);
  return i < std::size(kOutcomeNames) ? kOutcomeNames[i] : "unknown";
}
Result<FailureOutcome> ParseFailureOutcome(std::string_view s) {
  return ByName<FailureOutcome>(kOutcomeNames, s, "failure outcome");
}

std::string_view ToString(FailureStage s) {
  auto i = static_cast<size_t>(s);
  return i < std::size(kFailureStageNames) ? kFailureStageNames[i] : "unknown";
}
Result<FailureStage> ParseFailureStage(std::string_view s) {
  return ByName<FailureStage>(kFailureStageNames, s, "failure stage");
}

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
    if (u.local_fault) j["update"]["local_fault"] = true;
  } else {
    j["update"] = nullptr;
  }
  if (!r.agent_version.empty()) j["agent_version"] = r.agent_version;
  if (r.platform) {
    j["platform"] = {
        {"os", r.platform->os}, {"arch", r.platform->arch}, {"cpu_count", r.platform->cpu_count}};
  }
  if (r.reports) {
    j["reports"] = json::array();
    for (const auto& f : *r.reports) {
      json e = {{"id", f.id},
                {"model_id", f.model_id},
                {"version", f.version},
                {"campaign_id", f.campaign_id},
                {"outcome", ToString(f.outcome)},
                {"stage", ToString(f.stage)},
                {"local", f.local},
                {"exit_status", f.exit_status ? json(*f.exit_status) : json(nullptr)},
                {"error", f.error},
                {"output", f.output},
                {"at_ms", f.at_ms}};
      j["reports"].push_back(std::move(e));
    }
  }
  if (!r.cleared_refusals.empty()) j["cleared_refusals"] = r.cleared_refusals;
  if (r.last_update_result) {
    j["last_update_result"] = r.last_update_result->failed
                                  ? json{{"failed", {{"error", r.last_update_result->error}}}}
                                  : json("success");
  }
  if (r.inventory) j["inventory"] = internal::InventoryToJson(*r.inventory);
  // "replace": error texts may hold any bytes a health check printed.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

Result<FailureReport> ParseReport(const json& e) {
  if (!e.is_object()) return InvalidArgument("each entry of 'reports' must be an object");
  FailureReport f;
  OXIDE_RETURN_IF_ERROR(ReqString(e, "id", &f.id));
  OXIDE_RETURN_IF_ERROR(ReqString(e, "model_id", &f.model_id));
  OXIDE_RETURN_IF_ERROR(ReqString(e, "version", &f.version));
  std::optional<std::string> s;
  OXIDE_RETURN_IF_ERROR(OptString(e, "campaign_id", &s));
  if (s) f.campaign_id = *s;
  std::string outcome;
  OXIDE_RETURN_IF_ERROR(ReqString(e, "outcome", &outcome));
  OXIDE_ASSIGN_OR_RETURN(f.outcome, ParseFailureOutcome(outcome));
  s.reset();
  OXIDE_RETURN_IF_ERROR(OptString(e, "stage", &s));
  if (s) {
    OXIDE_ASSIGN_OR_RETURN(f.stage, ParseFailureStage(*s));
  }
  OXIDE_RETURN_IF_ERROR(OptBool(e, "local", &f.local));
  std::optional<int64_t> exit_status;
  OXIDE_RETURN_IF_ERROR(OptInt(e, "exit_status", &exit_status));
  if (exit_status) {
    if (*exit_status < -1 || *exit_status > 255) {
      return InvalidArgument("field 'exit_status' must be between -1 and 255");
    }
    f.exit_status = static_cast<int>(*exit_status);
  }
  s.reset();
  OXIDE_RETURN_IF_ERROR(OptString(e, "error", &s));
  if (s) f.error = *s;
  s.reset();
  OXIDE_RETURN_IF_ERROR(OptString(e, "output", &s));
  if (s) f.output = *s;
  std::optional<int64_t> at;
  OXIDE_RETURN_IF_ERROR(OptInt(e, "at_ms", &at));
  f.at_ms = at.value_or(0);
  return f;
}

// "success" | {"failed": {"error": "..."}} | {"failed": "..."} | null.
Status ParseLastUpdateResult(const json& j, std::optional<LastUpdateResult>* out) {
  auto it = j.find("last_update_result");
  if (it == j.end() || it->is_null()) return Status::Ok();
  if (it->is_string()) {
    if (it->get<std::string>() != "success") {
      return InvalidArgument("field 'last_update_result' must be \"success\" or {\"failed\":...}");
    }
    *out = LastUpdateResult{};
    return Status::Ok();
  }
  auto failed = it->is_object() ? it->find("failed") : it->end();
  if (!it->is_object() || failed == it->end()) {
    return InvalidArgument("field 'last_update_result' must be \"success\" or {\"failed\":...}");
  }
  LastUpdateResult r{true, ""};
  if (failed->is_string()) {
    r.error = failed->get<std::string>();
  } else if (failed->is_object()) {
    std::optional<std::string> err;
    OXIDE_RETURN_IF_ERROR(OptString(*failed, "error", &err));
    r.error = err.value_or("");
  } else if (!failed->is_null()) {
    return InvalidArgument("field 'last_update_result.failed' must be an object");
  }
  *out = std::move(r);
  return Status::Ok();
}

}  // namespace

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
    OXIDE_RETURN_IF_ERROR(OptBool(*it, "local_fault", &u.local_fault));
    r.update = std::move(u);
  }
  if (auto it = j.find("platform"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return InvalidArgument("field 'platform' must be an object");
    Platform p;
    std::optional<std::string> s;
    OXIDE_RETURN_IF_ERROR(OptString(*it, "os", &s));
    p.os = s.value_or("");
    s.reset();
    OXIDE_RETURN_IF_ERROR(OptString(*it, "arch", &s));
    p.arch = s.value_or("");
    uint64_t cpus = 0;
    OXIDE_RETURN_IF_ERROR(OptU64(*it, "cpu_count", &cpus));
    p.cpu_count = static_cast<uint32_t>(std::min<uint64_t>(cpus, 1u << 20));
    r.platform = std::move(p);
  }
  if (auto it = j.find("reports"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return InvalidArgument("field 'reports' must be an array");
    r.reports.emplace();
    for (const auto& e : *it) {
      OXIDE_ASSIGN_OR_RETURN(auto f, ParseReport(e));
      r.reports->push_back(std::move(f));
    }
  }
  if (auto it = j.find("cleared_refusals"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return InvalidArgument("field 'cleared_refusals' must be an array");
    for (const auto& e : *it) {
      if (!e.is_number_integer()) {
        return InvalidArgument("entries of 'cleared_refusals' must be integers");
      }
      r.cleared_refusals.push_back(e.get<int64_t>());
    }
  }
  OXIDE_RETURN_IF_ERROR(ParseLastUpdateResult(j, &r.last_update_result));
  if (auto it = j.find("inventory"); it != j.end() && !it->is_null()) {
    OXIDE_ASSIGN_OR_RETURN(r.inventory, internal::InventoryFromJson(*it));
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
    if (!a.release.empty()) {
      json release = json::parse(a.release, nullptr, /*allow_exceptions=*/false);
      if (release.is_object()) j["assignment"]["release"] = std::move(release);
    }
    if (a.signature_change_allowed) j["assignment"]["signature_change_allowed"] = true;
    if (!a.golden_sha256.empty()) {
      j["assignment"]["golden"] = {{"sha256", a.golden_sha256}, {"size_bytes", a.golden_size}};
    }
  } else {
    j["assigned_model"] = nullptr;
    j["assigned_model_version"] = nullptr;
    j["assignment"] = nullptr;
  }
  j["poll_interval_seconds"] = r.poll_interval_seconds;
  if (!r.clear_refusals.empty()) {
    j["clear_refusals"] = json::array();
    for (const auto& c : r.clear_refusals) {
      j["clear_refusals"].push_back(
          {{"id", c.id}, {"model_id", c.model_id}, {"version", c.version}});
    }
  }
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
    if (auto rel = it->find("release"); rel != it->end() && !rel->is_null()) {
      if (!rel->is_object()) return InvalidArgument("field 'assignment.release' must be an object");
      a.release = rel->dump();
    }
    OXIDE_RETURN_IF_ERROR(OptBool(*it, "signature_change_allowed", &a.signature_change_allowed));
    if (auto g = it->find("golden"); g != it->end() && !g->is_null()) {
      if (!g->is_object()) return InvalidArgument("field 'assignment.golden' must be an object");
      OXIDE_RETURN_IF_ERROR(ReqString(*g, "sha256", &a.golden_sha256));
      OXIDE_RETURN_IF_ERROR(OptU64(*g, "size_bytes", &a.golden_size));
    }
    r.assignment = std::move(a);
  }
  uint64_t poll = 0;
  OXIDE_RETURN_IF_ERROR(OptU64(j, "poll_interval_seconds", &poll));
  r.poll_interval_seconds = static_cast<uint32_t>(std::min<uint64_t>(poll, 86400));
  if (auto it = j.find("clear_refusals"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return InvalidArgument("field 'clear_refusals' must be an array");
    for (const auto& e : *it) {
      if (!e.is_object()) return InvalidArgument("entries of 'clear_refusals' must be objects");
      RefusalClearance c;
      std::optional<int64_t> id;
      OXIDE_RETURN_IF_ERROR(OptInt(e, "id", &id));
      if (!id) return InvalidArgument("field 'clear_refusals[].id' must be an integer");
      c.id = *id;
      OXIDE_RETURN_IF_ERROR(ReqString(e, "model_id", &c.model_id));
      OXIDE_RETURN_IF_ERROR(ReqString(e, "version", &c.version));
      r.clear_refusals.push_back(std::move(c));
    }
  }
  return r;
}

}  // namespace oxide::protocol
