// `oxide fleet create|list|show|add|remove`.
#include <nlohmann/json.hpp>

#include "cli/admin/admin_commands.hpp"
#include "cli/admin/table.hpp"

namespace oxide::cli::admin {
namespace {

using Json = nlohmann::json;

std::string Tags(const Json& j) {
  std::string out;
  if (j.contains("tags") && j["tags"].is_object()) {
    for (const auto& [k, v] : j["tags"].items()) {
      out += (out.empty() ? "" : ",") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
    }
  }
  return out.empty() ? "-" : out;
}

Status Create(const AdminArgs& a, AdminContext& ctx) {
  Json body{{"id", a.id}};
  if (!a.name.empty()) body["name"] = a.name;
  if (!a.description.empty()) body["description"] = a.description;
  OXIDE_ASSIGN_OR_RETURN(Json r, ctx.client.Post("/api/v1/fleets", body));
  if (ctx.console.json) {
    PrintJson(ctx.console, r);
    return Status::Ok();
  }
  Print(ctx.console, "fleet " + a.id + ": created\n");
  return Status::Ok();
}

Status List(AdminContext& ctx) {
  OXIDE_ASSIGN_OR_RETURN(Json fleets, ctx.client.Get<Json>("/api/v1/fleets"));
  if (ctx.console.json) {
    PrintJson(ctx.console, fleets);
    return Status::Ok();
  }
  Table t({"ID", "NAME", "DEVICES", "TAGS", "CREATED"});
  t.AlignRight(2);
  for (const Json& f : fleets) {
    size_t n = f.contains("devices") && f["devices"].is_array() ? f["devices"].size() : 0;
    t.AddRow({Str(f, "id"), Str(f, "name"), std::to_string(n), Tags(f),
              ShortTime(Str(f, "created_at"))});
  }
  Print(ctx.console, t.Render());
  return Status::Ok();
}

Status Show(const std::string& id, AdminContext& ctx) {
  OXIDE_ASSIGN_OR_RETURN(Json f, ctx.client.Get<Json>("/api/v1/fleets/" + PathEscape(id)));
  OXIDE_ASSIGN_OR_RETURN(Json st,
                         ctx.client.Get<Json>("/api/v1/fleets/" + PathEscape(id) + "/status"));
  if (ctx.console.json) {
    PrintJson(ctx.console, Json{{"fleet", f}, {"status", st}});
    return Status::Ok();
  }
  std::string out = "id:           " + Str(f, "id") + "\nname:         " + Str(f, "name") +
                    "\ndescription:  " + Str(f, "description") + "\ntags:         " + Tags(f) +
                    "\ncreated:      " + ShortTime(Str(f, "created_at")) +
                    "\ndevices:      " + std::to_string(U64(st, "total_devices")) + " (" +
                    std::to_string(U64(st, "online")) + " online, " +
                    std::to_string(U64(st, "offline")) + " offline, " +
                    std::to_string(U64(st, "unknown")) + " never seen)\n";
  if (st.contains("devices") && st["devices"].is_array() && !st["devices"].empty()) {
    Table t({"DEVICE", "STATUS", "MODEL"});
    for (const Json& d : st["devices"]) {
      std::string m = Str(d, "current_model");
      t.AddRow({Str(d, "id"), Str(d, "status"),
                m == "-" ? m : m + " " + Str(d, "current_model_version")});
    }
    out += "\n" + t.Render();
  }
  Print(ctx.console, out);
  return Status::Ok();
}

Status Members(const AdminArgs& a, bool add, AdminContext& ctx) {
  for (const std::string& device : a.ids) {
    std::string path = "/api/v1/fleets/" + PathEscape(a.id) + "/devices/" + PathEscape(device);
    OXIDE_ASSIGN_OR_RETURN(
        Json r, add ? ctx.client.Post(path, Json::object()) : ctx.client.Delete<Json>(path));
    if (ctx.console.json) {
      PrintJson(ctx.console, r);
    } else {
      Print(ctx.console, "fleet " + a.id + ": " + (add ? "added " : "removed ") + device + "\n");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<int> RunFleetCommand(const AdminArgs& a, AdminContext& ctx) {
  switch (a.command) {
    case AdminCommand::kFleetCreate:
      OXIDE_RETURN_IF_ERROR(Create(a, ctx));
      break;
    case AdminCommand::kFleetList:
      OXIDE_RETURN_IF_ERROR(List(ctx));
      break;
    case AdminCommand::kFleetShow:
      OXIDE_RETURN_IF_ERROR(Show(a.id, ctx));
      break;
    case AdminCommand::kFleetAdd:
      OXIDE_RETURN_IF_ERROR(Members(a, true, ctx));
      break;
    case AdminCommand::kFleetRemove:
      OXIDE_RETURN_IF_ERROR(Members(a, false, ctx));
      break;
    default:
      return Internal("not a fleet command");
  }
  return 0;
}

}  // namespace oxide::cli::admin
