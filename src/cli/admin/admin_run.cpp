#include "cli/admin/admin_run.hpp"

#include <unistd.h>

#include <cstdlib>

#include "base/exit_code.hpp"
#include "base/file_util.hpp"
#include "cli/admin/admin_commands.hpp"
#include "cli/admin/terminal_text.hpp"
#include "http_client/curl_transport.hpp"

namespace oxide::cli::admin {

Result<int> RunAdminCommand(const AdminArgs& a, AdminContext& ctx) {
  switch (a.command) {
    case AdminCommand::kDeviceList:
    case AdminCommand::kDeviceShow:
    case AdminCommand::kDeviceAccept:
    case AdminCommand::kDeviceReject:
    case AdminCommand::kDeviceRemove:
    case AdminCommand::kDeviceTag:
      return RunDeviceCommand(a, ctx);
    case AdminCommand::kFleetCreate:
    case AdminCommand::kFleetList:
    case AdminCommand::kFleetShow:
    case AdminCommand::kFleetAdd:
    case AdminCommand::kFleetRemove:
      return RunFleetCommand(a, ctx);
    case AdminCommand::kModelPush:
    case AdminCommand::kModelList:
    case AdminCommand::kModelShow:
    case AdminCommand::kModelGolden:
      return RunModelCommand(a, ctx);
    case AdminCommand::kCampaignCreate:
    case AdminCommand::kCampaignList:
    case AdminCommand::kCampaignShow:
    case AdminCommand::kCampaignWatch:
    case AdminCommand::kCampaignPause:
    case AdminCommand::kCampaignResume:
    case AdminCommand::kCampaignAbort:
    case AdminCommand::kCampaignApprove:
      return RunCampaignCommand(a, ctx);
    case AdminCommand::kDeploy:
      return RunDeploy(a, ctx);
    case AdminCommand::kTokenCreate:
    case AdminCommand::kTokenList:
    case AdminCommand::kTokenRevoke:
      return RunTokenCommand(a, ctx);
  }
  return Internal("unknown admin command");
}

int RunAdmin(const AdminArgs& args, const std::map<std::string, std::string>& config_file,
             const std::string& program) {
  auto env = [](const char* name) {
    const char* v = std::getenv(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  auto read = [](const std::string& path) { return ReadFileToString(path, 4096); };
  Result<AdminConfig> config = ResolveAdminConfig(args.flags, config_file, env, read);
  Result<int> code = config.status();
  if (config.ok()) {
    CurlGlobal curl_global;
    CurlOptions options;
    options.ca_file = config->ca_file;
    CurlTransport curl(options, nullptr);
    SystemClock clock;
    AdminClient client(*config, curl, curl, curl);
    Console console;
    console.out_is_tty = ::isatty(STDOUT_FILENO) == 1;
    console.err_is_tty = ::isatty(STDERR_FILENO) == 1;
    console.json = args.flags.json;
    AdminContext ctx{client, console, clock};
    code = RunAdminCommand(args, ctx);
  }
  if (!code.ok()) {
    // One line: for a refused call "oxide: 403: <the server's message>".
    std::fprintf(stderr, "%s: %s\n", program.c_str(),
                 TerminalSafe(code.status().message()).c_str());
    return ExitCodeFor(code.status().code());
  }
  return *code;
}

}  // namespace oxide::cli::admin
