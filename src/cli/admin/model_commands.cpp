// `oxide model push|list|show|golden`.
#include <nlohmann/json.hpp>

#include "cli/admin/admin_commands.hpp"
#include "cli/admin/patch_wait.hpp"
#include "cli/admin/table.hpp"
#include "protocol/patch_versions.hpp"

namespace oxide::cli::admin {
namespace {

using Json = nlohmann::json;

// A progress bar redrawn in place on stderr, at most 10 times a second; only on a terminal.
class ProgressBar {
 public:
  ProgressBar(const Console& c, Clock& clock) : console_(c), clock_(clock) {}
  void Update(uint64_t sent, uint64_t total) {
    if (!console_.err_is_tty || total == 0) return;
    auto now = clock_.Now();
    if (sent < total && drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    drawn_ = true;
    constexpr int kWidth = 30;
    int filled = static_cast<int>(kWidth * sent / total);
    std::fprintf(console_.err, "\r[%s%s] %3d%% %s / %s", std::string(filled, '#').c_str(),
                 std::string(kWidth - filled, ' ').c_str(), static_cast<int>(100 * sent / total),
                 HumanSize(sent).c_str(), HumanSize(total).c_str());
    std::fflush(console_.err);
  }
  void Done() {
    if (drawn_) std::fprintf(console_.err, "\n");
  }

 private:
  const Console& console_;
  Clock& clock_;
  Clock::Duration last_{};
  bool drawn_ = false;
};

std::string PatchTable(const Json& meta) {
  uint64_t full = U64(meta, "size_bytes");
  Table t({"FROM", "STATE", "STRATEGY", "SIZE", "SAVED"});
  t.AlignRight(3);
  t.AlignRight(4);
  for (const Json& p : meta["patches"]) {
    bool ready = Str(p, "state") == "ready";
    std::string from = Str(p, "base_version");
    if (Str(p, "base_sha256") == protocol::kEmptySha256) {
      from = "(empty)";  // the first-install patch: the model compressed on its own
    } else if (from == "-") {
      from = Str(p, "base_sha256").substr(0, 12);
    }
    t.AddRow({from, Str(p, "state"), Str(p, "strategy"),
              ready ? HumanSize(U64(p, "size_bytes")) : "-",
              ready ? SavedPercent(U64(p, "size_bytes"), full) : "-"});
  }
  return t.Render();
}

Status List(AdminContext& ctx) {
  OXIDE_ASSIGN_OR_RETURN(Json j, ctx.client.Get<Json>("/api/v1/models"));
  if (ctx.console.json) {
    PrintJson(ctx.console, j);
    return Status::Ok();
  }
  Table t({"MODEL", "VERSIONS", "LATEST"});
  t.AlignRight(1);
  for (const Json& m : j.value("models", Json::array())) {
    t.AddRow({Str(m, "model_id"), Str(m, "version_count"), Str(m, "latest_version")});
  }
  Print(ctx.console, t.Render());
  return Status::Ok();
}

Status Show(const std::string& id, AdminContext& ctx) {
  OXIDE_ASSIGN_OR_RETURN(Json j, ctx.client.Get<Json>("/api/v1/models/" + PathEscape(id)));
  if (ctx.console.json) {
    PrintJson(ctx.console, j);
    return Status::Ok();
  }
  Table t({"VERSION", "SIZE", "FORMAT", "SHA256", "UPLOADED", "GOLDEN"});
  t.AlignRight(1);
  for (const Json& v : j.value("versions", Json::array())) {
    const bool golden = v.contains("golden") && v["golden"].is_object();
    t.AddRow({Str(v, "version"), HumanSize(U64(v, "size_bytes")), Str(v, "format"),
              Str(v, "sha256").substr(0, 16), ShortTime(Str(v, "uploaded_at")),
              golden ? "yes" : "-"});
  }
  Print(ctx.console, "model " + id + "\n" + t.Render());
  return Status::Ok();
}

// `oxide model golden MODEL VERSION FILE` / `--remove`.
Result<int> Golden(const AdminArgs& a, AdminContext& ctx) {
  const std::string path =
      "/api/v1/models/" + PathEscape(a.model) + "/versions/" + PathEscape(a.version) + "/golden";
  if (a.remove == !a.file.empty()) {
    return InvalidArgument("model golden: give either FILE or --remove");
  }
  if (a.remove) {
    OXIDE_ASSIGN_OR_RETURN(Json j, ctx.client.Delete<Json>(path));
    if (ctx.console.json) {
      PrintJson(ctx.console, j);
    } else {
      Print(ctx.console, "removed the golden file of " + a.model + " " + a.version + "\n");
    }
    return 0;
  }
  OXIDE_ASSIGN_OR_RETURN(Json g, AdminClient::Parse<Json>(ctx.client.PutFileBody(path, a.file)));
  if (ctx.console.json) {
    PrintJson(ctx.console, g);
    return 0;
  }
  std::string out =
      "golden file of " + a.model + " " + a.version + ": " + HumanSize(U64(g, "size_bytes")) +
      ", sha256 " + Str(g, "sha256").substr(0, 16) + ", tolerance " + Str(g, "tolerance") +
      ", latency budget " +
      (g.value("latency_budget_ms", Json()).is_null() ? std::string("none")
                                                      : Str(g, "latency_budget_ms") + " ms") +
      "\n";
  Print(ctx.console, out);
  return 0;
}

}  // namespace

Result<int> PushModel(const AdminArgs& a, AdminContext& ctx) {
  std::string version_path =
      "/api/v1/models/" + PathEscape(a.model) + "/versions/" + PathEscape(a.version);
  ProgressBar bar(ctx.console, ctx.clock);
  Result<Json> up = AdminClient::Parse<Json>(ctx.client.PostFileBody(
      version_path, a.file, [&](uint64_t sent, uint64_t total) { bar.Update(sent, total); }));
  bar.Done();
  OXIDE_RETURN_IF_ERROR(up.status());
  OXIDE_ASSIGN_OR_RETURN(Json meta, ctx.client.Get<Json>(version_path + "/meta"));
  // Patches from earlier versions are queued by the upload itself and built in the background.
  bool waited_out = false;
  if (!a.no_wait) {
    OXIDE_ASSIGN_OR_RETURN(waited_out, WaitForPatches(a, ctx, meta));
  }
  if (ctx.console.json) {
    meta.erase("tensors");  // the manifest can be huge; `GET .../meta` has it
    PrintJson(ctx.console, meta);
    return 0;
  }
  std::string out = "uploaded " + a.model + " " + a.version + ": " +
                    HumanSize(U64(meta, "size_bytes")) + ", sha256 " +
                    Str(meta, "sha256").substr(0, 16) + "\n";
  out += "format: " + Str(meta, "format") + ", " + Str(meta, "tensor_count") + " tensors\n";
  if (!meta.contains("patches") || !meta["patches"].is_array() || meta["patches"].empty()) {
    out += "patches: none (no earlier version)\n";
  } else {
    out += "patches:\n" + PatchTable(meta);
  }
  Print(ctx.console, out);
  if (waited_out) {
    std::fprintf(ctx.console.err,
                 "oxide: patches still building after %d s (see 'oxide model show')\n",
                 a.wait_seconds);
  }
  return 0;
}

Result<int> RunModelCommand(const AdminArgs& a, AdminContext& ctx) {
  switch (a.command) {
    case AdminCommand::kModelPush:
      return PushModel(a, ctx);
    case AdminCommand::kModelList:
      OXIDE_RETURN_IF_ERROR(List(ctx));
      return 0;
    case AdminCommand::kModelShow:
      OXIDE_RETURN_IF_ERROR(Show(a.id, ctx));
      return 0;
    case AdminCommand::kModelGolden:
      return Golden(a, ctx);
    default:
      return Internal("not a model command");
  }
}

}  // namespace oxide::cli::admin
