#pragma once

#include <string>
#include <vector>

namespace oxide::cli {

// Runs the offline subcommands (diff, patch, inspect, delta-bench). args[0] is the program name.
// Returns the process exit code; errors print one readable line to stderr.
int Main(const std::vector<std::string>& args);

}  // namespace oxide::cli
