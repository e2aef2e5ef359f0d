#pragma once

#include <string>
#include <utility>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "cli/admin/admin_args.hpp"
#include "cli/admin/admin_client.hpp"
#include "cli/admin/terminal_text.hpp"

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
// "KEY=VALUE" split at the first '=' (kInvalidArgument naming `flag` without one, or no key).
Result<std::pair<std::string, std::string>> KeyValue(const std::string& kv, const char* flag);
Result<int> PushModel(const AdminArgs& args, AdminContext& ctx);
// The JSON body of POST /api/v1/campaigns for a spec (kInvalidArgument for a bad k=v, a bad
// strategy or no devices named).
Result<std::string> CampaignBody(const CampaignSpec& spec);
Result<int> CreateCampaign(const CampaignSpec& spec, AdminContext& ctx, std::string* id);
// `campaign show`: settings, counts, bandwidth, first failure and the devices.
Status ShowCampaign(const std::string& id, AdminContext& ctx);
// Follows a campaign until it ends; returns 0 or a kExitCampaign* code.
Result<int> WatchCampaign(const std::string& id, AdminContext& ctx);
// The exit code for a campaign's state, or -1 while it is still running (rolling_out, paused,
// awaiting_approval, or a state this CLI does not know).
int ExitCodeForCampaignState(const std::string& state);

// Output helpers, templates over the JSON type (nlohmann::json in the .cpp files) so that this
// header needs no JSON library.
// A field as text: "-" when absent, null or ""; numbers and booleans ("yes"/"no") printed.
// Strings go through TerminalSafe: every renderer shows them on a terminal.
template <class Json>
std::string Str(const Json& j, const char* key) {
  if (!j.is_object()) return "-";
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  if (it->is_string()) {
    const auto& s = it->template get_ref<const std::string&>();
    return s.empty() ? "-" : TerminalSafe(s);
  }
  if (it->is_boolean()) return it->template get<bool>() ? "yes" : "no";
  return it->dump();
}
// A count: 0 when absent, negative or not a number.
template <class Json>
uint64_t U64(const Json& j, const char* key) {
  if (!j.is_object()) return 0;
  auto it = j.find(key);
  if (it == j.end()) return 0;
  if (it->is_number_unsigned()) return it->template get<uint64_t>();
  if (it->is_number_integer() && it->template get<int64_t>() > 0) {
    return static_cast<uint64_t>(it->template get<int64_t>());
  }
  return 0;
}
// To out, through TerminalSafeLines (the net under the values that went through Str()).
void Print(const Console& c, const std::string& text);
void PrintRaw(const Console& c, const std::string& text);  // to out, as is
// --json: the server's JSON, indented, one newline (JSON escapes its control characters).
template <class Json>
void PrintJson(const Console& c, const Json& j) {
  PrintRaw(c, j.dump(2) + "\n");
}

}  // namespace oxide::cli::admin
