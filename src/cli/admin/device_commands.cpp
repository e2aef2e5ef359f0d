// `oxide device list|show|accept|reject|remove|tag`.
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "cli/admin/admin_commands.hpp"
#include "cli/admin/table.hpp"

namespace oxide::cli::admin {
namespace {

using Json = nlohmann::json;

std::string Model(const Json& d) {
  std::string m = Str(d, "current_model");
  return m == "-" ? m : m + " " + Str(d, "current_model_version");
}

std::string LastResult(const Json& d) {
  auto it = d.find("last_update_result");
  if (it == d.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("failed")) return "failed: " + Str((*it)["failed"], "error");
  return it->dump();
}

// Every device, page by page (`?limit=&after=`, docs/api.md). A server that does not page
// answers the whole list at once; ids only ever grow, so a page is never taken twice.
Result<Json> AllDevices(AdminContext& ctx) {
  constexpr size_t kPage = 1000;
  Json all = Json::array();
  std::string after;
  for (;;) {
    std::string path = "/api/v1/devices?limit=" + std::to_string(kPage);
    if (!after.empty()) path += "&after=" + PathEscape(after);
    OXIDE_ASSIGN_OR_RETURN(Json page, ctx.client.Get<Json>(path));
    if (!page.is_array()) return Corrupt("device list: not an array");
    bool progressed = false;
    for (Json& d : page) {
      if (!after.empty() && Str(d, "id") <= after) continue;
      all.push_back(std::move(d));
      progressed = true;
    }
    if (page.size() < kPage || !progressed) return all;
    after = Str(all.back(), "id");
  }
}

// {"k":"v",...} as "k=v, k2=v2" (keys sorted), "-" when empty or absent.
std::string Pairs(const Json& d, const char* key) {
  auto it = d.find(key);
  if (it == d.end() || !it->is_object() || it->empty()) return "-";
  std::string out;
  for (const auto& [k, v] : it->items()) {
    out += (out.empty() ? "" : ", ") + TerminalSafe(k) + "=" +
           TerminalSafe(v.is_string() ? v.get<std::string>() : v.dump());
  }
  return out;
}

// What the device last said about itself (heartbeat `inventory`): "linux Debian 12 aarch64,
// agent oxide-agent/0.1, 12.0 GiB free". "-" when it never sent one.
std::string Inventory(const Json& d) {
  auto it = d.find("inventory");
  if (it == d.end() || !it->is_object() || it->empty()) return "-";
  const Json& inv = *it;
  std::string os;
  for (const char* k : {"os", "os_version", "arch"}) {
    if (Str(inv, k) != "-") os += (os.empty() ? "" : " ") + Str(inv, k);
  }
  std::string out = os.empty() ? "-" : os;
  if (Str(inv, "agent_version") != "-") out += ", agent " + Str(inv, "agent_version");
  auto disk = inv.find("free_disk_bytes");
  if (disk != inv.end() && disk->is_number())
    out += ", " + HumanSize(U64(inv, "free_disk_bytes")) + " free";
  return out;
}

Status List(AdminContext& ctx) {
  OXIDE_ASSIGN_OR_RETURN(Json devices, AllDevices(ctx));
  if (ctx.console.json) {
    PrintJson(ctx.console, devices);
    return Status::Ok();
  }
  Table t({"ID", "STATUS", "AUTH", "MODEL", "ASSIGNED", "LAST SEEN"});
  for (const Json& d : devices) {
    std::string assigned = Str(d, "assigned_model");
    if (assigned != "-") assigned += " " + Str(d, "assigned_model_version");
    t.AddRow({Str(d, "id"), Str(d, "status"), Str(d, "auth_state"), Model(d), assigned,
              ShortTime(Str(d, "last_heartbeat"))});
  }
  Print(ctx.console, t.Render());
  return Status::Ok();
}

Status Show(const std::string& id, AdminContext& ctx) {
  OXIDE_ASSIGN_OR_RETURN(Json d, ctx.client.Get<Json>("/api/v1/devices/" + PathEscape(id)));
  if (ctx.console.json) {
    PrintJson(ctx.console, d);
    return Status::Ok();
  }
  std::string platform = "-";
  if (d.contains("platform") && d["platform"].is_object()) {
    platform = Str(d["platform"], "os") + "/" + Str(d["platform"], "arch");
  }
  std::string fleets;
  if (d.contains("fleets") && d["fleets"].is_array()) {
    for (const Json& f : d["fleets"]) {
      fleets += (fleets.empty() ? "" : ", ") +
                TerminalSafe(f.is_string() ? f.get<std::string>() : f.dump());
    }
  }
  std::string out;
  auto row = [&](const char* k, const std::string& v) { out += std::string(k) + v + "\n"; };
  row("id:           ", Str(d, "id"));
  row("name:         ", Str(d, "name"));
  row("status:       ", Str(d, "status") + " (agent says " + Str(d, "reported_status") + ")");
  row("auth:         ", Str(d, "auth_state") + ", credential " + Str(d, "credential_fingerprint"));
  row("fleets:       ", fleets.empty() ? "-" : fleets);
  row("platform:     ", platform + ", agent " + Str(d, "agent_version"));
  row("inventory:    ", Inventory(d));
  if (d.contains("inventory") && d["inventory"].is_object()) {
    row("attributes:   ", Pairs(d["inventory"], "attributes"));
  } else {
    row("attributes:   ", "-");
  }
  row("tags:         ", Pairs(d, "tags"));
  row("model:        ", Model(d));
  std::string assigned = Str(d, "assigned_model");
  row("assigned:     ", assigned == "-" ? "-" : assigned + " " + Str(d, "assigned_model_version"));
  row("last seen:    ", ShortTime(Str(d, "last_heartbeat")));
  row("last result:  ", LastResult(d));
  row("served:       ", HumanSize(U64(d, "bytes_served")) + " (full files " +
                            HumanSize(U64(d, "bytes_full_equivalent")) + ")");
  if (d.contains("history") && d["history"].is_array() && !d["history"].empty()) {
    Table h({"AT", "VERSION", "OUTCOME", "STAGE", "ERROR"});
    for (const Json& a : d["history"]) {
      h.AddRow({ShortTime(Str(a, "at")), Str(a, "model_id") + " " + Str(a, "version"),
                Str(a, "outcome"), Str(a, "stage"), Str(a, "error")});
    }
    out += "\nhistory (newest first):\n" + h.Render();
  }
  Print(ctx.console, out);
  return Status::Ok();
}

Status Act(const std::string& id, const char* verb, AdminContext& ctx) {
  OXIDE_ASSIGN_OR_RETURN(
      Json r, ctx.client.Post("/api/v1/devices/" + PathEscape(id) + "/" + verb, Json::object()));
  if (ctx.console.json) {
    PrintJson(ctx.console, r);
    return Status::Ok();
  }
  Print(ctx.console, "device " + id + ": " + Str(r, "status") + "\n");
  return Status::Ok();
}

// PUT /api/v1/devices/:id/tags replaces every tag, so the tags kept are read first (a change
// made by someone else between the read and the write is lost; --clear does not read).
Status Tag(const AdminArgs& a, AdminContext& ctx) {
  if (a.set_tags.empty() && a.remove_tags.empty() && !a.clear_tags) {
    return InvalidArgument("device tag: nothing to change (KEY=VALUE, --remove KEY or --clear)");
  }
  std::vector<std::pair<std::string, std::string>> set;
  for (const std::string& kv : a.set_tags) {
    OXIDE_ASSIGN_OR_RETURN(auto p, KeyValue(kv, "device tag"));
    set.push_back(std::move(p));
  }
  const std::string path = "/api/v1/devices/" + PathEscape(a.id);
  Json tags = Json::object();
  if (!a.clear_tags) {
    OXIDE_ASSIGN_OR_RETURN(Json d, ctx.client.Get<Json>(path));
    if (d.contains("tags") && d["tags"].is_object()) tags = d["tags"];
  }
  for (const std::string& k : a.remove_tags) tags.erase(k);
  for (const auto& [k, v] : set) tags[k] = v;
  OXIDE_ASSIGN_OR_RETURN(Json r, ctx.client.Put(path + "/tags", tags));
  if (ctx.console.json) {
    PrintJson(ctx.console, r);
    return Status::Ok();
  }
  std::string tags_now = Pairs(r, "tags");
  Print(ctx.console,
        "device " + a.id + ": " + (tags_now == "-" ? "no tags" : "tags " + tags_now) + "\n");
  return Status::Ok();
}

}  // namespace

Result<int> RunDeviceCommand(const AdminArgs& a, AdminContext& ctx) {
  switch (a.command) {
    case AdminCommand::kDeviceList:
      OXIDE_RETURN_IF_ERROR(List(ctx));
      break;
    case AdminCommand::kDeviceShow:
      OXIDE_RETURN_IF_ERROR(Show(a.id, ctx));
      break;
    case AdminCommand::kDeviceAccept:
      OXIDE_RETURN_IF_ERROR(Act(a.id, "accept", ctx));
      break;
    case AdminCommand::kDeviceReject:
      OXIDE_RETURN_IF_ERROR(Act(a.id, "reject", ctx));
      break;
    case AdminCommand::kDeviceTag:
      OXIDE_RETURN_IF_ERROR(Tag(a, ctx));
      break;
    case AdminCommand::kDeviceRemove: {
      OXIDE_ASSIGN_OR_RETURN(Json r,
                             ctx.client.Delete<Json>("/api/v1/devices/" + PathEscape(a.id)));
      if (ctx.console.json) {
        PrintJson(ctx.console, r);
      } else {
        Print(ctx.console, "device " + a.id + ": removed\n");
      }
      break;
    }
    default:
      return Internal("not a device command");
  }
  return 0;
}

}  // namespace oxide::cli::admin
