#pragma once

#include <functional>
#include <string>
#include <vector>

namespace oxide::cli {

// A subcommand whose code lives outside this library (`oxide serve`, `oxide agent`). It is
// listed in `--help` and, when chosen, gets the whole argument vector (args[1] is its name,
// `--help` included for `oxide help NAME`) and returns the exit code.
struct ExternalCommand {
  std::string name;
  std::string description;
  std::function<int(const std::vector<std::string>&)> main;
};

// Runs the offline subcommands (diff, patch, inspect, delta-bench), `help [COMMAND]`, and the
// external ones. args[0] is the program name (its basename names the program in help and
// errors). Returns the process exit code (base/exit_code.hpp): usage errors 2, never CLI11's
// own codes; errors print one readable line to stderr.
int Main(const std::vector<std::string>& args, const std::vector<ExternalCommand>& external = {});

}  // namespace oxide::cli
