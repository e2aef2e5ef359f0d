#pragma once

#include <string>
#include <vector>

namespace oxide::agent {

// `oxide agent ...`: args[0] is the program, args[1] == "agent". Returns the exit code.
int AgentMain(const std::vector<std::string>& args);

}  // namespace oxide::agent
