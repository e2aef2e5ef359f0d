#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "cli/admin/admin_args.hpp"
#include "cli/admin/admin_client.hpp"

namespace oxide::cli::admin {

// What every admin command runs against. All references outlive the call.
struct AdminContext {
  AdminClient& client;
  Console console;
  Clock& clock;
};

// Exit codes of `campaign watch` (and `deploy --watch`) for a campaign that ended badly; 0 for
// `completed`. Distinct from the error exit codes (1-8, base/exit_code.hpp) so a script can tell
// "the rollout failed" from "the command failed". docs/cli.md lists them.
inline constexpr int kExitCampaignCompletedWithFailures = 10;
inline constexpr int kExitCampaignFailed = 11;
inline constexpr int kExitCampaignHalted = 12;
inline constexpr int kExitCampaignAborted = 13;

// Runs one admin command; the result is the exit code (0, or one of the campaign codes above).
// Errors are returned (the caller prints "oxide: <message>" and maps the code).
Result<int> RunAdminCommand(const AdminArgs& args, AdminContext& ctx);

// One file per resource (device_commands.cpp, fleet_commands.cpp, ...).
Result<int> RunDeviceCommand(const AdminArgs& args, AdminContext& ctx);
Result<int> RunFleetCommand(const AdminArgs& args, AdminContext& ctx);
Result<int> RunModelCommand(const AdminArgs& args, AdminContext& ctx);
Result<int> RunCampaignCommand(const AdminArgs& args, AdminContext& ctx);
Result<int> RunTokenCommand(const AdminArgs& args, AdminContext& ctx);
Result<int> RunDeploy(const AdminArgs& args, AdminContext& ctx);

// Pieces shared by push/deploy and create/deploy/watch.
Result<int> PushModel(const AdminArgs& args, AdminContext& ctx);
// The body of POST /api/v1/campaigns for a spec (kInvalidArgument for a bad k=v or strategy).
Result<nlohmann::json> CampaignBody(const CampaignSpec& spec);
Result<int> CreateCampaign(const CampaignSpec& spec, AdminContext& ctx, std::string* id);
// Follows a campaign until it ends; returns 0 or a kExitCampaign* code.
Result<int> WatchCampaign(const std::string& id, AdminContext& ctx);
// The exit code for a campaign's state, or -1 while it is still running (rolling_out, paused,
// awaiting_approval, or a state this CLI does not know).
int ExitCodeForCampaignState(const std::string& state);

// Output helpers (admin_output.cpp).
std::string Str(const nlohmann::json& j, const char* key);  // "-" when absent or null
uint64_t U64(const nlohmann::json& j, const char* key);     // 0 when absent or not a number
void Print(const Console& c, const std::string& text);      // to out, as is
void PrintJson(const Console& c, const nlohmann::json& j);  // indented, one newline

}  // namespace oxide::cli::admin
