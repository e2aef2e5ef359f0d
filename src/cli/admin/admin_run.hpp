#pragma once

#include <map>
#include <string>

#include "cli/admin/admin_args.hpp"

namespace oxide::cli::admin {

// Runs an admin command against the real server (libcurl, the system clock, stdout/stderr):
// resolves server and token (flags, environment, `config_file` keys), prints the result, and
// on error one line "<program>: <message>" on stderr. Returns the exit code: 0, a campaign
// code (admin_commands.hpp) or ExitCodeFor the error.
int RunAdmin(const AdminArgs& args, const std::map<std::string, std::string>& config_file,
             const std::string& program);

}  // namespace oxide::cli::admin
