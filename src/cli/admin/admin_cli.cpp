// CLI11 wiring of the admin commands (the commands themselves know nothing of CLI11).
#include "cli/admin/admin_cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <tuple>
#include <vector>

#include "base/exit_code.hpp"
#include "cli/admin/admin_args.hpp"
#include "cli/admin/admin_run.hpp"

namespace oxide::cli::admin {
namespace {

// The config file: --config FILE, else $OXIDE_CONFIG, else ~/.config/oxide/cli.toml when it
// exists. Read with CLI11's TOML reader; only the keys below are allowed (a typo is an error,
// not a silently ignored setting).
std::string ReadConfig(const std::string& flag, std::map<std::string, std::string>* out) {
  std::string path = flag;
  if (path.empty()) {
    const char* env = std::getenv("OXIDE_CONFIG");
    if (env != nullptr && *env != '\0') path = env;
  }
  if (path.empty()) {
    const char* home = std::getenv("HOME");
    if (home == nullptr) return "";
    path = std::string(home) + "/.config/oxide/cli.toml";
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return "";
  }
  std::vector<CLI::ConfigItem> items;
  try {
    items = CLI::ConfigTOML().from_file(path);
  } catch (const CLI::Error& e) {
    return path + ": " + e.what();
  }
  for (const CLI::ConfigItem& item : items) {
    std::string key = item.fullname();
    if (key != "server" && key != "token_file" && key != "ca_file") {
      return path + ": unknown key '" + key + "' (known: server, token_file, ca_file)";
    }
    (*out)[key] = item.inputs.empty() ? std::string() : item.inputs.front();
  }
  return "";
}

}  // namespace

struct AdminCli::Impl {
  AdminArgs args;
  std::map<CLI::App*, AdminCommand> leaves;
  std::vector<CLI::App*> groups;

  void Globals(CLI::App* group) {
    group->fallthrough();
    group->require_subcommand(group->get_subcommands({}).empty() ? 0 : 1);
    group->add_option("--server", args.flags.server,
                      "Control plane URL, e.g. http://127.0.0.1:8080 (default: $OXIDE_SERVER, "
                      "then the config file)");
    group->add_option("--token-file", args.flags.token_file,
                      "File holding an operator token, e.g. <data-dir>/admin.token (default: "
                      "$OXIDE_TOKEN, the token itself, then the config file)");
    group->add_option("--ca-file", args.flags.ca_file, "PEM CA bundle to verify an HTTPS server");
    group->add_option("--config", args.flags.config,
                      "Config file (default: $OXIDE_CONFIG, else ~/.config/oxide/cli.toml)");
    group->add_flag("--json", args.flags.json, "Print the server's JSON instead of a table");
    groups.push_back(group);
  }
  CLI::App* Leaf(CLI::App* parent, const char* name, const char* help, AdminCommand command) {
    CLI::App* leaf = parent->add_subcommand(name, help);
    leaf->fallthrough();  // the group's --server, --json, … after the leaf's own arguments
    leaves[leaf] = command;
    return leaf;
  }
  void Id(CLI::App* leaf, const char* what) { leaf->add_option("id", args.id, what)->required(); }
  void CampaignOptions(CLI::App* c, bool with_model) {
    CampaignSpec& s = args.campaign;
    if (with_model) {
      c->add_option("--model", s.model, "Model id")->required();
      c->add_option("--version", s.version, "Model version to roll out")->required();
    }
    c->add_option("--fleet", s.fleet, "Fleet to update (with --tag/--attr: its matching members)");
    c->add_option("--strategy", s.strategy, "all-at-once (default), canary or rolling")
        ->check(CLI::IsMember({"all-at-once", "all_at_once", "canary", "rolling"}));
    c->add_option("--canary-percent", s.canary_percent, "Canary wave size in % (default 10)")
        ->check(CLI::Range(1, 100));
    c->add_option("--batch-size", s.batch_size, "Rolling batch size (default 5)")
        ->check(CLI::PositiveNumber);
    c->add_option("--failure-threshold-count", s.failure_threshold_count,
                  "Halt after this many failed devices (0 = off)")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--failure-threshold-percent", s.failure_threshold_percent,
                  "Halt after this % of devices failed (0 = off)")
        ->check(CLI::Range(0, 100));
    c->add_option("--tag", s.tags, "Only devices with this tag, KEY=VALUE (repeatable)");
    c->add_option("--attr", s.attrs, "Only devices with this inventory attribute, KEY=VALUE");
    c->add_flag("--require-approval", s.require_approval,
                "Canary: wait for 'campaign approve' after the canary wave");
    c->add_flag("--allow-signature-change", s.allow_signature_change,
                "Roll out a version whose graph inputs/outputs changed");
  }
};

AdminCli::AdminCli(CLI::App* app) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  AdminArgs& a = m.args;

  auto* dev = app->add_subcommand("device", "List, inspect, accept, reject, remove or tag devices");
  m.Id(m.Leaf(dev, "show", "Show one device: state, model, platform, failure history",
              AdminCommand::kDeviceShow),
       "Device id");
  m.Leaf(dev, "list", "List devices with their state and model", AdminCommand::kDeviceList);
  m.Id(m.Leaf(dev, "accept", "Accept a pending device (check its credential fingerprint first)",
              AdminCommand::kDeviceAccept),
       "Device id");
  m.Id(m.Leaf(dev, "reject", "Reject a device: its calls are refused", AdminCommand::kDeviceReject),
       "Device id");
  m.Id(m.Leaf(dev, "remove", "Delete a device (withdrawn from its campaigns)",
              AdminCommand::kDeviceRemove),
       "Device id");
  auto* tag = m.Leaf(dev, "tag",
                     "Set a device's tags: KEY=VALUE pairs are added to (or replace the value in) "
                     "its tags; the others stay unless --clear",
                     AdminCommand::kDeviceTag);
  m.Id(tag, "Device id");
  tag->add_option("tags", a.set_tags, "KEY=VALUE (repeatable)");
  tag->add_option("--remove", a.remove_tags, "Remove the tag KEY (repeatable)");
  tag->add_flag("--clear", a.clear_tags,
                "Start from no tags: the device keeps only the KEY=VALUE given (none: no tags)");

  auto* fleet = app->add_subcommand("fleet", "Create fleets and manage their members");
  auto* fc = m.Leaf(fleet, "create", "Create a fleet", AdminCommand::kFleetCreate);
  m.Id(fc, "Fleet id");
  fc->add_option("--name", a.name, "Display name (default: the id)");
  fc->add_option("--description", a.description, "Free text");
  m.Leaf(fleet, "list", "List fleets", AdminCommand::kFleetList);
  m.Id(m.Leaf(fleet, "show", "Show a fleet and its devices", AdminCommand::kFleetShow), "Fleet id");
  for (auto [name, help, cmd] :
       {std::tuple{"add", "Add devices to a fleet", AdminCommand::kFleetAdd},
        std::tuple{"remove", "Remove devices from a fleet", AdminCommand::kFleetRemove}}) {
    auto* leaf = m.Leaf(fleet, name, help, cmd);
    m.Id(leaf, "Fleet id");
    leaf->add_option("devices", a.ids, "Device ids")->required();
  }

  auto* model = app->add_subcommand("model", "Upload models and list their versions and patches");
  auto* push = m.Leaf(model, "push",
                      "Upload FILE as a model version, then show its format and the patches "
                      "prepared from earlier versions",
                      AdminCommand::kModelPush);
  for (CLI::App* c : {push}) {
    c->add_option("file", a.file, "Model file (streamed, never loaded whole)")
        ->required()
        ->check(CLI::ExistingFile);
  }
  push->add_option("--model", a.model, "Model id")->required();
  push->add_option("--version", a.version, "Version label")->required();
  push->add_flag("--no-wait", a.no_wait, "Do not wait for the patches to be built");
  push->add_option("--wait", a.wait_seconds, "Longest wait for the patches, seconds (default 120)")
      ->check(CLI::NonNegativeNumber);
  m.Leaf(model, "list", "List models", AdminCommand::kModelList);
  m.Id(m.Leaf(model, "show", "List a model's versions", AdminCommand::kModelShow), "Model id");
  auto* golden = m.Leaf(model, "golden",
                        "Attach a golden check file (oxide run --golden) to a model version, or "
                        "--remove it; agents with --health-check builtin:inference run it",
                        AdminCommand::kModelGolden);
  golden->add_option("model", a.model, "Model id")->required();
  golden->add_option("version", a.version, "Version label")->required();
  golden->add_option("file", a.file, "Golden file (SafeTensors)")->check(CLI::ExistingFile);
  golden->add_flag("--remove", a.remove, "Remove the version's golden file");

  auto* camp = app->add_subcommand("campaign", "Create, follow and control rollouts");
  auto* cc = m.Leaf(camp, "create", "Roll a model version out to a fleet or tagged devices",
                    AdminCommand::kCampaignCreate);
  m.CampaignOptions(cc, true);
  m.Leaf(camp, "list", "List campaigns", AdminCommand::kCampaignList);
  m.Id(m.Leaf(camp, "show", "Show a campaign and its devices", AdminCommand::kCampaignShow),
       "Campaign id");
  m.Id(m.Leaf(camp, "watch",
              "Follow a campaign until it ends; exit 0 if completed, 10-13 if it ended badly",
              AdminCommand::kCampaignWatch),
       "Campaign id");
  m.Id(m.Leaf(camp, "pause", "Stop new assignments", AdminCommand::kCampaignPause), "Campaign id");
  m.Id(m.Leaf(camp, "resume", "Resume a paused campaign", AdminCommand::kCampaignResume),
       "Campaign id");
  m.Id(m.Leaf(camp, "abort", "Withdraw every assignment not yet completed",
              AdminCommand::kCampaignAbort),
       "Campaign id");
  m.Id(m.Leaf(camp, "approve", "Let a canary campaign awaiting approval go on",
              AdminCommand::kCampaignApprove),
       "Campaign id");

  auto* deploy = app->add_subcommand(
      "deploy", "Push FILE as a model version and start a campaign for it (one step)");
  m.leaves[deploy] = AdminCommand::kDeploy;
  deploy->add_option("file", a.file, "Model file")->required()->check(CLI::ExistingFile);
  deploy->add_option("--model", a.model, "Model id")->required();
  deploy->add_option("--version", a.version, "Version label")->required();
  deploy->add_flag("--no-wait", a.no_wait, "Do not wait for the patches before the campaign");
  deploy->add_option("--wait", a.wait_seconds, "Longest wait for the patches, seconds")
      ->check(CLI::NonNegativeNumber);
  deploy->add_flag("--watch", a.watch, "Follow the campaign until it ends (exit codes as watch)");
  m.CampaignOptions(deploy, false);

  auto* token = app->add_subcommand("token", "Create, list or revoke operator API tokens (admin)");
  auto* tc = m.Leaf(token, "create", "Create a token; prints it once on stdout",
                    AdminCommand::kTokenCreate);
  tc->add_option("--name", a.name, "What the token is for (shown in the audit log)")->required();
  tc->add_option("--role", a.role, "admin (everything) or viewer (GET only)")
      ->required()
      ->check(CLI::IsMember({"admin", "viewer"}));
  m.Leaf(token, "list", "List tokens (never their secrets)", AdminCommand::kTokenList);
  m.Id(m.Leaf(token, "revoke", "Revoke a token by id; refused at once", AdminCommand::kTokenRevoke),
       "Token id (from 'oxide token list')");

  for (CLI::App* group : {dev, fleet, model, camp, deploy, token}) m.Globals(group);
}

AdminCli::~AdminCli() = default;

std::optional<int> AdminCli::Run(CLI::App* chosen, const std::string& program) const {
  const Impl& m = *impl_;
  if (std::find(m.groups.begin(), m.groups.end(), chosen) == m.groups.end()) return std::nullopt;
  AdminArgs args = m.args;
  CLI::App* leaf = chosen;
  if (!chosen->get_subcommands().empty()) leaf = chosen->get_subcommands().front();
  auto it = m.leaves.find(leaf);
  if (it == m.leaves.end()) return kExitUsage;
  args.command = it->second;
  if (args.command == AdminCommand::kDeploy) {
    args.campaign.model = args.model;
    args.campaign.version = args.version;
  }
  std::map<std::string, std::string> config;
  std::string error = ReadConfig(args.flags.config, &config);
  if (!error.empty()) {
    std::fprintf(stderr, "%s: config: %s\n", program.c_str(), error.c_str());
    return kExitUsage;
  }
  return RunAdmin(args, config, program);
}

}  // namespace oxide::cli::admin
