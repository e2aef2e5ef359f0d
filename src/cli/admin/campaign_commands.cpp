// `oxide campaign create|list|show|pause|resume|abort|approve` (watch: campaign_watch.cpp).
#include <nlohmann/json.hpp>

#include "cli/admin/admin_commands.hpp"
#include "cli/admin/table.hpp"

namespace oxide::cli::admin {

Result<std::pair<std::string, std::string>> KeyValue(const std::string& kv, const char* flag) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) {
    return InvalidArgument(std::string(flag) + " wants KEY=VALUE, got '" + kv + "'");
  }
  return std::make_pair(kv.substr(0, eq), kv.substr(eq + 1));
}

namespace {

using Json = nlohmann::json;

Status List(AdminContext& ctx) {
  // Page by page when the server pages (`next_after`); an older one answers everything at once.
  OXIDE_ASSIGN_OR_RETURN(Json j, ctx.client.Get<Json>("/api/v1/campaigns"));
  for (int pages = 0; Str(j, "next_after") != "-" && pages < 1000; ++pages) {
    OXIDE_ASSIGN_OR_RETURN(Json next, ctx.client.Get<Json>("/api/v1/campaigns?after=" +
                                                           PathEscape(Str(j, "next_after"))));
    for (Json& c : next.value("campaigns", Json::array())) j["campaigns"].push_back(std::move(c));
    j["next_after"] = next.value("next_after", Json());
  }
  if (ctx.console.json) {
    PrintJson(ctx.console, j);
    return Status::Ok();
  }
  Table t({"ID", "MODEL", "FLEET", "STRATEGY", "STATE", "DONE", "FAILED"});
  t.AlignRight(5);
  t.AlignRight(6);
  for (const Json& c : j.value("campaigns", Json::array())) {
    t.AddRow({Str(c, "id"), Str(c, "model_id") + " " + Str(c, "target_version"), Str(c, "fleet_id"),
              Str(c, "strategy"), Str(c, "state"),
              std::to_string(U64(c, "complete")) + "/" + std::to_string(U64(c, "total")),
              std::to_string(U64(c, "failed") + U64(c, "rolled_back"))});
  }
  Print(ctx.console, t.Render());
  return Status::Ok();
}

Status Act(const std::string& id, const char* verb, AdminContext& ctx) {
  OXIDE_ASSIGN_OR_RETURN(
      Json r, ctx.client.Post("/api/v1/campaigns/" + PathEscape(id) + "/" + verb, Json::object()));
  if (ctx.console.json) {
    PrintJson(ctx.console, r);
    return Status::Ok();
  }
  Print(ctx.console, "campaign " + id + ": " + Str(r, "state") + "\n");
  return Status::Ok();
}

}  // namespace

namespace {

Result<Json> CampaignJson(const CampaignSpec& s) {
  Json body{{"model_id", s.model}, {"model_version", s.version}};
  if (!s.fleet.empty()) body["fleet_id"] = s.fleet;
  if (s.strategy == "all-at-once" || s.strategy == "all_at_once") {
    body["strategy"] = "all_at_once";
  } else if (s.strategy == "canary" || s.strategy == "rolling") {
    body["strategy"] = s.strategy;
  } else {
    return InvalidArgument("--strategy: all-at-once, canary or rolling, not '" + s.strategy + "'");
  }
  if (s.canary_percent >= 0) body["canary_percent"] = s.canary_percent;
  if (s.batch_size >= 0) body["batch_size"] = s.batch_size;
  if (s.failure_threshold_count >= 0) body["failure_threshold_count"] = s.failure_threshold_count;
  if (s.failure_threshold_percent >= 0) {
    body["failure_threshold_percent"] = s.failure_threshold_percent;
  }
  if (!s.tags.empty() || !s.attrs.empty()) {
    Json target{{"tags", Json::object()}, {"inventory", Json::object()}};
    for (const std::string& kv : s.tags) {
      OXIDE_ASSIGN_OR_RETURN(auto p, KeyValue(kv, "--tag"));
      target["tags"][p.first] = p.second;
    }
    for (const std::string& kv : s.attrs) {
      OXIDE_ASSIGN_OR_RETURN(auto p, KeyValue(kv, "--attr"));
      target["inventory"][p.first] = p.second;
    }
    body["target"] = target;
  }
  if (s.fleet.empty() && !body.contains("target")) {
    return InvalidArgument("say which devices: --fleet ID and/or --tag K=V / --attr K=V");
  }
  if (s.require_approval) body["require_approval"] = true;
  if (s.allow_signature_change) body["allow_signature_change"] = true;
  return body;
}

}  // namespace

Result<std::string> CampaignBody(const CampaignSpec& spec) {
  OXIDE_ASSIGN_OR_RETURN(Json body, CampaignJson(spec));
  return body.dump();
}

Result<int> CreateCampaign(const CampaignSpec& spec, AdminContext& ctx, std::string* id) {
  OXIDE_ASSIGN_OR_RETURN(Json body, CampaignJson(spec));
  OXIDE_ASSIGN_OR_RETURN(Json c, ctx.client.Post("/api/v1/campaigns", body));
  *id = Str(c, "id");
  if (ctx.console.json) {
    PrintJson(ctx.console, c);
    return 0;
  }
  uint64_t n = U64(c, "total_devices");
  Print(ctx.console, "created campaign " + *id + ": " + Str(c, "model_id") + " " +
                         Str(c, "target_version") + " to " + std::to_string(n) +
                         (n == 1 ? " device (" : " devices (") + Str(c, "strategy") +
                         (Str(c, "require_approval") == "yes" ? ", waits for approval" : "") +
                         "), " + Str(c, "state") + "\n");
  return 0;
}

Result<int> RunCampaignCommand(const AdminArgs& a, AdminContext& ctx) {
  switch (a.command) {
    case AdminCommand::kCampaignCreate: {
      std::string id;
      return CreateCampaign(a.campaign, ctx, &id);
    }
    case AdminCommand::kCampaignList:
      OXIDE_RETURN_IF_ERROR(List(ctx));
      return 0;
    case AdminCommand::kCampaignShow:
      OXIDE_RETURN_IF_ERROR(ShowCampaign(a.id, ctx));
      return 0;
    case AdminCommand::kCampaignWatch:
      return WatchCampaign(a.id, ctx);
    case AdminCommand::kCampaignPause:
      OXIDE_RETURN_IF_ERROR(Act(a.id, "pause", ctx));
      return 0;
    case AdminCommand::kCampaignResume:
      OXIDE_RETURN_IF_ERROR(Act(a.id, "resume", ctx));
      return 0;
    case AdminCommand::kCampaignAbort:
      OXIDE_RETURN_IF_ERROR(Act(a.id, "abort", ctx));
      return 0;
    case AdminCommand::kCampaignApprove:
      OXIDE_RETURN_IF_ERROR(Act(a.id, "approve", ctx));
      return 0;
    default:
      return Internal("not a campaign command");
  }
}

Result<int> RunDeploy(const AdminArgs& a, AdminContext& ctx) {
  OXIDE_RETURN_IF_ERROR(CampaignBody(a.campaign).status());  // refuse bad flags before uploading
  OXIDE_RETURN_IF_ERROR(PushModel(a, ctx).status());
  std::string id;
  OXIDE_RETURN_IF_ERROR(CreateCampaign(a.campaign, ctx, &id).status());
  if (!a.watch) return 0;
  return WatchCampaign(id, ctx);
}

}  // namespace oxide::cli::admin
