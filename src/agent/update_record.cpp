// JSON codec of the agent state file. nlohmann stays inside this file (it throws; everything
// thrown is caught here and turned into a Status).
#include "agent/update_record.hpp"

#include <nlohmann/json.hpp>

namespace oxide::agent {

namespace {

using nlohmann::json;

json RefToJson(const std::optional<ModelRef>& r) {
  if (!r) return nullptr;
  return json{{"version", r->version},
              {"sha256", r->sha256},
              {"size_bytes", r->size_bytes},
              {"campaign_id", r->campaign_id},
              {"release_counter", r->release_counter},
              {"golden_sha256", r->golden_sha256},
              {"golden_size", r->golden_size},
              {"signature_change_allowed", r->signature_change_allowed}};
}

std::optional<ModelRef> RefFromJson(const json& j) {
  if (j.is_null()) return std::nullopt;
  ModelRef r;
  r.version = j.at("version").get<std::string>();
  r.sha256 = j.at("sha256").get<std::string>();
  r.size_bytes = j.value("size_bytes", uint64_t{0});
  r.campaign_id = j.value("campaign_id", std::string());
  r.release_counter = j.value("release_counter", uint64_t{0});
  r.golden_sha256 = j.value("golden_sha256", std::string());
  r.golden_size = j.value("golden_size", uint64_t{0});
  r.signature_change_allowed = j.value("signature_change_allowed", false);
  return r;
}

json ReportToJson(const protocol::FailureReport& f) {
  return json{{"id", f.id},
              {"model_id", f.model_id},
              {"version", f.version},
              {"campaign_id", f.campaign_id},
              {"outcome", std::string(protocol::ToString(f.outcome))},
              {"stage", std::string(protocol::ToString(f.stage))},
              {"local", f.local},
              {"exit_status", f.exit_status ? json(*f.exit_status) : json(nullptr)},
              {"error", f.error},
              {"output", f.output},
              {"at_ms", f.at_ms}};
}

Result<protocol::FailureReport> ReportFromJson(const json& j) {
  protocol::FailureReport f;
  f.id = j.at("id").get<std::string>();
  f.model_id = j.at("model_id").get<std::string>();
  f.version = j.at("version").get<std::string>();
  f.campaign_id = j.value("campaign_id", std::string());
  OXIDE_ASSIGN_OR_RETURN(f.outcome,
                         protocol::ParseFailureOutcome(j.at("outcome").get<std::string>()));
  OXIDE_ASSIGN_OR_RETURN(f.stage, protocol::ParseFailureStage(j.value("stage", "unknown")));
  f.local = j.value("local", false);
  if (j.contains("exit_status") && !j.at("exit_status").is_null()) {
    f.exit_status = j.at("exit_status").get<int>();
  }
  f.error = j.value("error", std::string());
  f.output = j.value("output", std::string());
  f.at_ms = j.value("at_ms", int64_t{0});
  return f;
}

}  // namespace

std::string_view ToString(Outcome o) {
  switch (o) {
    case Outcome::kNone:
      return "none";
    case Outcome::kCommitted:
      return "committed";
    case Outcome::kRolledBack:
      return "rolled_back";
    case Outcome::kFailed:
      return "failed";
  }
  return "invalid";
}

Result<Outcome> ParseOutcome(std::string_view s) {
  for (Outcome o : {Outcome::kNone, Outcome::kCommitted, Outcome::kRolledBack, Outcome::kFailed}) {
    if (ToString(o) == s) return o;
  }
  return InvalidArgument("unknown outcome '" + std::string(s) + "'");
}

std::string EncodeUpdateRecord(const UpdateRecord& r) {
  json j = {
      {"format_version", UpdateRecord::kFormatVersion},
      {"model_id", r.model_id},
      {"state", std::string(ToString(r.state))},
      {"installed", RefToJson(r.installed)},
      {"target", RefToJson(r.target)},
      {"previous", RefToJson(r.previous)},
      {"download",
       {{"full_only", r.download.full_only},
        {"via_patch", r.download.via_patch},
        {"etag", r.download.etag},
        {"payload_sha256", r.download.payload_sha256},
        {"bytes_done", r.download.bytes_done},
        {"bytes_total", r.download.bytes_total},
        {"bytes_synced", r.download.bytes_synced},
        {"fallback_reason", r.download.fallback_reason},
        {"stalled_attempts", r.download.stalled_attempts}}},
      {"poison", {{"version", r.poison_version}, {"failures", r.poison_failures}}},
      {"local_fault", r.local_fault},
      {"local_failures", r.local_failures},
      {"health_attempts", r.health_attempts},
      {"health_group", r.health_group ? json{{"pgid", r.health_group->pgid},
                                             {"start_ticks", r.health_group->start_ticks},
                                             {"boot_id", r.health_group->boot_id}}
                                      : json(nullptr)},
      {"local_retry",
       {{"version", r.local_retry.version},
        {"sha256", r.local_retry.sha256},
        {"failures", r.local_retry.failures},
        {"not_before_unix_ms", r.local_retry.not_before_unix_ms}}},
      {"last_outcome", std::string(ToString(r.last_outcome))},
      {"last_version", r.last_version},
      {"last_error", r.last_error},
      {"last_local_fault", r.last_local_fault},
      {"refusal_campaign", r.refusal_campaign},
      {"highest_release_counter", r.highest_release_counter},
      {"failure",
       {{"stage", std::string(protocol::ToString(r.failure_stage))},
        {"exit_status", r.failure_exit_status ? json(*r.failure_exit_status) : json(nullptr)},
        {"output", r.failure_output}}},
  };
  j["pending_reports"] = json::array();
  for (const auto& f : r.pending_reports) j["pending_reports"].push_back(ReportToJson(f));
  // "replace": health check output may hold bytes that are not UTF-8.
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<UpdateRecord> DecodeUpdateRecord(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corrupt("state file is not a JSON object");
  try {
    int version = j.at("format_version").get<int>();
    if (version != UpdateRecord::kFormatVersion) {
      return Unsupported("state file format_version " + std::to_string(version));
    }
    UpdateRecord r;
    r.model_id = j.at("model_id").get<std::string>();
    auto state = ParseOtaState(j.at("state").get<std::string>());
    if (!state.ok()) return Corrupt(state.status().message());
    r.state = *state;
    r.installed = RefFromJson(j.at("installed"));
    r.target = RefFromJson(j.at("target"));
    r.previous = RefFromJson(j.at("previous"));
    const json& d = j.at("download");
    r.download.full_only = d.at("full_only").get<bool>();
    r.download.via_patch = d.at("via_patch").get<bool>();
    r.download.etag = d.at("etag").get<std::string>();
    r.download.payload_sha256 = d.at("payload_sha256").get<std::string>();
    r.download.bytes_done = d.at("bytes_done").get<uint64_t>();
    r.download.bytes_total = d.at("bytes_total").get<uint64_t>();
    // Added later within format_version 1: optional, with defaults.
    r.download.bytes_synced = d.value("bytes_synced", uint64_t{0});
    r.download.fallback_reason = d.value("fallback_reason", std::string());
    r.download.stalled_attempts = d.value("stalled_attempts", uint32_t{0});
    r.poison_version = j.at("poison").at("version").get<std::string>();
    r.poison_failures = j.at("poison").at("failures").get<uint32_t>();
    r.local_fault = j.value("local_fault", false);
    r.local_failures = j.value("local_failures", uint32_t{0});
    r.highest_release_counter = j.value("highest_release_counter", uint64_t{0});
    r.health_attempts = j.value("health_attempts", uint32_t{0});
    if (auto g = j.find("health_group"); g != j.end() && !g->is_null()) {
      r.health_group =
          HealthGroup{g->at("pgid").get<int64_t>(), g->at("start_ticks").get<uint64_t>(),
                      g->at("boot_id").get<std::string>()};
    }
    if (auto l = j.find("local_retry"); l != j.end()) {
      r.local_retry.version = l->at("version").get<std::string>();
      r.local_retry.sha256 = l->at("sha256").get<std::string>();
      r.local_retry.failures = l->at("failures").get<uint32_t>();
      r.local_retry.not_before_unix_ms = l->at("not_before_unix_ms").get<int64_t>();
    }
    auto outcome = ParseOutcome(j.at("last_outcome").get<std::string>());
    if (!outcome.ok()) return Corrupt(outcome.status().message());
    r.last_outcome = *outcome;
    r.last_version = j.at("last_version").get<std::string>();
    r.last_error = j.at("last_error").get<std::string>();
    // Added later within format_version 1: optional.
    r.last_local_fault = j.value("last_local_fault", false);
    r.refusal_campaign = j.value("refusal_campaign", std::string());
    if (auto f = j.find("failure"); f != j.end() && f->is_object()) {
      auto stage = protocol::ParseFailureStage(f->value("stage", "unknown"));
      if (!stage.ok()) return Corrupt(stage.status().message());
      r.failure_stage = *stage;
      if (f->contains("exit_status") && !f->at("exit_status").is_null()) {
        r.failure_exit_status = f->at("exit_status").get<int>();
      }
      r.failure_output = f->value("output", std::string());
    }
    if (auto p = j.find("pending_reports"); p != j.end() && p->is_array()) {
      for (const auto& e : *p) {
        auto f = ReportFromJson(e);
        if (!f.ok()) return Corrupt(f.status().message());
        r.pending_reports.push_back(std::move(f).value());
      }
    }
    if (r.state != OtaState::kIdle && !r.target) return Corrupt("busy state without a target");
    return r;
  } catch (const json::exception& e) {
    return Corrupt(std::string("state file: ") + e.what());
  }
}

}  // namespace oxide::agent
