// `oxide token create|list|revoke`: operator tokens (admin). The created token alone goes to
// stdout (T=$(oxide token create ...)); what it is goes to stderr.
#include <nlohmann/json.hpp>

#include "cli/admin/admin_commands.hpp"
#include "cli/admin/table.hpp"

namespace oxide::cli::admin {

Result<int> RunTokenCommand(const AdminArgs& a, AdminContext& ctx) {
  using Json = nlohmann::json;
  if (a.command == AdminCommand::kTokenCreate) {
    OXIDE_ASSIGN_OR_RETURN(
        Json j, ctx.client.Post("/api/v1/tokens", Json{{"name", a.name}, {"role", a.role}}));
    if (!j.contains("token") || !j["token"].is_string()) {
      return Corrupt("create token: unexpected reply");
    }
    if (ctx.console.json) {
      PrintJson(ctx.console, j);
      return 0;
    }
    std::fprintf(ctx.console.err, "created token %s (name %s, role %s); it is shown only once\n",
                 Str(j, "id").c_str(), Str(j, "name").c_str(), Str(j, "role").c_str());
    Print(ctx.console, j["token"].get<std::string>() + "\n");
    return 0;
  }
  if (a.command == AdminCommand::kTokenList) {
    OXIDE_ASSIGN_OR_RETURN(Json j, ctx.client.Get<Json>("/api/v1/tokens"));
    if (ctx.console.json) {
      PrintJson(ctx.console, j);
      return 0;
    }
    Table t({"ID", "NAME", "ROLE", "CREATED", "LAST USED", "REVOKED"});
    // Days are enough here, and keep the ids (needed by `revoke`) whole in 80 columns.
    auto day = [](const std::string& time) { return time.substr(0, 10); };
    for (const Json& tok : j) {
      t.AddRow({Str(tok, "id"), Str(tok, "name"), Str(tok, "role"), day(Str(tok, "created_at")),
                day(Str(tok, "last_used")), day(Str(tok, "revoked_at"))});
    }
    Print(ctx.console, t.Render());
    return 0;
  }
  OXIDE_ASSIGN_OR_RETURN(Json j, ctx.client.Delete<Json>("/api/v1/tokens/" + PathEscape(a.id)));
  if (ctx.console.json) {
    PrintJson(ctx.console, j);
    return 0;
  }
  Print(ctx.console, "revoked " + a.id + "\n");
  return 0;
}

}  // namespace oxide::cli::admin
